"""The CIFAR inputs against the original's own computation, redone independently:
its data step (transpose, one JPEG file per image written and read by Pillow),
its scaling (float32 of a float64 division) and Keras 2.1.5's augmentation
(random_transform re-stated on scipy's affine_transform)."""
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage, stats

from cifar import data
from cifar import train as cifar_train

QUALITIES = (5, 25, 75)


def original_float(images):
    """prepare_cifar.py: the decoded uint8 image / 255.0 (float64), then float32."""
    return (images / 255.0).astype("float32")


def original_round_trip(image, quality, folder):
    """restore_images.py + prepare_cifar.py for one (already transposed) image."""
    path = folder / f"{quality}.jpg"
    Image.fromarray(image).save(path, quality=quality)
    with Image.open(path) as back:
        return np.asarray(back.convert("RGB")), path.stat().st_size


def keras_shift_and_flip(x, tx, ty, flip):
    """Keras 2.1.5 ImageDataGenerator.random_transform with its three draws given
    (height shift tx, width shift ty, flip), for width/height_shift_range=0.1 and
    horizontal_flip on a float32 image (rows, cols, channels)."""
    h, w = x.shape[:2]
    o_x, o_y = h / 2 + 0.5, w / 2 + 0.5  # transform_matrix_offset_center
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    matrix = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]]) @ shift @ np.array(
        [[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    out = np.stack([ndimage.affine_transform(x[..., c], matrix[:2, :2], matrix[:2, 2], order=1,
                                             mode="nearest", cval=0.0)
                    for c in range(x.shape[-1])], axis=-1)  # apply_transform
    return out[:, ::-1] if flip else out  # flip_axis(x, img_col_axis=1)


# ---------------------------------------------------------------- JPEG order

def test_default_encodes_the_transposed_images_as_the_original(cifar_archive, cifar_images,
                                                                tmp_path):
    images = cifar_images[0]
    for quality in QUALITIES:
        ours = data.load_split("cifar10", quality, "train", cifar_archive, tmp_path / "cache")
        fixed = data.load_split("cifar10", quality, "train", cifar_archive, tmp_path / "cache",
                                orientation="upright")
        for i, image in enumerate(images):
            # convert_cifar10.py: (3, y, x) -> transpose -> (x, y, 3), then encoded as it is.
            pixels, size = original_round_trip(image.transpose(1, 0, 2), quality, tmp_path)
            np.testing.assert_array_equal(ours["data"][i], pixels)
            assert ours["bytes"][i] == size
            upright, upright_size = original_round_trip(image, quality, tmp_path)
            np.testing.assert_array_equal(fixed["data"][i], upright)
            assert fixed["bytes"][i] == upright_size
        # JPEG does not commute with the transposition: the order matters.
        assert not np.array_equal(ours["data"], fixed["data"].transpose(0, 2, 1, 3))


def test_training_sees_the_transposed_decoded_images_and_fixed_the_upright_ones(
        cifar_archive, cifar_images, tmp_path):
    def as_set(images):
        return sorted(image.tobytes() for image in images)

    images = cifar_images[0]
    for flags, orient in (([], lambda im: im.transpose(1, 0, 2)), (["--fixed"], lambda im: im)):
        args = cifar_train.parse_args(["--data", str(cifar_archive), "--quality", "25",
                                       "--cache_dir", str(tmp_path / "cache"), *flags])
        loaded, bits, _ = cifar_train.load_data(args)
        seen = list(loaded.train[0]) + (list(loaded.val[0]) if args.fixed else [])
        expected = [original_round_trip(orient(im), 25, tmp_path) for im in images]
        assert as_set(seen) == as_set(pixels for pixels, _ in expected)
        size_of = {pixels.tobytes(): size for pixels, size in expected}
        sizes = [size_of[im.tobytes()] for im in loaded.train[0]]
        assert bits["total"] == pytest.approx(8 * np.mean(sizes))


# ---------------------------------------------------------------- scaling

def test_scaling_is_the_originals_float32_of_a_float64_division():
    import tensorflow as tf
    from helmholtz.run.training import eval_batches
    values = np.repeat(np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1), 3, axis=-1)
    expected = original_float(values)
    transform = cifar_train.make_transform(3)
    batches = eval_batches(values, np.zeros(1, np.int64), 1, transform)  # as training runs it
    np.testing.assert_array_equal(next(iter(batches))[0].numpy(), expected)
    np.testing.assert_array_equal(transform(tf.constant(values), None, training=False).numpy(),
                                  expected)


# ---------------------------------------------------------------- augmentation

SHIFTS = [(0.0, 0.0, False), (0.0, 0.0, True), (-3.2, 3.2, False), (3.2, -3.2, True),
          (1.0, -2.0, False), (0.5, 0.25, True), (-0.37, 2.71, False), (2.999, -0.001, True),
          (-1.5, -3.19, True), (3.1, 0.8, False)]


def test_shift_and_flip_equals_keras_on_scipy_for_given_draws(cifar_images):
    import tensorflow as tf
    x = original_float(cifar_images[0][:len(SHIFTS)])
    rows, cols, flips = (np.array(v, dtype) for v, dtype in zip(zip(*SHIFTS), ("f4", "f4", bool)))
    ours = cifar_train.shift_and_flip(tf.constant(x), tf.constant(rows), tf.constant(cols),
                                      tf.constant(flips)).numpy()
    for i, (tx, ty, flip) in enumerate(zip(rows, cols, flips)):
        expected = keras_shift_and_flip(x[i], float(tx), float(ty), flip)
        np.testing.assert_allclose(ours[i], expected, rtol=0, atol=1e-6, err_msg=str(SHIFTS[i]))
    # No shift: the flip reverses the stored array's columns (the true image's rows by default).
    np.testing.assert_array_equal(ours[1], x[1][:, ::-1])


def test_training_transform_applies_its_draws_as_keras_did(cifar_images):
    import tensorflow as tf
    images = cifar_images[0]
    seeds = tf.constant([3, 7], tf.int64)
    out = cifar_train.make_transform(3)(tf.constant(images), seeds, training=True).numpy()
    rows, cols, flips = (v.numpy() for v in cifar_train.draw_augmentation(len(images), seeds, 32, 32))
    x = original_float(images)
    for i in range(len(images)):
        expected = keras_shift_and_flip(x[i], float(rows[i]), float(cols[i]), flips[i])
        np.testing.assert_allclose(out[i], expected, rtol=0, atol=1e-6)


def test_draws_are_continuous_uniform_shifts_and_fair_flips():
    import tensorflow as tf
    draws = [cifar_train.draw_augmentation(128, tf.constant([0, b], tf.int64), 32, 32)
             for b in range(160)]
    rows, cols, flips = (np.concatenate([d[k].numpy() for d in draws]) for k in range(3))
    n = len(flips)
    for shifts in (rows, cols):  # np.random.uniform(-0.1, 0.1) * 32
        assert stats.kstest(shifts, "uniform", args=(-3.2, 6.4)).pvalue > 1e-3
        assert np.mean(shifts == np.round(shifts)) < 1e-3  # sub-pixel, not whole pixels
    assert abs(np.corrcoef(rows, cols)[0, 1]) < 4 / np.sqrt(n)
    assert abs(flips.mean() - 0.5) < 4 * np.sqrt(0.25 / n)  # np.random.random() < 0.5
