"""The image codec: Pillow's JPEG bytes, decoded pixels, and the sizes kept per image."""
import io
import sys
import zlib

import numpy as np
import pytest
from PIL import Image, features

from cifar import codec
from cifar.sources import find_source
from helmholtz.errors import UsageError

QUALITIES = range(1, 101)
# The scan header libjpeg writes before the entropy-coded data: SOS, length, components
# with their Huffman tables (colour: Y on tables 0, Cb and Cr on 1), spectral range 0..63.
SOS = {3: bytes.fromhex("ffda000c03010002110311003f00"), 1: bytes.fromhex("ffda0008010100003f00")}
HEADER = {3: 625, 1: 330}  # bytes, as the codec's docstring states


def pillow_jpeg(image, quality):
    """What the original did per image: Image.fromarray(img).save(f, quality=q)."""
    buffer = io.BytesIO()
    Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(
        buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def colour(cifar_images):
    """The 20 real CIFAR-10 images, upright and transposed (what the default encodes)."""
    images = cifar_images[0]
    return np.concatenate([images, images.transpose(0, 2, 1, 3)])


@pytest.fixture(scope="module")
def grey(fashion_folder, cifar_images):
    """Real grey images: 30 Fashion-MNIST (padded to 32x32, as the data step does)
    and the CIFAR-10 images converted to grey by Pillow."""
    fashion = find_source("fashion-mnist", fashion_folder).read()["train"][0]
    converted = np.stack([np.asarray(Image.fromarray(i).convert("L")) for i in cifar_images[0]])
    return np.concatenate([fashion, converted[..., None]])


# ---------------------------------------------------------------- levels

@pytest.mark.parametrize("text, level", [("25", 25), ("1", 1), ("100", 100), (75, 75),
                                         ("lossless", "lossless"), ("LossLess", "lossless")])
def test_parse_level_accepts_qualities_and_lossless(text, level):
    assert codec.parse_level(text) == level


@pytest.mark.parametrize("text", ["0", "101", "abc", "2.5", "", "-5", 0, 101, True, 25.0])
def test_parse_level_rejects_everything_else(text):
    with pytest.raises(UsageError, match="1 to 100"):
        codec.parse_level(text)


# ---------------------------------------------------------------- encoding

def test_jpeg_bytes_are_pillows_at_every_quality(colour, grey):
    for images in (colour, grey):
        for q in QUALITIES:
            assert codec.encode_jpegs(images, q) == [pillow_jpeg(i, q) for i in images], \
                f"quality {q}, {images.shape[-1]} channel(s)"


def test_pillow_fallback_gives_the_same_round_trip(colour, grey, monkeypatch):
    fast = {q: (codec.compress(colour, q), codec.compress(grey, q)) for q in (1, 25, 90)}
    monkeypatch.setattr(codec, "_compressor", lambda: None)
    assert codec.encoder_name() == "Pillow Image.save"
    for q, results in fast.items():
        for fast_result, images in zip(results, (colour, grey)):
            for got, expected in zip(codec.compress(images, q), fast_result):
                np.testing.assert_array_equal(got, expected, err_msg=f"quality {q}")


@pytest.mark.skipif(not sys.platform.startswith("linux") or features.version("jpg") != "6.2",
                    reason="the reused compressor is for libjpeg's version-62 ABI")
def test_reused_compressor_is_used_where_pillow_bundles_libjpeg_turbo():
    """Pillow's own path makes a compressor per image: 3-4x slower at 32x32 here."""
    assert codec.encoder_name() == "Pillow's libjpeg, one compressor reused"


def test_encoder_refuses_what_libjpeg_would_not_take(colour):
    with pytest.raises(ValueError, match="C = 1 or 3"):
        codec.encode_jpegs(np.zeros((2, 8, 8, 4), np.uint8), 50)
    with pytest.raises(ValueError, match="quality 0"):
        codec.encode_jpegs(colour[:1], 0)


# ---------------------------------------------------------------- sizes

def test_jpeg_payload_is_the_entropy_coded_data_and_the_header_is_fixed(colour, grey):
    for images in (colour, grey):
        channels = images.shape[-1]
        for q in QUALITIES:
            for jpeg in codec.encode_jpegs(images, q):
                payload = codec.jpeg_payload(jpeg)
                start, end = len(jpeg) - 2 - payload, len(jpeg) - 2
                assert jpeg[start - len(SOS[channels]):start] == SOS[channels]
                assert jpeg[end:] == b"\xff\xd9"  # EOI and nothing else after the scan
                data = jpeg[start:end]
                # Inside the scan every FF is a stuffed FF 00: no marker, no second scan.
                assert data.count(b"\xff") == data.count(b"\xff\x00")
                assert len(jpeg) - payload == HEADER[channels], f"quality {q}"


def test_png_payload_is_the_idat_stream(colour, grey):
    for image in (*colour[:5], *grey[:5]):
        png = codec.encode_png(image)
        payload = codec.png_payload(png)
        h, w, c = image.shape
        idat = png.index(b"IDAT")  # one IDAT chunk at 32x32
        rows = zlib.decompress(png[idat + 4:idat + 4 + payload])
        assert len(rows) == h * (1 + w * c)  # a filter byte and the pixels of every row
        assert len(png) - payload == 8 + 25 + 12 + 12  # signature, IHDR, IDAT framing, IEND
        assert Image.open(io.BytesIO(png)).tobytes() == image.tobytes()


def test_compress_keeps_total_and_payload_per_image(colour, grey):
    for images in (colour, grey):
        for level in (1, 50, 100):
            result = codec.compress(images, level)
            files = [pillow_jpeg(i, level) for i in images]
            np.testing.assert_array_equal(result.bytes, [len(f) for f in files])
            np.testing.assert_array_equal(result.bytes - result.payload,
                                          HEADER[images.shape[-1]])
        lossless = codec.compress(images, "lossless")
        np.testing.assert_array_equal(lossless.data, images)
        assert (lossless.payload < lossless.bytes).all()


# ---------------------------------------------------------------- round trip

@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_round_trip_matches_pillow_writing_and_reading_jpeg_files(cifar_images, mode, tmp_path):
    """The in-memory pipeline gives what the original's one-file-per-image pipeline gave."""
    images = cifar_images[0] if mode == "RGB" else np.asarray(
        [np.asarray(Image.fromarray(i).convert("L")) for i in cifar_images[0]])[..., None]
    for quality in (1, 25, 100):
        result = codec.compress(images, quality)
        for i, image in enumerate(images):
            path = tmp_path / f"{i}_{quality}.jpeg"
            Image.fromarray(image.squeeze(-1) if mode == "L" else image, mode).save(path, quality=quality)
            assert result.bytes[i] == path.stat().st_size
            with Image.open(path) as back:
                assert back.mode == mode  # grey stays a one-channel JPEG
                np.testing.assert_array_equal(result.data[i], np.asarray(back).reshape(image.shape))


def test_fast_decoder_gives_pillows_pixels_at_every_quality(colour, grey, monkeypatch):
    """simplejpeg (when installed) only decodes; the bytes are Pillow's."""
    if codec.simplejpeg is None:
        pytest.skip("simplejpeg is not installed: Pillow decodes")
    rgb, gray = colour[:10], grey[:10]  # every quality matters more than many images
    fast = {q: (codec.compress(rgb, q), codec.compress(gray, q)) for q in QUALITIES}
    monkeypatch.setattr(codec, "simplejpeg", None)
    for q, results in fast.items():
        for fast_result, images in zip(results, (rgb, gray)):
            np.testing.assert_array_equal(fast_result.data, codec.compress(images, q).data,
                                          err_msg=f"quality {q}")


def test_parallel_chunks_give_the_same_result(cifar_images, monkeypatch):
    serial = codec.compress(cifar_images[0], 25)
    monkeypatch.setattr(codec, "CHUNK", 7)  # 3 chunks -> worker processes
    parallel = codec.compress(cifar_images[0], 25)
    for got, expected in zip(parallel, serial):
        np.testing.assert_array_equal(got, expected)
