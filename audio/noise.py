"""Known sensor noise on audio: white Gaussian noise at an SNR of X dB against the clip's
own RMS, added before any coding and rounded (and clipped) to 16-bit PCM. A clip gets
the same draws at every SNR, bitrate and codec: they are seeded by its file's path
within the source (helmholtz.data.sensor_noise)."""
import zlib

import numpy as np

from helmholtz.data.sensor_noise import standard_normal, unclipped_entropy

FULL_SCALE = 32768  # 16-bit PCM steps per unit


def add_noise(samples, snr_db, key):
    """(noisy samples on the 16-bit grid, the noise's information in bits over the clip).

    The noise's sigma is RMS / 10^(X/20); its information is the entropy of the rounded
    noise per sample (helmholtz.data.sensor_noise.unclipped_entropy, in PCM steps) times the
    samples: clipping at full scale is not counted (clips peak below it)."""
    samples = np.asarray(samples, np.float64)
    sigma = np.sqrt(np.mean(samples ** 2)) / 10 ** (snr_db / 20)
    z = standard_normal((zlib.crc32(key.encode()),), samples.shape)
    noisy = np.clip(np.round((samples + sigma * z) * FULL_SCALE), -FULL_SCALE, FULL_SCALE - 1)
    bits = len(samples) * unclipped_entropy(sigma * FULL_SCALE) if sigma > 0 else 0.0
    return (noisy / FULL_SCALE).astype(np.float32), float(bits)
