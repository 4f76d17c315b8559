"""What the Pillow-coded image rooms share (cifar/codec_webp.py, codec_avif.py,
codec_jpeg2000.py): an image through Pillow's save and open, in memory."""
import io

import numpy as np
import PIL
from PIL import Image, features

from helmholtz.errors import UsageError

MODES = {1: "L", 3: "RGB"}  # channels -> Pillow mode


def require(feature, name):
    """An ImportError where this Pillow lacks the codec's library."""
    if not features.check(feature):
        raise ImportError(f"Pillow {PIL.__version__} without {name}", name=f"Pillow with {name}")


def check_quality(quality, codec):
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise UsageError(f"quality {quality!r} is outside {codec}'s range; give 1 to 100 "
                         "or 'lossless'")
    return int(quality)


def contract(feature, name, format, library, setting):
    """(version, check_level, encode) of a room that codes through Pillow's `format`:
    `feature` is Pillow's name of the codec library (features.check), `name` the codec's
    as messages give it, `library` the library's as config.json records its version,
    `setting(quality)` Pillow's save options at a quality. Raises ImportError (the
    codec unavailable: helmholtz.data.codecs.room) where this Pillow lacks the library."""
    require(feature, name)

    def version():
        return f"{library} {features.version(feature)}"

    def check_level(quality):
        return check_quality(quality, name)

    def encode(image, quality):
        return save(image, format, **setting(quality))
    return version, check_level, encode


def save(image, format, **options):
    """The file Pillow writes of one uint8 image (H, W, C)."""
    h, w, c = image.shape
    buffer = io.BytesIO()
    Image.frombuffer(MODES[c], (w, h), np.ascontiguousarray(image), "raw", MODES[c], 0, 1)\
        .save(buffer, format, **options)
    return buffer.getvalue()


def load(data, out):
    """Decode a file into `out`, uint8 (H, W, C); grey images as Pillow's L of what is decoded."""
    with Image.open(io.BytesIO(data)) as image:
        out[...] = np.asarray(image.convert(MODES[out.shape[-1]])).reshape(out.shape)


def boxes(data, offset=0, end=None):
    """(type, data start, data end) of ISO base media boxes (AVIF) between offset and end."""
    end = len(data) if end is None else end
    while offset < end:
        size, kind = int.from_bytes(data[offset:offset + 4], "big"), data[offset + 4:offset + 8]
        head = 8
        if size == 1:
            size, head = int.from_bytes(data[offset + 8:offset + 16], "big"), 16
        elif size == 0:
            size = end - offset
        yield kind, offset + head, offset + size
        offset += size
