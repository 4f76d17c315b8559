"""The CIFAR data step: sources, caches of every level, bad input (the codec: test_cifar_codec.py)."""
import errno
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import PIL
import pytest
from PIL import Image

from cifar import codec, data, sources
from helmholtz.data.cache import read_record, write_h5
from helmholtz.errors import UsageError, cli_main
from helpers import cifar_members, write_cifar_archive, write_cifar_folder

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """An empty Keras cache, and no download: tests never touch the network."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def no_download(dest):
        raise AssertionError("a test tried to download CIFAR-10")
    monkeypatch.setattr(sources, "_download", no_download)


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def cached_files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def run_cli(argv, capsys):
    """The command line in-process: (exit status, stderr lines)."""
    with pytest.raises(SystemExit) as exit_:
        cli_main(lambda: data.main(argv))
        sys.exit(0)
    return exit_.value.code, capsys.readouterr().err.strip().splitlines()


# ---------------------------------------------------------------- loading

def test_archive_loads_real_images_upright_or_transposed(cifar_archive, cifar_splits, cache):
    for split, (images, labels) in cifar_splits.items():
        upright = data.load_split("cifar10", "lossless", split, cifar_archive, cache, "upright")
        s = data.load_split("cifar10", "lossless", split, cifar_archive, cache)
        for got in (s, upright):
            assert got["data"].dtype == np.uint8 and got["data"].shape == (len(images), 32, 32, 3)
            np.testing.assert_array_equal(got["label"], labels)
            assert got["label"].dtype == np.int64
            assert got["bytes"].dtype == got["payload"].dtype == np.int64
        np.testing.assert_array_equal(upright["data"], images)  # as Pillow shows them: row = y
        np.testing.assert_array_equal(s["data"], images.transpose(0, 2, 1, 3))  # the original's


@pytest.mark.parametrize("orientation", data.ORIENTATIONS)
def test_lossless_bytes_are_png_sizes_of_what_is_stored(cifar_archive, cache, orientation):
    s = data.load_split("cifar10", "lossless", "test", cifar_archive, cache, orientation)
    for image, size, payload in zip(s["data"], s["bytes"], s["payload"]):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, "PNG")
        assert size == len(buf.getvalue())
        assert payload == size - 57  # the IDAT data: no signature, IHDR, chunk framing, IEND


def test_extracted_folder_and_keras_cache_give_the_same_images(cifar_splits, tmp_path, cache):
    (x, y), (tx, ty) = cifar_splits["train"], cifar_splits["test"]
    members = cifar_members(x, y, tx, ty)
    folder = write_cifar_folder(tmp_path / "mine" / "cifar-10-batches-py", members)
    for data_path in (folder, folder.parent):  # the folder itself or the folder holding it
        s = data.load_split("cifar10", 50, "test", data_path, cache)
        np.testing.assert_array_equal(s["label"], ty)
    write_cifar_folder(tmp_path / "keras" / "datasets" / "cifar-10-batches-py", members)
    from_keras = data.load_split("cifar10", 50, "test", None, cache)
    np.testing.assert_array_equal(from_keras["data"], s["data"])


def test_fashion_mnist_is_padded_grey(fashion_folder, cache):
    from helpers import read_idx
    original = read_idx(fashion_folder / "t10k-images-idx3-ubyte.gz")
    s = data.load_split("fashion-mnist", "lossless", "test", fashion_folder, cache, "upright")
    assert s["data"].shape == (10, 32, 32, 1)
    np.testing.assert_array_equal(s["data"][:, 2:30, 2:30, 0], original)
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert not s["data"][:, border].any()  # 2 px of zeros on each side
    np.testing.assert_array_equal(s["label"], read_idx(fashion_folder / "t10k-labels-idx1-ubyte.gz"))


# ---------------------------------------------------------------- compression

def test_sizes_fall_and_errors_grow_as_quality_falls(cifar_archive, cache):
    levels = [100, 75, 25, 5, 1]
    summary = data.prepare("cifar10", ["lossless"] + levels, cifar_archive, cache)
    for key in ("mean_bytes", "mean_payload"):
        mean = {(r["level"], r["split"]): r[key] for r in summary}
        train_sizes = [mean[q, "train"] for q in levels]
        assert train_sizes == sorted(train_sizes, reverse=True)
        assert len(set(train_sizes)) == len(levels)
    reference = data.load_split("cifar10", "lossless", "train", cifar_archive, cache)
    errors = [np.abs(data.load_split("cifar10", q, "train", cifar_archive, cache)["data"].astype(int)
                     - reference["data"]).mean() for q in levels]
    assert 0 < errors[0] and errors == sorted(errors)
    q100 = data.load_split("cifar10", 100, "train", cifar_archive, cache)
    assert not np.array_equal(q100["data"], reference["data"])  # 4:2:0 makes q=100 lossy
    assert not np.array_equal(q100["bytes"], reference["bytes"])


# ---------------------------------------------------------------- caches

def test_cache_is_reused_without_reading_or_compressing_again(cifar_archive, cache, monkeypatch):
    first = data.load_split("cifar10", 25, "train", cifar_archive, cache)
    assert cached_files(cache) == ["quality_25_transposed_train.h5", "source_test.h5",
                                   "source_train.h5"]

    def fail(*args):
        raise AssertionError("work that the cache should have saved")
    monkeypatch.setattr(codec, "_compress_chunk", fail)
    monkeypatch.setattr(sources, "_read_cifar_archive", fail)
    again = data.load_split("cifar10", 25, "train", cifar_archive, cache)
    for key in ("data", "label", "bytes", "payload"):
        np.testing.assert_array_equal(first[key], again[key])
    monkeypatch.undo()
    monkeypatch.setattr(sources, "_read_cifar_archive", fail)  # a new level starts from the source cache
    data.load_split("cifar10", 5, "test", cifar_archive, cache)


def test_cache_records_source_and_codec(cifar_archive, cache):
    data.load_split("cifar10", 25, "test", cifar_archive, cache)
    path = cache / "cifar10" / "quality_25_transposed_test.h5"
    with h5py.File(path) as f:
        assert f["data"].dtype == np.uint8 and f["data"].shape == (10, 32, 32, 3)
    record = read_record(path)
    assert record["source_md5"] == hashlib.md5(cifar_archive.read_bytes()).hexdigest()
    assert record["pillow"] == PIL.__version__ and record["orientation"] == "transposed"
    assert record["codec"]["format"] == "JPEG" and record["codec"]["quality"] == 25
    assert record["codec"]["encoder"] == codec.encoder_name()
    assert set(record["sizes"]) == {"bytes", "payload"}


def test_orientations_and_older_formats_never_share_a_cache(cifar_archive, cache, monkeypatch):
    transposed = data.load_split("cifar10", 25, "test", cifar_archive, cache)
    upright = data.load_split("cifar10", 25, "test", cifar_archive, cache, "upright")
    assert not np.array_equal(transposed["bytes"], upright["bytes"])
    assert read_record(cache / "cifar10" / "quality_25_upright_test.h5")["orientation"] == "upright"
    # A cache of the former format (upright pixels, no orientation) is not taken for either.
    path = cache / "cifar10" / "quality_25_transposed_test.h5"
    record = read_record(path)
    del record["orientation"]
    write_h5(path, upright, {**record, "format": data.CACHE_FORMAT - 1})
    again = data.load_split("cifar10", 25, "test", cifar_archive, cache)
    np.testing.assert_array_equal(again["data"], transposed["data"])
    np.testing.assert_array_equal(again["bytes"], transposed["bytes"])
    assert read_record(path)["format"] == data.CACHE_FORMAT


def test_changed_source_rebuilds_the_cache(cifar_splits, tmp_path, cache):
    (x, y), (tx, ty) = cifar_splits["train"], cifar_splits["test"]
    archive = tmp_path / "cifar-10-python.tar.gz"
    write_cifar_archive(archive, cifar_members(x, y, tx, ty))
    before = data.load_split("cifar10", 25, "test", archive, cache)
    write_cifar_archive(archive, cifar_members(x, y, tx[::-1], ty[::-1]))  # same name, new content
    after = data.load_split("cifar10", 25, "test", archive, cache)
    np.testing.assert_array_equal(after["label"], ty[::-1])
    np.testing.assert_array_equal(after["data"], before["data"][::-1])


def test_damaged_cache_file_is_rebuilt(cifar_archive, cache):
    good = data.load_split("cifar10", 10, "test", cifar_archive, cache)
    path = cache / "cifar10" / "quality_10_transposed_test.h5"
    path.write_bytes(path.read_bytes()[:1000])
    again = data.load_split("cifar10", 10, "test", cifar_archive, cache)
    np.testing.assert_array_equal(again["data"], good["data"])


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("quality", ["0", "101", "abc"])
def test_cli_rejects_bad_quality_in_one_line(quality, cifar_archive, cache, capsys):
    code, err = run_cli(["--quality", "25", quality, "--data", str(cifar_archive),
                         "--cache_dir", str(cache)], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: quality")
    assert cached_files(cache) == []  # checked before any work


def test_official_archive_with_wrong_md5_is_refused(cifar_archive, tmp_path, cache):
    keras = tmp_path / "keras" / "datasets"
    keras.mkdir(parents=True)
    (keras / "cifar-10-python.tar.gz").write_bytes(cifar_archive.read_bytes())
    with pytest.raises(UsageError, match="MD5 .* not the official c58f30108f718f92721af3b95e74349a"):
        data.load_split("cifar10", 25, "train", None, cache)
    assert cached_files(cache) == []


def test_downloaded_archive_with_wrong_md5_is_refused(cifar_archive, cache):
    (cache / "downloads").mkdir(parents=True)
    (cache / "downloads" / "cifar-10-python.tar.gz").write_bytes(cifar_archive.read_bytes())
    with pytest.raises(UsageError, match="delete it"):
        data.load_split("cifar10", 25, "train", None, cache)
    assert cached_files(cache) == ["cifar-10-python.tar.gz"]  # refused, nothing cached


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:len(raw) // 2], "truncated or corrupt"),
    (lambda raw: b"this is not an archive\n" * 100, "not a readable tar archive"),
])
def test_damaged_archive_is_a_one_line_error(damage, message, cifar_archive, cache, capsys):
    cifar_archive.write_bytes(damage(cifar_archive.read_bytes()))
    code, err = run_cli(["--quality", "25", "--data", str(cifar_archive), "--cache_dir", str(cache)],
                        capsys)
    assert code == 2 and len(err) == 1 and message in err[0]
    assert cached_files(cache) == []


def test_tar_without_cifar_batches_names_what_is_missing(tmp_path, cache):
    archive = write_cifar_archive(tmp_path / "other.tar.gz", {"readme.txt": b"hello"})
    with pytest.raises(UsageError, match="without data_batch_1, .*test_batch"):
        data.load_split("cifar10", 25, "test", archive, cache)


def test_archive_with_foreign_pickle_is_refused_without_running_it(tmp_path, cache, cifar_splits):
    (x, y), (tx, ty) = cifar_splits["train"], cifar_splits["test"]
    members = cifar_members(x, y, tx, ty)
    members["test_batch"] = b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
    archive = write_cifar_archive(tmp_path / "evil.tar.gz", members)
    with pytest.raises(UsageError, match="not a CIFAR-10 batch"):
        data.load_split("cifar10", 25, "test", archive, cache)
    assert not (tmp_path / "pwned").exists()


def test_unknown_orientation_is_refused_before_any_work(cifar_archive, cache):
    with pytest.raises(UsageError, match="orientation 'sideways'.*transposed, upright"):
        data.load_split("cifar10", 25, "test", cifar_archive, cache, "sideways")
    assert cached_files(cache) == []


def test_missing_data_path_and_fashion_files(tmp_path, cache):
    with pytest.raises(UsageError, match="does not exist"):
        data.load_split("cifar10", 25, "test", tmp_path / "nowhere.tar.gz", cache)
    with pytest.raises(UsageError, match="dataset-fashion-mnist"):
        data.load_split("fashion-mnist", 25, "test", tmp_path, cache)


def test_disk_full_while_caching_leaves_nothing(cifar_archive, cache, capsys, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(h5py.Group, "create_dataset", disk_full)
    code, err = run_cli(["--quality", "25", "--data", str(cifar_archive), "--cache_dir", str(cache)],
                        capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: disk full")
    assert cached_files(cache) == []  # no cache and no temporary file left


def test_command_line_prepares_caches(cifar_archive, cache):
    """The real entry point, run as a user would from the repo root."""
    done = subprocess.run([sys.executable, "cifar/data.py", "--quality", "5", "lossless",
                           "--data", str(cifar_archive), "--cache_dir", str(cache)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "quality_5" in done.stdout and "quality_lossless" in done.stdout
    assert "payload" in done.stdout
    assert "encoded transposed" in done.stdout
    assert cached_files(cache) == ["quality_5_transposed_test.h5", "quality_5_transposed_train.h5",
                                   "quality_lossless_transposed_test.h5",
                                   "quality_lossless_transposed_train.h5", "source_test.h5",
                                   "source_train.h5"]
    fixed = subprocess.run([sys.executable, "cifar/data.py", "--fixed", "--quality", "5",
                            "--data", str(cifar_archive), "--cache_dir", str(cache)],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert fixed.returncode == 0 and "encoded upright" in fixed.stdout, fixed.stderr
    assert {"quality_5_upright_test.h5", "quality_5_upright_train.h5"} < set(cached_files(cache))
    bad = subprocess.run([sys.executable, "cifar/data.py", "--quality", "101"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
