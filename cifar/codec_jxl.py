"""JPEG XL (libjxl through imagecodecs): --quality q is libjxl's quality q (imagecodecs'
`level`; libjxl turns it into a butteraugli distance), effort 2 (fast: 0.5 ms per 28x28 image), a bare
codestream (no container). Grey images are coded as one channel.

Payload: the whole codestream. It has no separable header: its image header is a
few bit-packed bytes at its start, counted in."""
import numpy as np
import imagecodecs

from cifar import DEFAULT_LEVELS, pillow_rooms

LEVELS = DEFAULT_LEVELS  # the nine of JPEG: they span its bits (docs/method.md)
PAYLOAD = "the whole codestream"
LIBRARY = "imagecodecs (libjxl)"
if not imagecodecs.JPEGXL.available:
    raise ImportError("imagecodecs without JPEG XL", name="imagecodecs with JPEG XL")


def version():
    return f"imagecodecs {imagecodecs.__version__}, {imagecodecs.jpegxl_version()}"


def check_level(quality):
    return pillow_rooms.check_quality(quality, "JPEG XL")


def setting(quality):
    return {"level": quality, "effort": 2, "usecontainer": False}


def encode(image, quality):
    image = np.ascontiguousarray(image)
    return bytes(imagecodecs.jpegxl_encode(image[..., 0] if image.shape[-1] == 1 else image,
                                           **setting(quality), numthreads=1))


def payload(data):
    return len(data)


def decode(data, out):
    out[...] = imagecodecs.jpegxl_decode(data, numthreads=1).reshape(out.shape)
