"""Where the images come from: the official CIFAR-10 archive and Fashion-MNIST.

- cifar10: `--data` (the archive cifar-10-python.tar.gz or its extracted
  folder), else Keras' cache (~/.keras/datasets), else the official archive,
  downloaded over https with pooch into <cache_dir>/downloads/. The official MD5 is
  enforced for the download and for official archives found in the caches; an
  archive given with `--data` is used as given and identified by its own MD5.
- fashion-mnist: `--data FOLDER` holding the four idx .gz files, else those of
  the Debian package dataset-fashion-mnist, else the official files, downloaded
  with pooch into <cache_dir>/downloads/fashion-mnist/ and checked by the SHA-256
  of their decompressed content (Debian re-gzipped them: other .gz bytes, the
  same data). Padded to 32x32 with zeros, one channel.

Images come out upright, (N, y, x, C) uint8, as Pillow shows them.
"""
import gzip
import hashlib
import io
import lzma
import os
import pickle
import tarfile
import zlib
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable

import numpy as np

from helmholtz.data.cache import cache_dir as default_cache_dir
from helmholtz.data.download import GZIP_CONTENT, fetch, system_file
from helmholtz.errors import UsageError

SIZE = 32  # every image is SIZE x SIZE

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
CIFAR_MEMBERS = CIFAR_BATCHES["train"] + CIFAR_BATCHES["test"]
# Caps checked before a batch or idx file is read: an official batch is 31 MB (10,000
# images), Fashion-MNIST's largest idx file 47 MB; a file that says it is larger is another.
MAX_BATCH_BYTES = 40 << 20
MAX_IDX_BYTES = 64 << 20
# Names Keras 2 and Keras 3 give the same official archive and its extraction.
KERAS_ARCHIVES = (CIFAR_ARCHIVE, "cifar-10-batches-py.tar.gz", "cifar-10-batches-py-target_archive")
KERAS_FOLDERS = (CIFAR_FOLDER, "cifar-10-batches-py-target/cifar-10-batches-py")

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                 "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"  # the dataset's own
FASHION_CONTENT = {  # SHA-256 of each file's decompressed idx data
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


@dataclass(frozen=True)
class Source:
    """Where a dataset's images come from and the checksum that identifies them."""
    dataset: str
    checksum: str
    where: str
    read: Callable[[], dict]  # -> {"train": (images, labels), "test": (images, labels)}


def find_source(dataset, data_path=None, cache_dir=None):
    """The source of `dataset`, located without reading its images."""
    if dataset == "fashion-mnist":
        return _fashion_source(data_path, default_cache_dir(cache_dir))
    return _cifar_source(data_path, default_cache_dir(cache_dir))


def _cifar_source(data_path, root):
    if data_path is not None:
        path = Path(data_path).expanduser()
        if not path.exists():
            raise UsageError(f"--data {path} does not exist; give the CIFAR-10 archive "
                             f"({CIFAR_ARCHIVE}) or its extracted folder ({CIFAR_FOLDER}/)")
        if path.is_dir():
            folder = next((f for f in (path, path / CIFAR_FOLDER) if _is_batches_folder(f)), None)
            if folder is not None:
                return _folder_source(folder)
            if not (path / CIFAR_ARCHIVE).is_file():
                raise UsageError(f"{path} holds neither the CIFAR-10 batches "
                                 f"({', '.join(CIFAR_MEMBERS)}) nor {CIFAR_FOLDER}/ nor "
                                 f"{CIFAR_ARCHIVE}; point --data at the archive or its extracted folder")
            path = path / CIFAR_ARCHIVE
        # A user's archive is used as given; its own MD5 identifies it.
        return Source("cifar10", _md5(path), str(path), partial(_read_cifar_archive, path, None))
    downloaded = root / "downloads" / CIFAR_ARCHIVE
    keras = keras_datasets_dir()
    for archive in (downloaded, *(keras / name for name in KERAS_ARCHIVES)):
        if archive.is_file():  # the official file: MD5 checked when it is read
            return Source("cifar10", CIFAR_MD5, str(archive),
                          partial(_read_cifar_archive, archive, CIFAR_MD5))
    for folder in (keras / name for name in KERAS_FOLDERS):
        if _is_batches_folder(folder):
            return _folder_source(folder)
    return Source("cifar10", CIFAR_MD5, CIFAR_URL, partial(_download_and_read, downloaded))


def keras_datasets_dir():
    return Path(os.environ.get("KERAS_HOME") or "~/.keras").expanduser() / "datasets"


def _is_batches_folder(folder):
    return all((folder / name).is_file() for name in CIFAR_MEMBERS)


def _folder_source(folder):
    files = [folder / name for name in CIFAR_MEMBERS]
    checksum = hashlib.md5("".join(_md5(f) for f in files).encode()).hexdigest()
    return Source("cifar10", checksum, str(folder), partial(_read_cifar_folder, folder))


@lru_cache(maxsize=None)
def _md5_of(path, size, mtime_ns):
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _md5(path):
    """MD5 of a file, remembered while the file is unchanged (archives are 170 MB)."""
    st = Path(path).stat()
    return _md5_of(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _download_and_read(dest):
    _download(dest)
    return _read_cifar_archive(dest, CIFAR_MD5)


def _download(dest):
    """Fetch the official archive (helmholtz.data.download: MD5 checked before it is kept)."""
    fetch(CIFAR_URL, f"md5:{CIFAR_MD5}", dest, size="170 MB",
          fix=f"fetch {CIFAR_URL} yourself and pass it with --data PATH "
              "(or put it in ~/.keras/datasets/)")


def _read_cifar_archive(path, expected_md5):
    if expected_md5 is not None and (md5 := _md5(path)) != expected_md5:
        raise UsageError(f"{path} has MD5 {md5}, not the official {expected_md5} (an incomplete "
                         "download or another file); delete it so that the official archive is "
                         "downloaded again, or pass it with --data PATH to use it as it is")
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError):
        raise UsageError(f"{path} is not a readable tar archive; give the CIFAR-10 archive "
                         f"{CIFAR_ARCHIVE} or its extracted folder {CIFAR_FOLDER}/") from None
    try:
        with tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [name for name in CIFAR_MEMBERS if name not in members]
            if missing:
                raise UsageError(f"{path} is a tar archive without {', '.join(missing)}; give "
                                 f"the official CIFAR-10 python archive ({CIFAR_ARCHIVE})")
            for name in CIFAR_MEMBERS:  # every size before any member is read
                _check_batch_size(f"{path}:{name}", members[name].size)
            raw = {name: tar.extractfile(members[name]).read() for name in CIFAR_MEMBERS}
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as e:
        reason = " ".join(str(e).split())  # one line, whatever the library said
        raise UsageError(f"{path} is truncated or corrupt ({reason}); download it again "
                         "(or delete it and let this command download it)") from None
    return _cifar_splits({name: _read_batch(data, f"{path}:{name}") for name, data in raw.items()})


def _check_batch_size(where, size):
    if size > MAX_BATCH_BYTES:
        raise UsageError(f"{where} holds {size:,} bytes, more than a CIFAR-10 batch "
                         f"({MAX_BATCH_BYTES >> 20} MB at most); give the official CIFAR-10 python "
                         f"archive ({CIFAR_ARCHIVE}) or its extracted folder")


def _read_cifar_folder(folder):
    for name in CIFAR_MEMBERS:
        _check_batch_size(folder / name, (folder / name).stat().st_size)
    return _cifar_splits({name: _read_batch((folder / name).read_bytes(), str(folder / name))
                          for name in CIFAR_MEMBERS})


def _cifar_splits(batches):
    return {split: (np.concatenate([batches[n][0] for n in names]),
                    np.concatenate([batches[n][1] for n in names]))
            for split, names in CIFAR_BATCHES.items()}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, lists and dicts only: a batch file cannot run code."""
    ALLOWED = {("numpy._core.multiarray", "_reconstruct"), ("numpy._core.numeric", "_frombuffer"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module, name):
        module = module.replace("numpy.core", "numpy._core")  # pickles made by numpy 1.x
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name}")
        return super().find_class(module, name)


def _read_batch(raw, where):
    """One official batch: a pickled dict with b'data' (N x 3072, CHW planes) and b'labels'."""
    fix = f"give the official CIFAR-10 python archive ({CIFAR_ARCHIVE}) or its extracted folder"
    try:
        batch = _BatchUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = batch.get(b"data", batch.get("data"))
        labels = np.asarray(batch.get(b"labels", batch.get("labels")), dtype=np.int64)
    except Exception as e:  # any malformed pickle: the file is not a batch
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        raise UsageError(f"{where} is not a CIFAR-10 batch ({reason}); {fix}") from None
    if (not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2
            or data.shape[1] != 3 * SIZE * SIZE or labels.shape != (len(data),)
            or (len(labels) and not 0 <= labels.min() <= labels.max() <= 9)):
        raise UsageError(f"{where} does not hold CIFAR-10 images and labels; {fix}")
    # Rows of 3072 bytes are the R, G, B planes in row-major order: to (N, y, x, channel).
    images = data.reshape(-1, 3, SIZE, SIZE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _fashion_source(data_path, root):
    names = [name for pair in FASHION_FILES.values() for name in pair]
    if data_path is None:
        if all(system_file(FASHION_DIR / name) for name in names):
            return _fashion_folder_source(FASHION_DIR)
        downloaded = root / "downloads" / "fashion-mnist"
        if all((downloaded / name).is_file() for name in names):  # checked when downloaded
            return Source("fashion-mnist", _FASHION_OFFICIAL, str(downloaded),
                          partial(_read_fashion, downloaded))
        return Source("fashion-mnist", _FASHION_OFFICIAL, FASHION_URL,
                      partial(_download_fashion_and_read, downloaded))
    folder = Path(data_path).expanduser()
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise UsageError(f"Fashion-MNIST files missing in --data {folder}: {', '.join(missing)}; "
                         "pass --data FOLDER holding the four idx .gz files, or leave --data out "
                         "to use the Debian package dataset-fashion-mnist or the official download")
    return _fashion_folder_source(folder)


# The official files, downloaded and checked, are identified by their pinned content.
_FASHION_OFFICIAL = hashlib.md5("".join(FASHION_CONTENT.values()).encode()).hexdigest()


def _fashion_folder_source(folder):
    files = [folder / name for names in FASHION_FILES.values() for name in names]
    checksum = hashlib.md5("".join(_md5(f) for f in files).encode()).hexdigest()
    return Source("fashion-mnist", checksum, str(folder), partial(_read_fashion, folder))


def _download_fashion_and_read(folder):
    for name, content in FASHION_CONTENT.items():
        fetch(f"{FASHION_URL}/{name}", f"{GZIP_CONTENT}:{content}", folder / name,
              fix="install the Debian package dataset-fashion-mnist, or pass --data FOLDER "
                  "holding the four idx .gz files")
    return _read_fashion(folder)


def _read_fashion(folder):
    splits = {}
    for split, (image_file, label_file) in FASHION_FILES.items():
        images = _read_idx(folder / image_file, ndim=3)
        labels = _read_idx(folder / label_file, ndim=1).astype(np.int64)
        if len(images) != len(labels) or images.shape[1:] != (28, 28):
            raise UsageError(f"{folder / image_file} and {label_file} do not match (28x28 images, "
                             "one label each); reinstall dataset-fashion-mnist or fix --data")
        pad = (SIZE - 28) // 2  # 28x28 -> 32x32 with zeros, as the models expect
        splits[split] = (np.pad(images, ((0, 0), (pad, pad), (pad, pad)))[..., None], labels)
    return splits


def _read_idx(path, ndim):
    """An idx file (big-endian header: magic 0x0000080<ndim>, ndim sizes; then uint8 data)."""
    try:
        with gzip.open(path) as f:
            raw = f.read(MAX_IDX_BYTES + 1)  # no more: a small gzip file may unpack to gigabytes
    except (OSError, EOFError, zlib.error) as e:
        raise UsageError(f"{path} is not a readable gzip file ({e}); reinstall "
                         "dataset-fashion-mnist or fix --data") from None
    if len(raw) > MAX_IDX_BYTES:
        raise UsageError(f"{path} unpacks to more than {MAX_IDX_BYTES >> 20} MB, more than any "
                         "Fashion-MNIST file; reinstall dataset-fashion-mnist or fix --data")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if raw[:4] != bytes([0, 0, 8, ndim]) or len(raw) != header + int(np.prod(shape)):
        raise UsageError(f"{path} is not an idx file of {ndim}-d uint8 data (or is truncated); "
                         "reinstall dataset-fashion-mnist or fix --data")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)
