"""The MP3 step: LAME CBR encode in memory, decode, and line up with the original.

`mp3_roundtrip` is what `lame -b <kbps> clip.wav` followed by a decoder does,
made sample-exact so the original and the decoded clip can be compared frame
by frame:

- LAME (PyPI `lameenc`, LAME 3.100) encodes 16-bit PCM at a constant bitrate
  with the command line's default `-q 3`. At low bitrates it lowers the sample
  rate itself (8 kbps -> 8 kHz, 16 -> 16 kHz, 32 -> 22.05 kHz, 48 -> 32 kHz,
  64 and up keep 44.1 kHz), exactly as the `lame` command does.
- libsndfile (PyPI `soundfile`) decodes. A raw LAME stream carries no gapless
  tag, so the decoded audio starts `ENCODER_DELAY` samples late (LAME's 576
  plus the decoder's 529, counted at the MP3's own rate) and ends with padding.
- We drop the delay at the MP3's rate, resample back to the input rate (soxr,
  librosa's resampler, which keeps time alignment) and cut or zero-pad to the
  original length. Cross-correlation of original and decoded peaks at lag 0.

The original decoded `lame -b` files with ffmpeg. At 64 kbps and up the
`lame` command writes a gapless (Info) tag that ffmpeg honours, and its clips
are these samples. At 32 kbps and below the frames are too small for the tag,
so its decoded clips kept the delay and the padding: 2210 / 3046 / 6091
samples late at 32 / 16 / 8 kbps (at 44.1 kHz), 178 / 180 / 187 frames long
instead of 173. We keep the alignment at every bitrate, so that all levels
share one input shape and timing (models are also tested at other levels);
docs/fidelity.md gives the size of the difference.

The size of a clip is the real encoded MP3 byte count; the `lossless` level
keeps the samples and counts 16-bit PCM bytes, the uncompressed reference.
"""
import io

import lameenc
import librosa
import numpy as np
import soundfile

from audio import BITRATES, PAPER_LEVEL
from helmholtz.errors import UsageError

LOSSLESS = "lossless"
ENCODER_DELAY = 1105  # samples at the MP3's own rate
LAME_QUALITY = 3      # `lame` command default (lameenc's own default is the slower -q 2)
PCM_BYTES = 2         # per sample of the lossless reference (16-bit mono)


def check_bitrate(kbps):
    if kbps not in BITRATES:
        raise UsageError(f"bitrate {kbps} kbps is not one LAME accepts for CBR; "
                         f"choose one of {', '.join(map(str, BITRATES))} or {LOSSLESS}")
    return kbps


def to_pcm16(samples):
    """float in [-1, 1) -> int16, exact for audio that was read from 16-bit files."""
    return np.clip(np.round(np.asarray(samples, np.float64) * 32768), -32768, 32767).astype("<i2")


def mp3_encode(samples, sr, kbps):
    """Mono float samples -> CBR MP3 bytes."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(check_bitrate(kbps))
    encoder.set_in_sample_rate(sr)
    encoder.set_channels(1)
    encoder.set_quality(LAME_QUALITY)
    pcm = to_pcm16(samples).tobytes()
    return bytes(encoder.encode(pcm)) + bytes(encoder.flush())


def mp3_decode(mp3):
    """MP3 bytes -> (mono float32 samples, the MP3's sample rate)."""
    decoded, rate = soundfile.read(io.BytesIO(mp3), dtype="float32", always_2d=True)
    return decoded.mean(axis=1), rate


def resample(samples, orig_sr, target_sr):
    if orig_sr == target_sr:
        return samples
    return librosa.resample(samples, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")


def fit_length(samples, n):
    """Cut or zero-pad to exactly n samples."""
    samples = samples[:n]
    return np.pad(samples, (0, n - len(samples))) if len(samples) < n else samples


def mp3_roundtrip(samples, sr=44100, kbps=PAPER_LEVEL):
    """Encode and decode; the result lines up with `samples` sample for sample.

    Returns (decoded float32 of the same length, encoded size in bytes).
    """
    samples = np.asarray(samples, np.float32)
    mp3 = mp3_encode(samples, sr, kbps)
    decoded, rate = mp3_decode(mp3)
    decoded = resample(decoded[ENCODER_DELAY:], rate, sr)
    return fit_length(decoded, len(samples)).astype(np.float32), len(mp3)


def roundtrip(samples, sr, level):
    """`mp3_roundtrip` for a bitrate, or the samples themselves for `lossless`."""
    if level == LOSSLESS:
        return np.asarray(samples, np.float32), PCM_BYTES * len(samples)
    return mp3_roundtrip(samples, sr, level)
