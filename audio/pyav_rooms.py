"""What the FFmpeg-coded audio rooms share (audio/codec_opus.py, codec_aac.py): a clip
through a PyAV encoder into a container in memory, and back."""
import io
from importlib.metadata import version as package_version

import av
import numpy as np

from audio.codec import PCM_BYTES, Sizes, fit_length, resample
from helmholtz.errors import UsageError

LIBRARY = "av (PyAV, FFmpeg)"


def version(codec):
    return f"av {package_version('av')}, {codec} of FFmpeg {av.ffmpeg_version_info}"


def check_kbps(kbps, low, high, codec):
    if isinstance(kbps, bool) or not isinstance(kbps, (int, np.integer)) or not low <= kbps <= high:
        raise UsageError(f"bitrate {kbps!r} kbps is outside {codec}'s range; give {low} to "
                         f"{high} kbps or 'lossless'")
    return int(kbps)


def encode(samples, rate, codec, container, kbps, options):
    """(the container's bytes, the bytes of the coded audio packets) of mono samples."""
    buffer, payload = io.BytesIO(), 0
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate, stream.options = kbps * 1000, dict(options)
        frame = av.AudioFrame.from_ndarray(np.asarray(samples, np.float32)[None], format="flt",
                                           layout="mono")
        frame.rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            payload += packet.size
            out.mux(packet)
    return buffer.getvalue(), payload


def decode(data):
    """(mono float32 samples, their rate) of a container's audio."""
    with av.open(io.BytesIO(data)) as container:
        frames = [frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)]
        rate = container.streams.audio[0].rate
    return np.concatenate(frames).astype(np.float32), rate


def roundtrip(samples, sr, kbps, codec, container, rate, options, delay=0):
    """(decoded samples lined up with `samples` and cut to their length, Sizes): resampled to
    the codec's rate and back, `delay` samples (at that rate) dropped from the start."""
    samples = np.asarray(samples, np.float32)
    data, payload = encode(resample(samples, sr, rate), rate, codec, container, kbps, options)
    decoded, got = decode(data)
    decoded = resample(decoded[delay:], got, sr)
    return fit_length(decoded, len(samples)).astype(np.float32), \
        Sizes(len(data), payload, PCM_BYTES * len(samples))
