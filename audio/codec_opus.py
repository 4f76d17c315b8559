"""Opus (libopus through PyAV), constant bitrate (`vbr=off`), 20 ms frames, in Ogg. Opus
codes at 48 kHz: the clip is resampled to 48 kHz (soxr) before coding and back after.
The decoder drops the stream's pre-skip itself, so the decoded clip lines up (lag 0).
--bitrate k is libopus's bitrate k kbps, 6 to 256.

Payload: the Opus packets; without the Ogg pages' headers and the OpusHead and
OpusTags header packets."""
from audio import pyav_rooms

LIBRARY = pyav_rooms.LIBRARY
SETTINGS = {"codec": "libopus", "container": "ogg", "rate": 48000, "options": {"vbr": "off"}}


def version():
    return pyav_rooms.version("libopus")


def check_level(kbps):
    return pyav_rooms.check_kbps(kbps, 6, 256, "Opus")


def roundtrip(samples, sr, kbps):
    return pyav_rooms.roundtrip(samples, sr, check_level(kbps), **SETTINGS)
