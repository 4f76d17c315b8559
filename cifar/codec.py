"""The image codec: JPEG at quality q (or PNG for `lossless`) in memory, decoded back;
and the round trip on all cores that the other codecs' rooms (cifar/codec_*.py) share.

Encoding is Pillow's, byte for byte: every JPEG is what
`Image.fromarray(image).save(buffer, "JPEG", quality=q)` writes (Pillow's
defaults: baseline, 4:2:0 chroma subsampling, standard Huffman tables, the
accurate integer DCT; grey images as one-channel JPEGs), tested at every
quality. Pillow makes a new libjpeg compressor for every image, and
libjpeg-turbo (from 3.2, bundled with Pillow 13) asks the CPU for its SIMD
support anew for each compressor: CPUID instructions, which trap to the
hypervisor on a virtual machine (about 4 us each here), 15 us per image
against the 5 us the encoding itself takes at 32x32. So we drive the libjpeg
that Pillow loaded through ctypes, with the calls Pillow's encoder
(libImaging/JpegEncode.c) makes for these settings, and keep one compressor
per process for every image. Where that is not possible (another libjpeg
ABI, or a start-up check that finds other bytes than Pillow's), Pillow's own
`Image.save` encodes: the same bytes, slower.

Decoding: simplejpeg when installed (libjpeg-turbo's decoder with less
overhead per call, tested to give Pillow's pixels), else Pillow.

Sizes per image (bits per sample are 8 x these):

- `bytes`, the total: the whole file, what the original's files held on
  disk. `lossless`: the PNG file (Pillow's defaults), the reference.
- `payload`: JPEG: the entropy-coded data, i.e. the bytes after the
  start-of-scan (SOS) segment up to the end-of-image marker (EOI) excluded,
  its stuffed zero bytes and final padding bits included. The rest is the
  header: SOI, the JFIF APP0 segment, quantisation tables, frame header,
  Huffman tables, the scan header and EOI. With Pillow's settings it is the
  same at every quality: 625 bytes in colour, 330 in grey (tested).
  `lossless`: the data of the PNG's IDAT chunks (the zlib stream of the
  filtered rows), without the signature, IHDR, the chunks' framing and IEND.
"""
import ctypes
import importlib
import io
import struct
import sys
import threading
from typing import NamedTuple

import numpy as np
import PIL
from PIL import Image, features

try:  # libjpeg-turbo's decoder with less per-call overhead; same pixels as Pillow's (tested)
    import simplejpeg
except ImportError:
    simplejpeg = None

from cifar import DEFAULT_LEVELS
from helmholtz.data.cache import parallel_map
from helmholtz.errors import UsageError

LOSSLESS = "lossless"
MODES = {1: "L", 3: "RGB"}  # channels -> Pillow mode
CHUNK = 500  # images per parallel task: keeps per-task overhead small
SETTINGS = ("Pillow defaults: 4:2:0 chroma subsampling, baseline, standard Huffman tables, "
            "accurate integer DCT")


def parse_level(text):
    """'25' -> 25, 'lossless' -> 'lossless'; anything else is a UsageError."""
    if isinstance(text, str) and text.strip().lower() == LOSSLESS:
        return LOSSLESS
    if isinstance(text, (int, np.integer)) and not isinstance(text, bool):
        q = int(text)
    elif isinstance(text, str) and text.strip().isdigit():
        q = int(text)
    else:
        q = None
    if q is None or not 1 <= q <= 100:
        raise UsageError(f"quality {text!r} is not valid; give an integer JPEG quality "
                         "from 1 to 100, or 'lossless'")
    return q


# ---------------------------------------------------------------- round trip

class Compressed(NamedTuple):
    """What the codec made of N images (the arrays a cache holds)."""
    data: np.ndarray     # uint8 (N, H, W, C): the decoded images
    bytes: np.ndarray    # int64 (N,): total encoded size
    payload: np.ndarray  # int64 (N,): the size without the header (module docstring)


def compress(images, level, desc="compressing", codec=None):
    """Codec round trip of uint8 images (N, H, W, C), C = 1 or 3, at `level`, on all cores.

    For 'lossless' the images come back unchanged, with their PNG sizes.
    codec: another codec's room module (cifar.SPEC.codecs), by default JPEG's (this one).
    """
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if len(images) == 0:
        return Compressed(images.copy(), np.zeros(0, np.int64), np.zeros(0, np.int64))
    room = None if codec is None or codec.__name__ == __name__ else codec.__name__
    jobs = [(images[i:i + CHUNK], level, room) for i in range(0, len(images), CHUNK)]
    parts = parallel_map(_compress_chunk, jobs, desc, chunksize=1)
    return Compressed(*(np.concatenate(arrays) for arrays in zip(*parts)))


def _compress_chunk(job):
    images, level, room = job
    if level == LOSSLESS:
        files = [encode_png(image) for image in images]
        return images.copy(), _sizes(files), _sizes(files, png_payload)
    if room is not None:  # another codec: one image at a time through its room
        codec = importlib.import_module(room)
        files = [codec.encode(image, level) for image in images]
        decoded = np.empty_like(images)
        for data, out in zip(files, decoded):
            codec.decode(data, out)
        return decoded, _sizes(files), _sizes(files, codec.payload)
    files = encode_jpegs(images, level)
    decoded = np.empty_like(images)
    for jpeg, out in zip(files, decoded):
        decode_jpeg(jpeg, out)
    return decoded, _sizes(files), _sizes(files, jpeg_payload)


def _sizes(files, size=len):
    return np.fromiter(map(size, files), np.int64, len(files))


# ---------------------------------------------------------------- the codec room (cifar.SPEC.codecs)

LEVELS = DEFAULT_LEVELS  # the original's nine
PAYLOAD = "JPEG entropy-coded data (after SOS, before EOI)"
LIBRARY = "Pillow (libjpeg-turbo)"


def version():
    return f"libjpeg-turbo {features.version('libjpeg_turbo')}"


def check_level(quality):
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) \
            or not 1 <= quality <= 100:
        raise UsageError(f"quality {quality!r} is outside JPEG's range; give 1 to 100 or 'lossless'")
    return int(quality)


def encode(image, quality):
    return encode_jpegs(image[None], quality)[0]


def payload(jpeg):
    return jpeg_payload(jpeg)


def decode(jpeg, out):
    decode_jpeg(jpeg, out)


# ---------------------------------------------------------------- encode, decode

def encode_jpegs(images, quality):
    """Pillow's JPEG of each uint8 image (N, H, W, C), C = 1 or 3, at `quality`:
    the bytes of Image.fromarray(image).save(buffer, "JPEG", quality=quality)."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if images.ndim != 4 or images.shape[-1] not in MODES or not 0 < images.shape[1] <= 65500 \
            or not 0 < images.shape[2] <= 65500:
        raise ValueError(f"images of shape {images.shape}: give uint8 (N, H, W, C), C = 1 or 3")
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality {quality}: give 1 to 100")
    compressor = _compressor()
    if compressor is None:
        return [_pillow_jpeg(image, quality) for image in images]
    return compressor.encode(images, int(quality))


def encode_png(image):
    """Pillow's PNG (default settings) of one uint8 image (H, W, C)."""
    buffer = io.BytesIO()
    _pillow_image(image).save(buffer, "PNG")
    return buffer.getvalue()


def decode_jpeg(jpeg, out):
    """Decode a JPEG into `out`, uint8 (H, W, C) of the encoded size."""
    h, w, c = out.shape
    if simplejpeg is not None:
        simplejpeg.decode_jpeg(jpeg, "GRAY" if c == 1 else "RGB", buffer=out)
    else:  # Pillow's JPEG decoder, without Image.open's format sniffing
        out[...] = np.asarray(Image.frombytes(MODES[c], (w, h), jpeg, "jpeg", (MODES[c], "")))\
            .reshape(h, w, c)


def _pillow_image(image):
    h, w, c = image.shape
    return Image.frombuffer(MODES[c], (w, h), np.ascontiguousarray(image), "raw", MODES[c], 0, 1)


def _pillow_jpeg(image, quality):
    buffer = io.BytesIO()
    _pillow_image(image).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


class _Compressor:
    """One libjpeg compressor, reused for every image. Per image it makes the
    calls Pillow's encoder makes for save(..., "JPEG", quality=q): set the size
    and colour space, jpeg_set_defaults, jpeg_set_quality(q, force_baseline),
    jpeg_start_compress(write all tables), the rows, jpeg_finish_compress.
    Struct layout: libjpeg's version-62 ABI on 64-bit Linux and macOS."""
    VERSION, STRUCT_SIZE, ERROR_MANAGER_SIZE = 62, 520, 168
    IMAGE_FIELDS = 48  # offset of image_width, image_height, input_components, in_color_space
    COLOR_SPACES = {1: 1, 3: 2}  # channels -> JCS_GRAYSCALE, JCS_RGB

    def __init__(self, lib):
        self.lib = lib
        vp, i32 = ctypes.c_void_p, ctypes.c_int
        for name, result, args in (
                ("jpeg_std_error", vp, [vp]), ("jpeg_CreateCompress", None, [vp, i32, ctypes.c_size_t]),
                ("jpeg_mem_dest", None, [vp, vp, vp]), ("jpeg_set_defaults", None, [vp]),
                ("jpeg_set_quality", None, [vp, i32, i32]), ("jpeg_start_compress", None, [vp, i32]),
                ("jpeg_write_scanlines", ctypes.c_uint, [vp, vp, ctypes.c_uint]),
                ("jpeg_finish_compress", None, [vp])):
            function = getattr(lib, name)  # AttributeError where the library lacks it
            function.restype, function.argtypes = result, args
        self.error_manager = ctypes.create_string_buffer(self.ERROR_MANAGER_SIZE)
        self.cinfo = ctypes.create_string_buffer(self.STRUCT_SIZE)
        ctypes.c_void_p.from_buffer(self.cinfo).value = lib.jpeg_std_error(self.error_manager)
        lib.jpeg_CreateCompress(self.cinfo, self.VERSION, self.STRUCT_SIZE)
        self.image_fields = np.frombuffer(self.cinfo, np.int32, 4, self.IMAGE_FIELDS)
        self.out_pointer, self.out_size = ctypes.c_void_p(), ctypes.c_ulong()

    def encode(self, images, quality):
        n, h, w, c = images.shape
        lib, cinfo = self.lib, ctypes.addressof(self.cinfo)
        out_pointer, out_size = ctypes.addressof(self.out_pointer), ctypes.addressof(self.out_size)
        capacity = 6 * (h + 16) * (w + 16) + 4096  # twice TurboJPEG's bound for 4:2:0
        out = ctypes.create_string_buffer(capacity)
        # Pointers to every row of every image, in one array.
        rows = images.ctypes.data + np.arange(n * h, dtype=np.uintp) * (w * c)
        row_pointers, row_step = rows.ctypes.data, h * rows.itemsize
        self.image_fields[:] = (w, h, c, self.COLOR_SPACES[c])  # kept by the calls below
        files = []
        for i in range(n):
            self.out_pointer.value, self.out_size.value = ctypes.addressof(out), capacity
            lib.jpeg_mem_dest(cinfo, out_pointer, out_size)
            lib.jpeg_set_defaults(cinfo)
            lib.jpeg_set_quality(cinfo, quality, 1)
            lib.jpeg_start_compress(cinfo, 1)
            if lib.jpeg_write_scanlines(cinfo, row_pointers + i * row_step, h) != h:
                raise RuntimeError("libjpeg took fewer rows than given")
            lib.jpeg_finish_compress(cinfo)
            # Read where libjpeg says: it would have moved to a buffer of its own if ours were short.
            files.append(ctypes.string_at(self.out_pointer.value, self.out_size.value))
        return files


_per_thread = threading.local()  # a compressor serves one thread (and a forked child)


def _compressor():
    """This thread's reusable compressor, or None where Pillow's Image.save must encode."""
    if not hasattr(_per_thread, "compressor"):
        _per_thread.compressor = _new_compressor()
    return _per_thread.compressor


def _new_compressor():
    """A compressor on the libjpeg that Pillow's extension loaded (symbols looked
    up through it), if it gives Pillow's bytes on test images; else None."""
    if not sys.platform.startswith(("linux", "darwin")) or ctypes.sizeof(ctypes.c_void_p) != 8 \
            or features.version("jpg") != "6.2":
        return None
    from PIL import _imaging
    try:
        compressor = _Compressor(ctypes.CDLL(_imaging.__file__))
    except (OSError, AttributeError):
        return None
    rng = np.random.default_rng(0)
    for channels in MODES:
        probe = rng.integers(0, 256, (2, 24, 40, channels), np.uint8)
        probe[0] = np.sort(probe[0], axis=1)  # a smooth image beside the noise
        for quality in (5, 50, 95):
            if compressor.encode(probe, quality) != [_pillow_jpeg(p, quality) for p in probe]:
                return None
    return compressor


def encoder_name():
    """Which code path writes the JPEG bytes in this process (the bytes are Pillow's either way)."""
    return "Pillow's libjpeg, one compressor reused" if _compressor() else "Pillow Image.save"


# ---------------------------------------------------------------- sizes

_SEGMENT = struct.Struct(">BBH")  # a JPEG marker segment's start: FF, type, length


def jpeg_payload(jpeg):
    """Bytes of a baseline JPEG's entropy-coded data: after its SOS segment, before EOI."""
    if jpeg[:2] != b"\xff\xd8" or jpeg[-2:] != b"\xff\xd9":
        raise ValueError("not a complete JPEG (no SOI at the start or no EOI at the end)")
    offset = 2
    while True:  # marker segments: FF, type, 2-byte length that counts itself
        if offset + 4 > len(jpeg):
            raise ValueError("a JPEG without a scan")
        marker, kind, length = _SEGMENT.unpack_from(jpeg, offset)
        if marker != 0xFF:
            raise ValueError(f"no JPEG marker at byte {offset}")
        offset += 2 + length
        if kind == 0xDA:  # start of scan: the entropy-coded data follows
            return len(jpeg) - 2 - offset


def png_payload(png):
    """Bytes of a PNG's IDAT chunk data (the compressed image stream)."""
    offset, payload = 8, 0  # after the signature: chunks of length (4), type (4), data, CRC (4)
    while offset < len(png):
        length = int.from_bytes(png[offset:offset + 4], "big")
        if png[offset + 4:offset + 8] == b"IDAT":
            payload += length
        offset += 12 + length
    return payload


def codec_record(level, channels, codec=None):
    """What produced a level's pixels and sizes; part of every cache record.
    codec: another codec's room module, by default JPEG's."""
    mode = MODES[channels]
    if codec is not None and codec.__name__ != __name__ and level != LOSSLESS:
        return {"pillow": PIL.__version__, "sizes": {"bytes": "the whole file",
                                                      "payload": codec.PAYLOAD},
                "codec": {"room": codec.__name__, "library": codec.LIBRARY, "version": codec.version(),
                          "quality": level, "setting": codec.setting(level), "mode": mode}}
    sizes = {"bytes": "the whole file", "payload": "PNG IDAT data" if level == LOSSLESS
             else "JPEG entropy-coded data (after SOS, before EOI)"}
    if level == LOSSLESS:
        codec = {"format": "PNG", "mode": mode, "settings": "Pillow defaults",
                 "zlib": features.version("zlib")}
    else:
        codec = {"format": "JPEG", "quality": level, "mode": mode, "settings": SETTINGS,
                 "encoder": encoder_name(), "libjpeg": features.version("jpg"),
                 "libjpeg_turbo": features.version("libjpeg_turbo"),
                 "decoder": f"simplejpeg {simplejpeg.__version__}" if simplejpeg else "Pillow"}
    return {"pillow": PIL.__version__, "codec": codec, "sizes": sizes}
