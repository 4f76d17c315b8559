"""Vorbis (libvorbis through libsndfile, PyPI `soundfile`) at 44.1 kHz in Ogg. libsndfile
sets no bitrate, only a variable-rate compression level c in 0..1: --bitrate k maps to
c = (192 - k) / 128, so 64 kbps -> 1 (its lowest rate), 128 -> 0.5, 192 -> 0; the
rates it reaches depend on the clip (the report shows the measured bits). The decoded
clip lines up as it is (lag 0). --bitrate k: 64 to 192 kbps.

Payload: the bodies of the Ogg pages of audio (granule position above 0); without
the pages' headers and the three Vorbis header packets (about 3.2 KB per clip)."""
import io

import numpy as np
import soundfile

from audio.codec import PCM_BYTES, Sizes, fit_length, resample
from helmholtz.errors import UsageError

LEVELS = (64, 80, 96, 128, 160, 192)  # libsndfile's range
LIBRARY = "soundfile (libsndfile, libvorbis)"
RATE = 44100


def version():
    return f"soundfile {soundfile.__version__}, {soundfile.__libsndfile_version__}"


def check_level(kbps):
    if isinstance(kbps, bool) or not isinstance(kbps, (int, np.integer)) or not 64 <= kbps <= 192:
        raise UsageError(f"bitrate {kbps!r} kbps is outside Vorbis's range; give 64 to 192 kbps "
                         "or 'lossless'")
    return int(kbps)


def compression_level(kbps):
    return (192 - check_level(kbps)) / 128


def payload(ogg):
    """Bytes of the bodies of the Ogg pages with a granule position above 0."""
    total, offset = 0, 0
    while offset + 27 <= len(ogg):
        if ogg[offset:offset + 4] != b"OggS":
            raise ValueError(f"no Ogg page at byte {offset}")
        granule = int.from_bytes(ogg[offset + 6:offset + 14], "little", signed=True)
        segments = ogg[offset + 26]
        body = sum(ogg[offset + 27:offset + 27 + segments])
        if granule > 0:
            total += body
        offset += 27 + segments + body
    return total


def roundtrip(samples, sr, kbps):
    samples = np.asarray(samples, np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, resample(samples, sr, RATE), RATE, format="OGG", subtype="VORBIS",
                    compression_level=compression_level(kbps))
    data = buffer.getvalue()
    decoded, got = soundfile.read(io.BytesIO(data), dtype="float32")
    decoded = resample(decoded, got, sr)
    return fit_length(decoded, len(samples)).astype(np.float32), \
        Sizes(len(data), payload(data), PCM_BYTES * len(samples))
