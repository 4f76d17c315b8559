"""How a CIFAR run trains (the hooks of cifar.SPEC): flags, data, augmentation, optimizer.

By default the original code, quirks included: images transposed before JPEG
encoding and trained transposed (so the "horizontal" flip is a vertical one),
ReLU on the dense heads' logits, and the test set doubling as the validation
set that picks the best epoch. Augmentation is Keras 2.1.5's
ImageDataGenerator as the original configured it: continuous shifts of up to
10% per axis, interpolated bilinearly with edges repeated, then a flip of the
array's columns with p = 0.5, on the float32 [0, 1] images. `--fixed` gives
the corrected protocol: images encoded and trained upright (the flip is then
horizontal), linear logits, 10% of train held out for validation, the test
set used once at the end.
"""
from cifar import DATASETS, DEFAULT_DATASET, OPTIMIZER, SPEC
from cifar import data as cifar_data
from helmholtz.cli import non_negative_float, positive_float
from helmholtz.data import codecs
from helmholtz.run.splits import fixed_shuffle

# ---------------------------------------------------------------- flags and settings


def add_flags(p):
    p.add_argument("--learning_rate", type=positive_float, default=OPTIMIZER["learning_rate"],
                   help="SGD's learning rate at the first batch")
    p.add_argument("--decay_rate", type=non_negative_float, default=OPTIMIZER["decay_rate"],
                   help="Keras-2 time decay per batch: lr / (1 + decay * iterations)")
    p.add_argument("--dataset", choices=DATASETS, default=DEFAULT_DATASET, help="source images")
    p.add_argument("--data", default=None,
                   help="local archive or folder of the dataset (default: downloaded to the cache)")
    codecs.add_flags(p, SPEC)


def orientation(fixed):
    return "upright" if fixed else "transposed"  # quirk 1: what is encoded and fed


def settings(args):
    # Keras 2 fit_generator(samples_per_epoch=N): N // batch_size steps, whole batches.
    return {"dataset": args.dataset, "drop_last_batch": True, "augmentation": AUGMENTATION,
            "orientation": orientation(args.fixed),
            **codecs.settings(SPEC, args, [args.level, *args.test_levels])}


def make_optimizer(settings):
    """SGD with Nesterov momentum and Keras 2's time decay of the learning rate per batch."""
    from helmholtz.backend import keras
    schedule = keras.optimizers.schedules.InverseTimeDecay(
        settings["learning_rate"], decay_steps=1, decay_rate=settings["decay_rate"])
    return keras.optimizers.SGD(schedule, momentum=settings["momentum"],
                                nesterov=settings["nesterov"])


# ---------------------------------------------------------------- data

def read_split(args, level, split):
    """Images encoded at `level` and kept transposed as the original's (quirk 1), or
    upright with --fixed, with their encoded sizes (cifar/codec.py)."""
    return cifar_data.load_split(args.dataset, level, split, args.data, args.cache_dir,
                                 orientation(args.fixed), *codecs.chosen(SPEC, args))


def hold_out(args, train):
    """A fixed shuffle of train; --fixed holds its first 10% out for model selection,
    else the test set picks the best epoch (quirk: the original's validation set)."""
    order = fixed_shuffle(len(train["label"]))
    if not args.fixed:
        return order, None
    n_val = len(order) // 10
    return order[n_val:], order[:n_val]


def describe(args, data, train):
    facts = {"source_channels": int(data.train[0].shape[-1])}
    _, noise = codecs.chosen(SPEC, args)
    if noise != codecs.NO_NOISE:  # the injected noise's bits per image (cifar/noise.py)
        facts["sensor_noise_bits"] = cifar_data.sensor_noise_bits(args.dataset, "train", noise,
                                                                  args.data, args.cache_dir)
    return facts


def build_model(name, args, facts):
    from cifar.models import build_model
    return build_model(name, args.fixed)


# ---------------------------------------------------------------- augmentation
# Keras 2.1.5 ImageDataGenerator(width_shift_range=0.1, height_shift_range=0.1,
# horizontal_flip=True), random_transform per image: draw the row shift, the
# column shift, shift (scipy affine_transform, bilinear, edges 'nearest'), then
# flip the columns with p = 0.5.
SHIFT = 0.1  # of the image size
AUGMENTATION = "keras2 shift 0.1 bilinear nearest + flip axis 2"


def draw_augmentation(n, seeds, h, w):
    """Per image, in Keras' order: row shift and column shift in pixels, continuous
    uniform on (-0.1 size, 0.1 size), and whether the columns are flipped."""
    import tensorflow as tf
    u = tf.random.stateless_uniform([n, 3], seed=seeds)
    return (u[:, 0] * 2 - 1) * (SHIFT * h), (u[:, 1] * 2 - 1) * (SHIFT * w), u[:, 2] < 0.5


def shift_and_flip(x, rows, cols, flip):
    """out[i, j] = x[i + rows, j' + cols] with j' = w - 1 - j where flipped, for a
    float batch (N, H, W, C): Keras' apply_transform of a pure shift (scipy
    affine_transform, order=1, mode='nearest') followed by flip_axis(x, 1)."""
    return _shift_axis(_shift_axis(x, rows, 1), cols, 2, flip)


def _shift_axis(x, offset, axis, flip=None):
    """Linear interpolation at (grid + offset) along one axis; bilinear is separable.
    Clipping the two taps to the edge equals scipy's 'nearest' (it clamps the
    coordinate, so both taps land on the edge pixel)."""
    import tensorflow as tf
    size = x.shape[axis]
    grid = tf.range(size)[None, :]
    if flip is not None:
        grid = tf.where(flip[:, None], size - 1 - grid, grid)
    whole = tf.floor(offset)
    first = grid + tf.cast(whole, tf.int32)[:, None]
    a = tf.gather(x, tf.clip_by_value(first, 0, size - 1), axis=axis, batch_dims=1)
    b = tf.gather(x, tf.clip_by_value(first + 1, 0, size - 1), axis=axis, batch_dims=1)
    frac = tf.reshape(offset - whole, [-1, 1, 1, 1])  # the grid is whole: one fraction per image
    return a + frac * (b - a)


def make_transform(channels):
    def transform(x, seeds, training):
        import tensorflow as tf
        # float32(uint8 / 255), the values the original stored (equal for all 256 values);
        # Keras interpolated those, so the shift comes after the scaling.
        x = tf.cast(x, tf.float32) / 255.0
        if training:
            x = shift_and_flip(x, *draw_augmentation(tf.shape(x)[0], seeds, x.shape[1], x.shape[2]))
        # Grey sources are fed as three equal channels so the six models stay as specified.
        return tf.repeat(x, 3, axis=-1) if channels == 1 else x
    return transform


def transform_for(args, facts):
    return make_transform(facts["source_channels"])
