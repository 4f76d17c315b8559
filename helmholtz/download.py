"""Downloads with a known checksum (pooch): nothing is kept unless it matches.

pooch writes to a temporary name beside the destination, checks the hash and
only then renames the file into place, so an interrupted or corrupt download
never leaves a file that a later run would trust; run again and it starts over.
"""
import re
import sys
from pathlib import Path

from helmholtz.errors import UsageError


def fetch(url, known_hash, dest, fix):
    """Download `url` to `dest` unless a file with `known_hash` ("md5:...") is there.

    A wrong checksum or a failed connection is a UsageError of one line ending in
    `fix` (what to do instead, e.g. where to put a copy fetched by hand)."""
    import pooch
    import requests
    pooch.get_logger().setLevel("WARNING")  # the caller says what is downloaded, once
    dest = Path(dest)
    try:
        return Path(pooch.retrieve(url, known_hash, fname=dest.name, path=dest.parent,
                                   progressbar=sys.stderr.isatty()))
    except ValueError as e:  # pooch: "... does not match the known hash: expected ... but got ..."
        got = re.search(r"but got (\w+)", str(e))
        if got is None:
            raise
        raise UsageError(f"the download of {url} has checksum {got[1]}, not {known_hash} (an "
                         f"incomplete or changed file; nothing was kept); run again, or {fix}") from None
    except requests.RequestException as e:
        reason = " ".join(str(e).split())[:200]
        raise UsageError(f"cannot download {url} ({reason}); check the connection, or {fix}") from None
