"""The image codecs other than JPEG: deterministic bytes, their payload as docs/method.md
defines it, decoded pixels near the source, the run folders and config.json that name
them, and a missing library as one clear line."""
import importlib
import io
import sys

import numpy as np
import pytest

from cifar import SPEC
from cifar.codec import compress, png_payload
from cifar.sources import find_source
from helmholtz.data import codecs
from helmholtz.errors import UsageError

OTHERS = [name for name in SPEC.codecs if name != "jpeg"]


@pytest.fixture(scope="module")
def images(fashion_folder, cifar_images):
    """Real images: 12 CIFAR-10 in colour and 12 Fashion-MNIST in grey (32x32)."""
    grey = find_source("fashion-mnist", fashion_folder).read()["train"][0][:12]
    return {3: cifar_images[0][:12], 1: grey}


def psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return np.inf if mse == 0 else 10 * np.log10(255 ** 2 / mse)  # AVIF q100 of grey: exact


@pytest.mark.parametrize("name", OTHERS)
@pytest.mark.parametrize("channels", [3, 1])
def test_same_images_give_the_same_bytes_at_every_level(name, channels, images):
    codec = codecs.room(SPEC, name)
    for quality in codec.LEVELS:
        first = [codec.encode(image, quality) for image in images[channels]]
        assert first == [codec.encode(image, quality) for image in images[channels]], quality


@pytest.mark.parametrize("name", OTHERS)
def test_parallel_round_trip_equals_the_one_by_one(name, images):
    codec = codecs.room(SPEC, name)
    x = np.concatenate([images[3]] * 3)
    out = compress(x, 50, codec=codec)
    files = [codec.encode(image, 50) for image in x]
    assert list(out.bytes) == [len(f) for f in files]
    assert list(out.payload) == [codec.payload(f) for f in files]
    decoded = np.empty_like(x[0])
    codec.decode(files[0], decoded)
    assert np.array_equal(out.data[0], decoded)


@pytest.mark.parametrize("name", OTHERS)
@pytest.mark.parametrize("channels", [3, 1])
def test_more_quality_gives_more_bits_and_closer_pixels(name, channels, images):
    codec = codecs.room(SPEC, name)
    low, high = (compress(images[channels], q, codec=codec) for q in (1, 100))
    assert low.data.shape == images[channels].shape and low.data.dtype == np.uint8
    assert high.bytes.mean() > low.bytes.mean() and high.payload.mean() > low.payload.mean()
    assert psnr(high.data, images[channels]) > psnr(low.data, images[channels]) + 3


def test_webp_payload_is_the_vp8_chunk(images):
    codec = codecs.room(SPEC, "webp")
    for quality in (1, 50, 100):
        data = codec.encode(images[3][0], quality)
        assert data[12:16] == b"VP8 " and codec.payload(data) == len(data) - 20


def test_avif_payload_is_the_mdat_box_and_its_header_does_not_grow(images):
    codec = codecs.room(SPEC, "avif")
    headers = set()
    for quality in (1, 50, 100):
        data = codec.encode(images[3][0], quality)
        start = data.index(b"mdat") + 4
        assert codec.payload(data) == len(data) - start  # mdat is the last box
        headers.add(len(data) - codec.payload(data))
    assert max(headers) - min(headers) <= 4  # item locations' field widths at most


def test_jpeg2000_payload_is_the_tile_data(images):
    codec = codecs.room(SPEC, "jpeg2000")
    headers = set()
    for quality in codec.LEVELS:
        data = codec.encode(images[3][0], quality)
        sod = data.index(b"\xff\x93")
        assert data[-2:] == b"\xff\xd9" and codec.payload(data) == len(data) - sod - 4
        headers.add(len(data) - codec.payload(data))
    assert len(headers) == 1  # main and tile-part headers: the same at every quality


def test_jxl_payload_is_the_bare_codestream(images):
    codec = codecs.room(SPEC, "jxl")
    data = codec.encode(images[3][0], 50)
    assert data[:2] == b"\xff\x0a" and codec.payload(data) == len(data)


def test_png_stays_the_lossless_reference_of_every_codec(images):
    for name in SPEC.codecs:
        out = compress(images[1], "lossless", codec=codecs.room(SPEC, name))
        assert np.array_equal(out.data, images[1]) and (out.payload < out.bytes).all()


# ---------------------------------------------------------------- folders and records

def test_run_folders_name_the_codec_with_the_level_and_the_default_stays():
    assert codecs.level_tag(SPEC, 50) == "quality_50"
    assert codecs.level_tag(SPEC, 50, "jpeg") == "quality_50"
    assert codecs.level_tag(SPEC, "lossless", "webp") == "webp_lossless"
    assert codecs.level_tag(SPEC, 50, "webp") == "webp_q50"
    assert codecs.level_tag(SPEC, 50, "jpeg", 8.0) == "jpeg_q50_noise8"
    assert codecs.level_tag(SPEC, "lossless", "jpeg", 2.5) == "quality_lossless_noise2.5"


def recorded(argv):
    import cifar.train
    from helmholtz.run import trainer
    args = cifar.train.parse_args(argv)
    settings = trainer.settings(SPEC, args)
    return settings, trainer.folder(SPEC, args, settings)


def test_config_records_a_codec_only_when_it_is_not_the_default(tmp_path):
    plain, folder = recorded(["--quality", "50", "--log_dir", str(tmp_path)])
    same, same_folder = recorded(["--quality", "50", "--codec", "jpeg", "--sensor_noise", "0",
                                  "--log_dir", str(tmp_path)])
    assert "codec" not in plain and "sensor_noise" not in plain
    assert same == plain and same_folder == folder and folder.parent.name == "quality_50"
    webp, webp_folder = recorded(["--quality", "50", "--codec", "webp", "--log_dir", str(tmp_path)])
    assert webp["codec"]["name"] == "webp" and "libwebp" in webp["codec"]["version"]
    assert webp_folder.parent.name == "webp_q50"


def test_a_missing_codec_library_is_one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # import imagecodecs fails
    monkeypatch.delitem(sys.modules, "cifar.codec_jxl", raising=False)
    with pytest.raises(UsageError, match="needs the Python package imagecodecs"):
        codecs.room(SPEC, "jxl")


def test_a_sweep_of_a_codec_runs_its_grid_into_folders_that_name_it(tmp_path):
    from helmholtz.sweep import grid
    runs = grid.plan("cifar", models=["all-cnns"], log_dir=tmp_path,
                      train_args=["--codec", "avif", "--sensor_noise", "4"])
    assert [r.level for r in runs] == list(codecs.room(SPEC, "avif").LEVELS)
    assert runs[0].folder.parent.name == "avif_q1_noise4" and "--codec" in runs[0].command
    with pytest.raises(UsageError, match="unknown codec 'heif'"):
        grid.parse_args(["cifar", "--codec", "heif", "--log_dir", str(tmp_path)])
