"""Downloads with a known checksum (pooch): nothing is kept unless it matches.

A file is fetched into a temporary folder beside its destination, checked, and
only then renamed into place, so an interrupted, truncated or corrupt download
never leaves a file that a later run would trust; run again and it starts over.

- `HELMHOLTZ_DOWNLOAD_MIRROR=URL` fetches every file by the same name from that
  base address instead of its official one (a cluster's proxy or a folder served
  over http); the checksums stay the same.
- `HELMHOLTZ_NO_SYSTEM_DATA=1` ignores data installed on the system (Debian
  packages), as on a machine without them: `system_file` then finds nothing.
"""
import errno
import gzip
import hashlib
import io
import lzma
import os
import re
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from helmholtz.data.cache import atomic_path
from helmholtz.errors import UsageError

MIRROR = "HELMHOLTZ_DOWNLOAD_MIRROR"
NO_SYSTEM_DATA = "HELMHOLTZ_NO_SYSTEM_DATA"
# "gzip-sha256:" checks the decompressed content: the same data re-gzipped (as Debian
# did to Fashion-MNIST) verifies as the official file does.
GZIP_CONTENT = "gzip-sha256"
WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS)


def address(url):
    """`url`, or the file of the same name under $HELMHOLTZ_DOWNLOAD_MIRROR."""
    mirror = os.environ.get(MIRROR, "").strip()
    if not mirror:
        return url
    if not re.match(r"(https?|ftp)://[^/\s]+", mirror):
        raise UsageError(f"{MIRROR}={mirror} is not a web address; give its base, e.g. "
                         "http://mirror.example:8000/helmholtz/ (or unset it)")
    return f"{mirror.rstrip('/')}/{PurePosixPath(url).name}"


def system_file(path):
    """`path` if it is a file and system data is not ignored, else None."""
    path = Path(path)
    if os.environ.get(NO_SYSTEM_DATA, "") not in ("", "0") or not path.is_file():
        return None
    return path


def checksum(path, known_hash):
    """The checksum of `path` in the kind `known_hash` names ("md5:...", "sha256:...",
    "gzip-sha256:..."), written the same way."""
    kind = known_hash.split(":", 1)[0]
    h = hashlib.new("sha256" if kind == GZIP_CONTENT else kind)
    opener = gzip.open if kind == GZIP_CONTENT else open
    try:
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    except (OSError, EOFError, zlib.error):  # not gzip, or a truncated one: not the file
        return f"{kind}:unreadable"
    return f"{kind}:{h.hexdigest()}"


def fetch(url, known_hash, dest, fix, size=""):
    """Download `url` (or its mirror, `address`) to `dest` unless a file with
    `known_hash` is there, saying so on stdout (with `size`, e.g. "170 MB"); returns `dest`.

    A wrong checksum or a failed connection is a UsageError of one line ending in
    `fix` (what to do instead, e.g. where to put a copy fetched by hand)."""
    import pooch
    import requests
    pooch.get_logger().setLevel("WARNING")  # the caller says what is downloaded, once
    url, dest = address(url), Path(dest)
    if dest.is_file() and checksum(dest, known_hash) == known_hash:
        return dest
    print(f"downloading {url} -> {dest}{f' ({size})' if size else ''}", flush=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}.", dir=dest.parent) as tmp:
        try:
            got = Path(pooch.retrieve(url, None, fname=dest.name, path=tmp,
                                      progressbar=sys.stderr.isatty()))
        except (requests.RequestException, OSError) as e:
            if isinstance(e, OSError) and e.errno in WRITE_ERRORS:
                raise  # this machine's disk, not the connection: cli_main names it
            reason = " ".join(str(e).split())[:200]
            where = f" and ${MIRROR}" if os.environ.get(MIRROR, "").strip() else ""
            raise UsageError(f"cannot download {url} ({reason}); check the connection{where}, "
                             f"or {fix}") from None
        if (actual := checksum(got, known_hash)) != known_hash:
            raise UsageError(f"the download of {url} has checksum {actual.split(':', 1)[1]}, not "
                             f"{known_hash} (an incomplete or changed file; nothing was kept); "
                             f"run again, or {fix}")
        os.replace(got, dest)
    return dest


def deb_member(deb, member, dest, known_hash):
    """Unpack file `member` (e.g. "usr/share/x") of the Debian package file `deb`
    (an ar archive holding data.tar.xz) to `dest`, checked against `known_hash`
    ("sha256:...") before it is kept."""
    deb, dest = Path(deb), Path(dest)
    fix = f"delete {deb} and run again to download it anew"
    try:
        with tarfile.open(fileobj=io.BytesIO(_ar_member(deb, "data.tar.xz")), mode="r:xz") as tar:
            info = next((m for m in tar if m.isfile() and m.name.lstrip("./") == member), None)
            content = None if info is None else tar.extractfile(info).read()
    except (OSError, EOFError, tarfile.TarError, lzma.LZMAError) as e:
        raise UsageError(f"{deb} is not a readable Debian package ({' '.join(str(e).split())}); "
                         f"{fix}") from None
    if content is None:
        raise UsageError(f"{deb} holds no {member}; {fix}")
    kind = known_hash.split(":", 1)[0]
    if (actual := f"{kind}:{hashlib.new(kind, content).hexdigest()}") != known_hash:
        raise UsageError(f"{member} in {deb} has checksum {actual}, not {known_hash}; {fix}")
    with atomic_path(dest) as tmp:
        tmp.write_bytes(content)
    return dest


def _ar_member(path, name):
    """The bytes of member `name` of an ar archive (the container of a .deb)."""
    with open(path, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise OSError("no ar archive header")
        while header := f.read(60):
            if len(header) < 60 or header[58:60] != b"`\n":
                raise OSError("truncated ar archive")
            size = int(header[48:58])
            if header[:16].decode().strip().rstrip("/") == name:
                data = f.read(size)
                if len(data) < size:
                    raise OSError(f"truncated member {name}")
                return data
            f.seek(size + size % 2, os.SEEK_CUR)  # members start at even offsets
    raise OSError(f"no member {name}")
