"""Atomic files, HDF5 array caches with a record, and parallel maps.

A cache file holds arrays plus a *record* (HDF5 attributes): the source's
checksum, library versions and codec settings. A cache is used only when its
record equals the one the caller expects; otherwise it is rebuilt. Each array
carries a CRC-32 of its bytes, checked the first time a process reads the
file, so a cache damaged on disk is rebuilt rather than trained on. Files are
written under a temporary name and renamed, so a killed or failed write
never leaves a file that a later run would trust.

One process builds a missing cache, the others wait and then read it: a
`read_h5` that finds no valid cache takes the cache's build lock and returns
None holding it; the caller builds, and its `write_h5` of that path releases
the lock. A process that dies releases its locks with it. The locks live in
the temporary folder (one per cache path and user), not among the caches, so
they coordinate the processes of one machine.
"""
import contextlib
import errno
import hashlib
import json
import multiprocessing
import os
import sys
import tempfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from helmholtz import REPO


def cache_dir(override=None):
    """Where caches live: --cache_dir, else $HELMHOLTZ_CACHE, else <repo>/data."""
    return Path(override or os.environ.get("HELMHOLTZ_CACHE") or REPO / "data")


@contextlib.contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yield a temporary path next to `path`, unique to this process; rename it
    over `path` on success, remove it on failure. A disk-full or permission error
    while writing names `path`, not the temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS):
            raise OSError(e.errno, os.strerror(e.errno), str(path)) from None
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def _attr(value):
    """Record values are stored as JSON strings so any dict/list round-trips."""
    return json.dumps(value, sort_keys=True, default=_json_default)


def _crc(arr):
    """CRC-32 of an array's values (strings as UTF-8, each ended by a NUL)."""
    if arr.dtype.kind in "UO":
        return zlib.crc32(b"".join(str(s).encode() + b"\0" for s in arr.ravel()))
    return zlib.crc32(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))


def write_h5(path, arrays, record):
    """Write `arrays` (name -> ndarray) and `record` (name -> JSON value) atomically;
    release the build lock `read_h5` took for `path`."""
    try:
        with atomic_path(path) as tmp:
            with h5py.File(tmp, "w") as f:
                for name, arr in arrays.items():
                    arr = np.asarray(arr)
                    if arr.dtype.kind == "U":
                        ds = f.create_dataset(name, data=arr.astype(object), dtype=h5py.string_dtype())
                    else:
                        ds = f.create_dataset(name, data=arr)
                    ds.attrs["crc32"] = _crc(arr)
                for key, value in record.items():
                    f.attrs[key] = _attr(value)
    finally:
        _release_build_lock(path)


def read_record(path):
    with h5py.File(path, "r") as f:
        return {k: json.loads(v) for k, v in f.attrs.items()}


_verified = set()  # (path, inode, size, mtime) of caches whose checksums this process checked
_build_locks = {}  # path -> the held build lock of a cache this process is building


def read_h5(path, record):
    """Arrays of the cache at `path` if its record equals `record` and its arrays
    their checksums, else None; then the caller is to build it (see the module note)."""
    path = Path(path)
    arrays = _read_valid(path, record)
    if arrays is None and str(path) not in _build_locks:
        lock = _build_lock(path)
        arrays = _read_valid(path, record, quiet=True)  # another process may have built it meanwhile
        if arrays is None:
            _build_locks[str(path)] = lock
        else:
            lock.release()
    return arrays


def _build_lock(path):
    from filelock import FileLock, Timeout
    folder = Path(tempfile.gettempdir()) / f"helmholtz-cache-locks-{os.getuid()}"
    folder.mkdir(exist_ok=True)
    name = hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:24]
    lock = FileLock(folder / f"{name}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for another process to build {path}", file=sys.stderr, flush=True)
        lock.acquire()
    return lock


def _release_build_lock(path):
    lock = _build_locks.pop(str(Path(path)), None)
    if lock is not None:
        lock.release()


def _read_valid(path, record, quiet=False):
    try:
        stat = path.stat()
        with h5py.File(path, "r") as f:
            stored = {k: json.loads(v) for k, v in f.attrs.items()}
            if stored != json.loads(_attr(record)):
                return None
            out, crcs = {}, {}
            for name, ds in f.items():
                arr = ds[()]
                if ds.dtype.kind == "O":
                    arr = np.array([s.decode() if isinstance(s, bytes) else s for s in arr])
                out[name], crcs[name] = arr, ds.attrs.get("crc32")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError):  # truncated or foreign file: rebuild
        if not quiet:
            print(f"note: the cache {path} is unreadable; building it again", file=sys.stderr)
        return None
    if any(crc is None for crc in crcs.values()):
        return None  # written before caches had checksums
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        bad = [name for name, arr in out.items() if _crc(arr) != int(crcs[name])]
        if bad:
            if not quiet:
                print(f"note: the cache {path} is damaged ({', '.join(bad)} fails its checksum); "
                      "building it again", file=sys.stderr)
            return None
        _verified.add(key)
    return out


def _context():
    # fork is fastest, but not after TensorFlow has started its threads.
    return multiprocessing.get_context("spawn" if "tensorflow" in sys.modules else "fork")


def parallel_map(fn, items, desc, workers=None, chunksize=None):
    """`[fn(x) for x in items]` over all the cores this process may use, in order, with a
    progress bar.

    `fn` must be a module-level function. Chunks keep the per-item overhead
    small for cheap items (a 32x32 JPEG takes tens of microseconds).
    """
    items = list(items)
    workers = workers or len(os.sched_getaffinity(0))  # the cores this process may use
    chunksize = chunksize or max(1, len(items) // (workers * 16))
    bar = dict(desc=desc, total=len(items), unit="it", leave=False,
               disable=not sys.stderr.isatty() and os.environ.get("HELMHOLTZ_PROGRESS") != "1")
    if workers == 1 or len(items) < 2:
        return [fn(x) for x in tqdm(items, **bar)]
    with ProcessPoolExecutor(workers, mp_context=_context()) as pool:
        return list(tqdm(pool.map(fn, items, chunksize=chunksize), **bar))
