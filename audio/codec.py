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

Sizes (`Sizes`, bytes per clip; bits per sample of a study are 8 x these):

- total: the whole encoded file. MP3: every frame LAME wrote (our streams
  hold frames only: no ID3 or Info tag). lossless: the FLAC file of the
  16-bit clip (libsndfile's FLAC, its default compression), the lossless
  reference in a comparable coded form.
- payload: what codes the clip's own samples. MP3: the frames whose decoded
  output overlaps the clip. Frame k (`F` samples: 1152 at 32 kHz and up,
  576 below) decodes to output samples [k F, (k+1) F); the clip occupies
  output samples [ENCODER_DELAY, ENCODER_DELAY + n r / sr) at the MP3's rate
  r, so frames lying wholly in the encoder delay or in the end padding are
  left out. Each frame counts whole (header, side information and its
  main-data slot, bit reservoir as written). lossless: the FLAC audio frames,
  i.e. the file without its `fLaC` marker and metadata blocks.
- pcm: 2 bytes per sample of the clip (16-bit mono), the raw reference; the
  same at every level.
"""
import io
from typing import NamedTuple

import lameenc
import librosa
import numpy as np
import soundfile

from audio import BITRATES, DEFAULT_LEVELS, PAPER_LEVEL
from helmholtz.errors import UsageError

LOSSLESS = "lossless"
ENCODER_DELAY = 1105  # samples at the MP3's own rate
LAME_QUALITY = 3      # `lame` command default (lameenc's own default is the slower -q 2)
PCM_BYTES = 2         # per sample of the raw reference (16-bit mono)

# MPEG audio Layer III headers: kbps by bitrate index, Hz by sample-rate index
_KBPS = {1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),   # MPEG-1
         2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}       # MPEG-2, 2.5
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


class Sizes(NamedTuple):
    """Bytes of one encoded clip (see the module docstring)."""
    total: int
    payload: int
    pcm: int


class Frame(NamedTuple):
    offset: int
    length: int
    samples: int  # decoded samples per frame
    rate: int


# ---------------------------------------------------------------- the codec room (audio.SPEC.codecs)

LEVELS = DEFAULT_LEVELS  # the original's
LIBRARY = "lameenc (LAME)"


def version():
    from importlib.metadata import version as package_version
    return f"lameenc {package_version('lameenc')}"


def check_level(kbps):
    return check_bitrate(kbps)


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


def mp3_frames(mp3):
    """The Layer III frames of a stream that holds frames only, read from their headers."""
    frames, offset = [], 0
    while offset < len(mp3):
        header = int.from_bytes(mp3[offset:offset + 4], "big")
        version, layer = (header >> 19) & 3, (header >> 17) & 3
        bitrate_index, rate_index = (header >> 12) & 15, (header >> 10) & 3
        if header >> 21 != 0x7FF or layer != 1 or version == 1 or not 0 < bitrate_index < 15 \
                or rate_index == 3:
            raise ValueError(f"no MPEG Layer III frame header at byte {offset}")
        mpeg1 = version == 3
        kbps = _KBPS[1 if mpeg1 else 2][bitrate_index]
        rate = _RATES[version][rate_index]
        padding = (header >> 9) & 1
        length = (144 if mpeg1 else 72) * kbps * 1000 // rate + padding
        frames.append(Frame(offset, length, 1152 if mpeg1 else 576, rate))
        offset += length
    if offset != len(mp3):
        raise ValueError("the stream ends inside a frame")
    return frames


def mp3_payload(mp3, n_samples, sr):
    """Bytes of the frames whose decoded output overlaps the clip's n_samples at sr."""
    frames = mp3_frames(mp3)
    per_frame, rate = frames[0].samples, frames[0].rate
    start, end = ENCODER_DELAY, ENCODER_DELAY + n_samples * rate / sr
    return sum(f.length for k, f in enumerate(frames)
               if k * per_frame < end and (k + 1) * per_frame > start)


def flac_sizes(samples, sr):
    """(FLAC file bytes, its audio frames' bytes) of the clip as 16-bit PCM."""
    buffer = io.BytesIO()
    soundfile.write(buffer, to_pcm16(samples), sr, format="FLAC", subtype="PCM_16")
    flac = buffer.getvalue()
    offset, last = 4, False  # after the "fLaC" marker: metadata blocks, each with a 4-byte header
    while not last:
        last, length = flac[offset] >> 7, int.from_bytes(flac[offset + 1:offset + 4], "big")
        offset += 4 + length
    return len(flac), len(flac) - offset


def resample(samples, orig_sr, target_sr):
    if orig_sr == target_sr:
        return samples
    return librosa.resample(samples, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq")


def fit_length(samples, n):
    """Cut or zero-pad to exactly n samples."""
    samples = samples[:n]
    return np.pad(samples, (0, n - len(samples))) if len(samples) < n else samples


def _through_mp3(samples, sr, kbps):
    """(decoded samples lined up with `samples`, the MP3 bytes)."""
    samples = np.asarray(samples, np.float32)
    mp3 = mp3_encode(samples, sr, kbps)
    decoded, rate = mp3_decode(mp3)
    decoded = resample(decoded[ENCODER_DELAY:], rate, sr)
    return fit_length(decoded, len(samples)).astype(np.float32), mp3


def mp3_roundtrip(samples, sr=44100, kbps=PAPER_LEVEL):
    """Encode and decode; the result lines up with `samples` sample for sample.

    Returns (decoded float32 of the same length, encoded size in bytes).
    """
    decoded, mp3 = _through_mp3(samples, sr, kbps)
    return decoded, len(mp3)


def roundtrip(samples, sr, level):
    """(samples through the codec at `level`, their `Sizes`); `lossless` keeps the samples."""
    pcm = PCM_BYTES * len(samples)
    if level == LOSSLESS:
        return np.asarray(samples, np.float32), Sizes(*flac_sizes(samples, sr), pcm)
    decoded, mp3 = _through_mp3(samples, sr, level)
    return decoded, Sizes(len(mp3), mp3_payload(mp3, len(samples), sr), pcm)
