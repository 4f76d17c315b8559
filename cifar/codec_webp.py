"""WebP (lossy, libwebp through Pillow): --quality q is Pillow's quality q, method 4
(its default), 4:2:0 colour. Grey images are coded as Pillow codes them (as RGB) and
read back as L.

Payload: the data of the `VP8 ` chunk, the VP8 key frame (its 10-byte frame header
included); without the RIFF header (12 bytes) and the chunk's header (8 bytes)."""
from cifar import DEFAULT_LEVELS, pillow_rooms

LEVELS = DEFAULT_LEVELS  # the nine of JPEG: they span its bits (docs/method.md)
PAYLOAD = "the VP8 chunk's data"
LIBRARY = "Pillow (libwebp)"


def setting(quality):
    return {"quality": quality, "method": 4}


version, check_level, encode = pillow_rooms.contract("webp", "WebP", "WEBP", "libwebp", setting)


def payload(data):
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP file")
    offset = 12
    while offset + 8 <= len(data):
        kind, length = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "little")
        if kind == b"VP8 ":
            return length
        offset += 8 + length + (length & 1)
    raise ValueError("a WebP file without a lossy VP8 chunk")


decode = pillow_rooms.load
