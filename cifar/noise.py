"""Known sensor noise on images: Gaussian noise of sigma grey levels (8-bit), rounded and
clipped to 0..255, added to the upright source before any coding. Example i of a split
gets the same draws at every sigma, level and codec (helmholtz.data.sensor_noise)."""
import numpy as np

from helmholtz.data.sensor_noise import entropy_table, standard_normal

SPLIT_KEYS = {"train": 0, "test": 1}


def add_noise(images, sigma, split):
    """uint8 images (N, H, W, C) with the noise of sigma grey levels added."""
    shape = images.shape[1:]
    noisy = np.empty_like(images)
    for i, image in enumerate(images):
        z = standard_normal((SPLIT_KEYS[split], i), shape)
        noisy[i] = np.clip(np.round(image + sigma * z), 0, 255)
    return noisy


def noise_bits(images, sigma):
    """The noise's information per image in bits: the entropy of each noisy pixel given
    the clean one (its formula in helmholtz.data.sensor_noise), summed over the pixels, mean
    over the images."""
    counts = np.bincount(np.asarray(images, np.uint8).ravel(), minlength=256)
    return float(counts @ entropy_table(sigma, 0, 255) / max(len(images), 1))
