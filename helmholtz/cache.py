"""Atomic files, HDF5 array caches with a record, and parallel maps.

A cache file holds arrays plus a *record* (HDF5 attributes): the source's
checksum, library versions and codec settings. A cache is used only when its
record equals the one the caller expects; otherwise it is rebuilt. Files are
written under a temporary name and renamed, so a killed or failed write
never leaves a file that a later run would trust.
"""
import contextlib
import json
import multiprocessing
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from helmholtz import REPO
from helmholtz.errors import UsageError


def cache_dir(override=None):
    """Where caches live: --cache_dir, else $HELMHOLTZ_CACHE, else <repo>/data."""
    return Path(override or os.environ.get("HELMHOLTZ_CACHE") or REPO / "data")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path`; rename it over `path` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
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


def write_h5(path, arrays, record):
    """Write `arrays` (name -> ndarray) and `record` (name -> JSON value) atomically."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for name, arr in arrays.items():
                arr = np.asarray(arr)
                if arr.dtype.kind == "U":
                    f.create_dataset(name, data=arr.astype(object), dtype=h5py.string_dtype())
                else:
                    f.create_dataset(name, data=arr)
            for key, value in record.items():
                f.attrs[key] = _attr(value)


def read_record(path):
    with h5py.File(path, "r") as f:
        return {k: json.loads(v) for k, v in f.attrs.items()}


def read_h5(path, record):
    """Arrays of the cache at `path` if its record equals `record`, else None."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as f:
            stored = {k: json.loads(v) for k, v in f.attrs.items()}
            if stored != json.loads(_attr(record)):
                return None
            out = {}
            for name, ds in f.items():
                arr = ds[()]
                if ds.dtype.kind == "O":
                    arr = np.array([s.decode() if isinstance(s, bytes) else s for s in arr])
                out[name] = arr
            return out
    except (OSError, ValueError, KeyError):  # truncated or foreign file: rebuild
        return None


def _context():
    # fork is fastest, but not after TensorFlow has started its threads.
    return multiprocessing.get_context("spawn" if "tensorflow" in sys.modules else "fork")


def parallel_map(fn, items, desc, workers=None, chunksize=None):
    """`[fn(x) for x in items]` over all cores, in order, with a progress bar.

    `fn` must be a module-level function. Chunks keep the per-item overhead
    small for cheap items (a 32x32 JPEG takes tens of microseconds).
    """
    items = list(items)
    workers = workers or os.cpu_count() or 1
    chunksize = chunksize or max(1, len(items) // (workers * 16))
    bar = dict(desc=desc, total=len(items), unit="it", leave=False,
               disable=not sys.stderr.isatty() and os.environ.get("HELMHOLTZ_PROGRESS") != "1")
    if workers == 1 or len(items) < 2:
        return [fn(x) for x in tqdm(items, **bar)]
    with ProcessPoolExecutor(workers, mp_context=_context()) as pool:
        return list(tqdm(pool.map(fn, items, chunksize=chunksize), **bar))


def require_file(path, what, fix):
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} not found at {path}; {fix}")
    return path
