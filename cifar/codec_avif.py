"""AVIF (libavif with the AOM encoder, through Pillow): --quality q is Pillow's quality q,
at speed 10 (the fastest: the whole grid of a data set fits the time budget; 2-5 ms per
32x32 image at the default speed 6), 4:2:0 colour, one encoder thread (the data step's
workers fill the cores). Grey images as Pillow codes them.

Payload: the data of the `mdat` box (the AV1 bitstream of the image); without the
ISO base media boxes around it (ftyp, meta with the item properties)."""
from cifar import DEFAULT_LEVELS, pillow_rooms

LEVELS = DEFAULT_LEVELS  # the nine of JPEG: they span its bits (docs/method.md)
PAYLOAD = "the mdat box's data"
LIBRARY = "Pillow (libavif)"


def setting(quality):
    return {"quality": quality, "speed": 10, "subsampling": "4:2:0", "max_threads": 1}


version, check_level, encode = pillow_rooms.contract("avif", "AVIF", "AVIF", "libavif", setting)


def payload(data):
    return sum(end - start for kind, start, end in pillow_rooms.boxes(data) if kind == b"mdat")


decode = pillow_rooms.load
