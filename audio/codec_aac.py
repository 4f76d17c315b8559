"""AAC-LC (FFmpeg's native encoder through PyAV) at 44.1 kHz in ADTS frames, its bitrate
set to k kbps (FFmpeg's AAC encoder holds it on average). The encoder's 1024 priming
samples are dropped after decoding, so the decoded clip lines up (lag 0). --bitrate k:
16 to 320 kbps (nothing below 16 codes).

Payload: the raw AAC frames; without their 7-byte ADTS headers."""
from audio import pyav_rooms

LEVELS = (16, 32, 64, 96, 128, 160)  # nothing codes below 16
LIBRARY = pyav_rooms.LIBRARY
SETTINGS = {"codec": "aac", "container": "adts", "rate": 44100, "options": {}, "delay": 1024}


def version():
    return pyav_rooms.version("aac")


def check_level(kbps):
    return pyav_rooms.check_kbps(kbps, 16, 320, "AAC")


def roundtrip(samples, sr, kbps):
    return pyav_rooms.roundtrip(samples, sr, check_level(kbps), **SETTINGS)
