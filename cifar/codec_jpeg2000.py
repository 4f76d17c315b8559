"""JPEG 2000 (OpenJPEG through Pillow), a raw codestream (no JP2 boxes), one tile,
irreversible 9/7 wavelet: --quality q asks for a PSNR of
10 + 0.45 q dB (quality_mode "dB"; q 1 -> 10.45 dB, 50 -> 32.5 dB, 100 -> 55 dB), so
that the grid spans JPEG's bits.

Payload: the tile data after each start-of-data (SOD) marker up to the next tile or
the end-of-codestream marker (EOC) excluded; the main header (SIZ, COD, QCD...) and
the tile-part headers are left out."""
from cifar import DEFAULT_LEVELS, pillow_rooms

LEVELS = DEFAULT_LEVELS  # the nine of JPEG: they span its bits (docs/method.md)
PAYLOAD = "the tile data after SOD"
LIBRARY = "Pillow (OpenJPEG)"


def setting(quality):
    return {"quality_mode": "dB", "quality_layers": [10 + 0.45 * quality], "irreversible": True,
            "no_jp2": True}


version, check_level, encode = pillow_rooms.contract("jpg_2000", "JPEG 2000", "JPEG2000", "openjpeg",
                                                     setting)


def payload(data):
    """Sum over tile-parts (SOT, length Psot) of their bytes after SOD."""
    if data[:2] != b"\xff\x4f":
        raise ValueError("not a JPEG 2000 codestream (no SOC)")
    total, offset = 0, data.find(b"\xff\x90")
    while offset >= 0 and data[offset:offset + 2] == b"\xff\x90":
        psot = int.from_bytes(data[offset + 6:offset + 10], "big")
        end = offset + psot if psot else len(data) - 2
        sod = data.find(b"\xff\x93", offset, end)
        total += end - sod - 2
        offset = end
    return total


decode = pillow_rooms.load
