"""Train one CIFAR model on JPEG-compressed images: one run of the study.

    cd cifar && python train.py --quality 5 --setting 0
    python cifar/train.py --dataset fashion-mnist --quality 25 --num_epoch 2 --subset 5000

By default this reproduces the original code, quirks included: images
transposed before JPEG encoding and trained transposed (so the "horizontal"
flip is a vertical one), ReLU on the dense heads' logits, and the test set
doubling as the validation set that picks the best epoch. Augmentation is Keras
2.1.5's ImageDataGenerator as the original configured it: continuous shifts of
up to 10% per axis, interpolated bilinearly with edges repeated, then a flip of
the array's columns with p = 0.5, on the float32 [0, 1] images. `--fixed` gives
the corrected protocol: images encoded and trained upright (the flip is then
horizontal), linear logits, 10% of train held out for validation, the test set
used once at the end.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cifar import DATASETS, DEFAULT_DATASET, DOMAIN, LEVEL_NAME, MODELS
from cifar import data as cifar_data
from helmholtz.cli import (model_name, non_negative_float, positive_float,
                           resolve_precision, trainer_parser)
from helmholtz.folder import open_run
from helmholtz.runs import default_log_dir, run_dir
from helmholtz.errors import UsageError, cli_main


def parse_args(argv=None):
    p = trainer_parser(__doc__.splitlines()[0], batch_size=128)
    p.add_argument("--quality", default="25", help="JPEG quality 1..100 or 'lossless' (default 25)")
    p.add_argument("--learning_rate", type=positive_float, default=0.01)
    p.add_argument("--decay_rate", type=non_negative_float, default=1e-6,
                   help="Keras-2 time decay per batch: lr / (1 + decay * iterations)")
    p.add_argument("--dataset", choices=DATASETS, default=DEFAULT_DATASET)
    p.add_argument("--data", default=None, help="local archive or folder of the dataset")
    p.add_argument("--test_quality", nargs="+", default=[],
                   help="also evaluate the best model on the test set at these levels")
    args = p.parse_args(argv)
    args.quality = cifar_data.parse_level(args.quality)
    args.test_quality = [cifar_data.parse_level(q) for q in args.test_quality]
    args.orientation = "upright" if args.fixed else "transposed"  # quirk 1: what is encoded and fed
    return args


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


def make_optimizer(learning_rate, decay_rate):
    """SGD with Nesterov momentum and Keras 2's time decay per batch."""
    from helmholtz.backend import keras
    schedule = keras.optimizers.schedules.InverseTimeDecay(
        learning_rate, decay_steps=1, decay_rate=decay_rate)
    return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True)


def load_data(args):
    """Arrays for the run: images encoded and kept transposed as the original's
    (quirk 1), or upright with --fixed; and the mean bits per image of the
    training images and of the test images at each --test_quality, total and
    payload (cifar/codec.py)."""
    from helmholtz.splits import Data, fixed_shuffle, take

    def split(level, name):
        s = cifar_data.load_split(args.dataset, level, name, args.data, args.cache_dir,
                                  args.orientation)
        return (s["data"], s["label"]), {"total": 8 * s["bytes"], "payload": 8 * s["payload"]}

    (train, train_bits), (test, _) = split(args.quality, "train"), split(args.quality, "test")
    order = fixed_shuffle(len(train[1]))
    if args.fixed:  # hold 10% of train out for model selection
        n_val = len(order) // 10
        val, order = take(train, order[:n_val]), order[n_val:]
    order = order[:args.subset]
    train = take(train, order)
    test_idx = fixed_shuffle(len(test[1]), args.test_subset)
    test = take(test, test_idx)
    extra, extra_bits = {}, {"total": {}, "payload": {}}
    for level in args.test_quality:
        xy, bits = split(level, "test")
        extra[level] = take(xy, test_idx)
        for kind in extra_bits:
            extra_bits[kind][str(level)] = float(bits[kind][test_idx].mean())
    if args.fixed:
        val = take(val, slice(0, args.test_subset))
        data = Data(train=train, val=val, test=test, extra_tests=extra)
    else:
        data = Data(train=train, val=test, extra_tests=extra, val_is_test=True)
    bits = {kind: float(train_bits[kind][order].mean()) for kind in train_bits}
    return data, bits, extra_bits


def main(argv=None):
    args = parse_args(argv)
    name = model_name(MODELS, args.setting, args.model)
    folder = Path(args.train_dir) if args.train_dir else run_dir(
        args.log_dir or default_log_dir(), DOMAIN, args.dataset, DEFAULT_DATASET, name,
        LEVEL_NAME, args.quality, args.seed)
    settings = {
        "domain": DOMAIN, "dataset": args.dataset, "model": name,
        "setting": MODELS.index(name),
        "level_name": LEVEL_NAME, "level": args.quality, "seed": args.seed,
        "batch_size": args.batch_size, "num_epoch": args.num_epoch,
        # Keras 2 fit_generator(samples_per_epoch=N): N // batch_size steps, whole batches.
        "drop_last_batch": True,
        "optimizer": {"name": "sgd", "learning_rate": args.learning_rate, "momentum": 0.9,
                      "nesterov": True, "decay_rate": args.decay_rate},
        "augmentation": AUGMENTATION, "fixed": args.fixed,
        "orientation": args.orientation,
        "protocol": "fixed" if args.fixed else "original",
        "precision": resolve_precision(args.precision), "subset": args.subset,
        "test_subset": args.test_subset, "data": args.data, "test_levels": args.test_quality,
    }
    run = open_run(folder, settings, args.force, args.restart_damaged)  # before the data
    if run.complete:
        return
    data, bits, extra_bits = load_data(args)  # before TensorFlow starts: caches fork workers

    from cifar.models import build_model
    from helmholtz.training import train_run

    channels = data.train[0].shape[-1]
    config = {
        **settings, "params": build_model(name, args.fixed).count_params(),
        "source_channels": int(channels),
        "train_size": len(data.train[1]), "val_size": len(data.val[1]),
        "test_size": len((data.test or data.val)[1]),
        "bits_per_sample": bits["total"], "payload_bits_per_sample": bits["payload"],
        "bits_per_sample_at": extra_bits["total"], "payload_bits_per_sample_at": extra_bits["payload"],
    }

    train_run(run, config, lambda: build_model(name, args.fixed),
              lambda: make_optimizer(args.learning_rate, args.decay_rate), data,
              make_transform(channels))


if __name__ == "__main__":
    cli_main(main)
