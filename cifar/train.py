"""Train one CIFAR model on JPEG-compressed images: one run of the study.

    cd cifar && python train.py --quality 5 --setting 0
    python cifar/train.py --dataset fashion-mnist --quality 25 --num_epoch 2 --subset 5000

By default this reproduces the original code, quirks included: images stored
transposed (so the "horizontal" flip is a vertical one), ReLU on the dense
heads' logits, and the test set doubling as the validation set that picks the
best epoch. `--fixed` gives the corrected protocol: true orientation, linear
logits, 10% of train held out for validation, the test set used once at the end.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cifar import DATASETS, DEFAULT_DATASET, DOMAIN, LEVEL_NAME, MODELS
from cifar import data as cifar_data
from helmholtz.cli import model_name, trainer_parser
from helmholtz.errors import UsageError, cli_main


def parse_args(argv=None):
    p = trainer_parser(__doc__.splitlines()[0], batch_size=128)
    p.add_argument("--quality", default="25", help="JPEG quality 1..100 or 'lossless' (default 25)")
    p.add_argument("--learning_rate", type=float, default=0.01)
    p.add_argument("--decay_rate", type=float, default=1e-6,
                   help="Keras-2 time decay per batch: lr / (1 + decay * iterations)")
    p.add_argument("--dataset", choices=DATASETS, default=DEFAULT_DATASET)
    p.add_argument("--data", default=None, help="local archive or folder of the dataset")
    p.add_argument("--test_quality", nargs="+", default=[],
                   help="also evaluate the best model on the test set at these levels")
    args = p.parse_args(argv)
    args.quality = cifar_data.parse_level(args.quality)
    args.test_quality = [cifar_data.parse_level(q) for q in args.test_quality]
    return args


def shift_and_flip(x, seeds):
    """Keras-2 ImageDataGenerator(width/height_shift_range=0.1, fill 'nearest',
    horizontal_flip) on a uint8 batch, as two gathers: shifts move the index
    grid, clipping the indices repeats the edge pixels ('nearest' fill)."""
    import tensorflow as tf
    n, h, w = tf.shape(x)[0], x.shape[1], x.shape[2]
    u = tf.random.stateless_uniform([n, 3], seed=seeds)
    dy = tf.cast(tf.round((u[:, 0] * 2 - 1) * 0.1 * h), tf.int32)
    dx = tf.cast(tf.round((u[:, 1] * 2 - 1) * 0.1 * w), tf.int32)
    rows = tf.clip_by_value(tf.range(h)[None, :] - dy[:, None], 0, h - 1)
    cols = tf.clip_by_value(tf.range(w)[None, :] - dx[:, None], 0, w - 1)
    cols = tf.where(u[:, 2:3] < 0.5, w - 1 - cols, cols)
    x = tf.gather(x, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def make_transform(channels):
    def transform(x, seeds, training):
        import tensorflow as tf
        if training:
            x = shift_and_flip(x, seeds)
        x = tf.cast(x, tf.float32) / 255.0
        # Grey sources are fed as three equal channels so the six models stay as specified.
        return tf.repeat(x, 3, axis=-1) if channels == 1 else x
    return transform


def load_data(args):
    """Arrays for the run, with the original's transposition unless --fixed."""
    from helmholtz.splits import Data, fixed_shuffle, take

    def split(level, name):
        s = cifar_data.load_split(args.dataset, level, name, args.data, args.cache_dir)
        x = s["data"] if args.fixed else s["data"].transpose(0, 2, 1, 3)  # quirk 1
        return (x, s["label"]), s["bytes"]

    (train, train_bytes), (test, _) = split(args.quality, "train"), split(args.quality, "test")
    order = fixed_shuffle(len(train[1]))
    if args.fixed:  # hold 10% of train out for model selection
        n_val = len(order) // 10
        val, order = take(train, order[:n_val]), order[n_val:]
    order = order[:args.subset]
    train, train_bytes = take(train, order), train_bytes[order]
    test_idx = fixed_shuffle(len(test[1]), args.test_subset)
    test = take(test, test_idx)
    extra, extra_bits = {}, {}
    for level in args.test_quality:
        xy, nbytes = split(level, "test")
        extra[level], extra_bits[str(level)] = take(xy, test_idx), float(nbytes[test_idx].mean() * 8)
    if args.fixed:
        val = take(val, slice(0, args.test_subset))
        data = Data(train=train, val=val, test=test, extra_tests=extra)
    else:
        data = Data(train=train, val=test, extra_tests=extra, val_is_test=True)
    return data, float(train_bytes.mean() * 8), extra_bits


def main(argv=None):
    args = parse_args(argv)
    name = model_name(MODELS, args.setting, args.model)
    data, bits, extra_bits = load_data(args)  # before TensorFlow starts: caches fork workers

    from helmholtz.backend import keras
    from cifar.models import build_model
    from helmholtz.runs import default_log_dir, run_dir
    from helmholtz.training import resolve_precision, train_run

    channels = data.train[0].shape[-1]
    config = {
        "domain": DOMAIN, "dataset": args.dataset, "model": name,
        "setting": MODELS.index(name),
        "params": build_model(name, args.fixed).count_params(),
        "level_name": LEVEL_NAME, "level": args.quality, "seed": args.seed,
        "batch_size": args.batch_size, "num_epoch": args.num_epoch,
        "optimizer": {"name": "sgd", "learning_rate": args.learning_rate, "momentum": 0.9,
                      "nesterov": True, "decay_rate": args.decay_rate},
        "augmentation": "shift 0.1 (nearest) + flip", "fixed": args.fixed,
        "protocol": "fixed" if args.fixed else "original",
        "precision": resolve_precision(args.precision), "subset": args.subset,
        "test_subset": args.test_subset, "data": args.data, "source_channels": int(channels),
        "train_size": len(data.train[1]), "val_size": len(data.val[1]),
        "test_size": len((data.test or data.val)[1]),
        "test_levels": args.test_quality, "bits_per_sample": bits, "bits_per_sample_at": extra_bits,
    }
    folder = Path(args.train_dir) if args.train_dir else run_dir(
        args.log_dir or default_log_dir(), DOMAIN, args.dataset, DEFAULT_DATASET, name,
        LEVEL_NAME, args.quality, args.seed)

    def make_optimizer():
        schedule = keras.optimizers.schedules.InverseTimeDecay(
            args.learning_rate, decay_steps=1, decay_rate=args.decay_rate)
        return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True)

    train_run(folder, config, lambda: build_model(name, args.fixed), make_optimizer, data,
              make_transform(channels), force=args.force)


if __name__ == "__main__":
    cli_main(main)
