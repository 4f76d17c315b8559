"""Opus (libopus through PyAV), constant bitrate (`vbr=off`), 20 ms frames, in Ogg. Opus
codes at 48 kHz: the clip is resampled to 48 kHz (soxr) before coding and back after.
The decoder drops the stream's pre-skip itself; at 8 kbps and below libopus codes
narrowband, whose decoded audio comes 6 samples (at 48 kHz) later still, dropped here:
the decoded clip lines up (lag 0, tested at every level).
--bitrate k is libopus's bitrate k kbps, 6 to 256.

Payload: the Opus packets; without the Ogg pages' headers and the OpusHead and
OpusTags header packets."""
from audio import pyav_rooms

LEVELS = (8, 16, 32, 64, 96, 128)  # MP3's
LIBRARY = pyav_rooms.LIBRARY
SETTINGS = {"codec": "libopus", "container": "ogg", "rate": 48000, "options": {"vbr": "off"}}


def version():
    return pyav_rooms.version("libopus")


def check_level(kbps):
    return pyav_rooms.check_kbps(kbps, 6, 256, "Opus")


NARROWBAND_KBPS, NARROWBAND_DELAY = 8, 6


def roundtrip(samples, sr, kbps):
    delay = NARROWBAND_DELAY if check_level(kbps) <= NARROWBAND_KBPS else 0
    return pyav_rooms.roundtrip(samples, sr, kbps, **SETTINGS, delay=delay)
