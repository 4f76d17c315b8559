"""Known sensor noise: Gaussian noise drawn the same for an example at every level and
codec, and its information per sample after rounding and clipping (docs/method.md).

A sample x (an integer level in [low, high]) becomes v = clip(round(x + sigma z),
low, high), z standard normal. Given x, v takes the value k with probability
    P(k) = Phi((k + 1/2 - x) / sigma) - Phi((k - 1/2 - x) / sigma)   for low < k < high,
    P(low) = Phi((low + 1/2 - x) / sigma),  P(high) = 1 - Phi((high - 1/2 - x) / sigma),
and the noise's own information is its entropy H(x) = -sum_k P(k) log2 P(k) bits.
Far from the ends H does not depend on x, and for sigma above about 2 it is close to
0.5 log2(2 pi e (sigma^2 + 1/12)), the Gaussian's with the rounding's variance added.
"""
import numpy as np
from scipy.special import ndtr

NOISE_SEED = 20200806  # of every example's noise; fixed, so that runs pair example by example


def standard_normal(key, shape):
    """The standard normal draws of one example (`key`: integers naming it), the same
    whatever the noise's size, level or codec."""
    return np.random.default_rng([NOISE_SEED, *key]).standard_normal(shape)


def entropy_table(sigma, low, high):
    """H(x) in bits for every integer x in low..high (the module's formula)."""
    x = np.arange(low, high + 1, dtype=np.float64)[:, None]
    k = np.arange(low, high + 1, dtype=np.float64)[None, :]
    upper = ndtr((k + 0.5 - x) / sigma)
    lower = ndtr((k - 0.5 - x) / sigma)
    upper[:, -1], lower[:, 0] = 1.0, 0.0  # the clipped ends take the tails
    p = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1)


def unclipped_entropy(sigma):
    """H of rounded Gaussian noise far from the ends (its value for any x there): the sum
    over k within 12 sigma of x = 0."""
    k = np.arange(-int(12 * sigma) - 2, int(12 * sigma) + 3, dtype=np.float64)
    p = ndtr((k + 0.5) / sigma) - ndtr((k - 0.5) / sigma)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def measured_entropy(values):
    """The plug-in entropy in bits of observed integer values."""
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())
