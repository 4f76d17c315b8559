"""Known sensor noise: its entropy formula against the entropy measured on drawn noise,
the same draws for an example at every size, level and codec, and the records."""
import numpy as np
import pytest

from audio.noise import FULL_SCALE, add_noise as add_audio_noise
from cifar.noise import add_noise, noise_bits
from helmholtz.data.sensor_noise import entropy_table, measured_entropy, unclipped_entropy


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.0, 8.0, 30.0])
@pytest.mark.parametrize("value", [0, 3, 128, 250, 255])
def test_entropy_formula_matches_the_measured_entropy_of_rounded_clipped_noise(sigma, value):
    images = np.full((400, 16, 16, 1), value, np.uint8)
    noisy = add_noise(images, sigma, "train")
    measured = measured_entropy(noisy)  # 102,400 draws of one pixel value
    assert measured == pytest.approx(entropy_table(sigma, 0, 255)[value], abs=0.02)


def test_far_from_the_ends_the_entropy_is_the_gaussians():
    for sigma in (3.0, 8.0, 1000.0):
        gaussian = 0.5 * np.log2(2 * np.pi * np.e * (sigma ** 2 + 1 / 12))
        assert unclipped_entropy(sigma) == pytest.approx(gaussian, abs=2e-3)
        assert unclipped_entropy(sigma) == pytest.approx(entropy_table(sigma, 0, 255)[128], abs=1e-9) \
            or sigma > 20
    assert entropy_table(8.0, 0, 255)[0] < entropy_table(8.0, 0, 255)[128]  # clipping removes bits


def test_noise_bits_per_image_sum_the_pixels_entropy():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 8, 8, 3)).astype(np.uint8)
    table = entropy_table(4.0, 0, 255)
    assert noise_bits(images, 4.0) == pytest.approx(table[images].sum() / len(images))


def test_an_example_gets_the_same_draws_at_every_size():
    images = np.full((3, 8, 8, 1), 128, np.int64).astype(np.uint8)
    small, large = (add_noise(images, s, "test").astype(float) - 128 for s in (10.0, 20.0))
    assert np.allclose(np.round(large / 2), np.round(small), atol=1)  # one draw, scaled
    assert not np.array_equal(small[0], small[1])  # each example its own
    assert np.array_equal(add_noise(images, 10.0, "test"), add_noise(images, 10.0, "test"))
    assert not np.array_equal(add_noise(images, 10.0, "test"), add_noise(images, 10.0, "train"))


def test_audio_noise_has_the_snr_asked_for_and_its_entropy():
    rng = np.random.default_rng(1)
    clip = (0.1 * rng.standard_normal(44100)).astype(np.float32)
    clip = np.round(clip * FULL_SCALE) / FULL_SCALE
    noisy, bits = add_audio_noise(clip, 20.0, "a/b.wav")
    noise = noisy.astype(np.float64) - clip
    assert 10 * np.log10(np.mean(clip ** 2) / np.mean(noise ** 2)) == pytest.approx(20.0, abs=0.1)
    steps = np.round(noise * FULL_SCALE).astype(np.int64)
    assert bits / len(clip) == pytest.approx(measured_entropy(steps), abs=0.05)
    again, _ = add_audio_noise(clip, 20.0, "a/b.wav")
    assert np.array_equal(noisy, again) and not np.array_equal(noisy, add_audio_noise(clip, 20.0, "c.wav")[0])
