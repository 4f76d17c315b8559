"""Shared fixtures: small real datasets in their official formats, and the
environment of the commands the tests run. The packages come from the project's
installation (`make setup`: pip install -e .); `helpers` from this folder, which
pytest puts on sys.path for its conftest."""
import importlib.util
import os
import re
from pathlib import Path

import numpy as np
import pytest

from helpers import cifar_members, write_cifar_archive, write_fashion_subset

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def _foolbox_data_dir():
    spec = importlib.util.find_spec("foolbox")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / "data").is_dir():
            return Path(location) / "data"
    return None


@pytest.fixture(scope="session")
def cifar_images():
    """The 20 real CIFAR-10 test images that PyPI foolbox 3.3.4 ships, as
    (images uint8 (20, 32, 32, 3) as Pillow reads them, labels int64 (20,))."""
    from PIL import Image
    folder = _foolbox_data_dir()
    files = sorted(folder.glob("cifar10_*.png")) if folder else []
    if len(files) != 20:
        pytest.skip("needs the 20 real CIFAR-10 images of foolbox 3.3.4 "
                    "(pip install --no-deps foolbox==3.3.4)")
    images = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    labels = np.array([int(re.fullmatch(r"cifar10_\d+_(\d)", f.stem)[1]) for f in files])
    return images, labels


@pytest.fixture(scope="session")
def cifar_splits(cifar_images):
    """A tiny CIFAR-10: all 20 images as train, the last 10 as test."""
    images, labels = cifar_images
    return {"train": (images, labels), "test": (images[10:], labels[10:])}


@pytest.fixture
def cifar_archive(tmp_path, cifar_splits):
    """A tiny archive in the official cifar-10-python.tar.gz format."""
    (x, y), (tx, ty) = cifar_splits["train"], cifar_splits["test"]
    return write_cifar_archive(tmp_path / "cifar-10-python.tar.gz", cifar_members(x, y, tx, ty))


@pytest.fixture(scope="session")
def fashion_folder(tmp_path_factory):
    """A tiny Fashion-MNIST (30 train, 10 test real images) in the Debian package's
    idx .gz format."""
    if not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("needs the Debian package dataset-fashion-mnist")
    return write_fashion_subset(tmp_path_factory.mktemp("fashion"), FASHION_DIR, 30, 10)


@pytest.fixture(scope="session")
def can_render():
    """Skips the test unless the audio generator can render here: tinysoundfont
    (requirements-nodeps.txt) and the Debian soundfont (make setup installs both)."""
    pytest.importorskip("tinysoundfont")
    from audio.generate import SOUNDFONT
    if not SOUNDFONT.is_file():
        pytest.skip("needs the Debian package fluid-soundfont-gm")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The environment of a command the tests start: a cache folder of the test module's
    own (never the repository's data/), on the CPU."""
    return {**os.environ, "HELMHOLTZ_CACHE": str(tmp_path_factory.mktemp("cache")),
            "CUDA_VISIBLE_DEVICES": ""}
