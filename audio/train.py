"""Train one audio-effects model on MP3-compressed clips: one run of the study.

    python audio/data.py --generate                        # once: the built-in set
    cd audio && python train.py --bitrate 32 --setting 0

Adadelta with the Keras-2 defaults (lr 1.0, rho 0.95, eps 1e-7), batch 50,
best val accuracy checkpointed. Validation as the original made it: the
training clips in class-name order, cut to a multiple of the batch size,
shuffled by numpy's seed (2337), and the last 25% held out (Keras
`validation_split`), so other effect versions of a validation note are in
training. The held-out test split, which the original never used, is
evaluated once at the end. By default the original's frequency-axis
BatchNormalization is kept; `--fixed` normalises over channels instead and
holds out whole notes (every effect version of a note, where the file names
say it: audio/data.py note_key), the last 25% of every training clip in a
fixed shuffle of the notes. config.json records the mean size per clip in
bits, total and payload (audio/codec.py), at the training level and at each
--test_bitrate.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from audio import DEFAULT_DATASET, DOMAIN, LEVEL_NAME, MODELS
from audio import data as audio_data
from helmholtz.cli import model_name, resolve_precision, trainer_parser
from helmholtz.folder import open_run
from helmholtz.runs import default_log_dir, run_dir
from helmholtz.errors import UsageError, cli_main


def parse_args(argv=None):
    p = trainer_parser(__doc__.splitlines()[0], batch_size=50)
    p.set_defaults(seed=2337)
    p.add_argument("--bitrate", default="32", help="MP3 kbps LAME accepts, or 'lossless' (default 32)")
    p.add_argument("--val", type=float, default=0.25, help="fraction of train held out for validation")
    p.add_argument("--classpath", "--data", dest="data", default=None,
                   help="folder of class folders of WAVs, or IDMT-SMT-Audio-Effects (default: the generated set)")
    p.add_argument("--skip_bad", action="store_true", help="skip unreadable audio files (counted)")
    p.add_argument("--test_bitrate", nargs="+", default=[],
                   help="also evaluate the best model on the test split at these levels")
    args = p.parse_args(argv)
    if not 0 < args.val < 1:
        raise UsageError(f"--val must be a fraction between 0 and 1, got {args.val}")
    args.bitrate = audio_data.parse_level(args.bitrate)
    args.test_bitrate = [audio_data.parse_level(b) for b in args.test_bitrate]
    return args


def transform(x, seeds, training):
    import tensorflow as tf
    return tf.cast(x, tf.float32)  # float16 dB mel spectrograms, fed as they are


def make_optimizer():  # Keras 2's Adadelta defaults; Keras 3's learning rate is 0.001
    from helmholtz.backend import keras
    return keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7)


def hold_out(classes, labels, files, val, batch_size, seed, fixed):
    """(training, validation) indices into the train split.

    Original: build_dataset loaded the clips class by class (class names sorted),
    stopped at the last multiple of the batch size, shuffled with
    np.random.seed(seed); Keras' validation_split then kept the first
    int(N * (1 - val)) for training. --fixed: every clip; the notes
    (audio/data.py note_key; a file naming none is a note of its own) in a
    fixed shuffle, whole notes from the end held out until at least
    round(N * val) clips are (exactly those, and the last round(N * val) of a
    fixed shuffle of the clips, when no file names a note).
    """
    from helmholtz.splits import fixed_shuffle
    if fixed:
        notes = {}
        for i, name in enumerate(files):
            notes.setdefault(audio_data.note_key(name) or name, []).append(i)
        members = list(notes.values())
        shuffled = [members[n] for n in fixed_shuffle(len(members))]
        order = np.array([i for note in shuffled for i in note], np.int64)
        n_val, held = max(1, int(round(len(order) * val))), 0
        for note in reversed(shuffled):
            if held >= n_val:
                break
            held += len(note)
        if held >= len(order):
            raise UsageError(f"--val {val} holds out every note of the {len(order)} training "
                             "clips; choose a --val nearer 0.25 or use more clips")
        return order[:-held], order[-held:]
    loaded = sorted(range(len(labels)), key=lambda i: (classes[labels[i]], files[i]))
    n = len(loaded) // batch_size * batch_size
    if n == 0:
        raise UsageError(f"the train split holds {len(loaded)} clips, fewer than one batch of "
                         f"{batch_size}; lower --batch_size or pass --fixed")
    shuffle = np.arange(n)
    np.random.RandomState(seed).shuffle(shuffle)  # np.random.seed(seed); np.random.shuffle
    order = np.array(loaded[:n])[shuffle]
    split_at = int(n * (1.0 - val))
    if not 0 < split_at < n:
        raise UsageError(f"--val {val} of {n} training clips leaves none for training or for "
                         "validation; choose a --val nearer 0.25")
    return order[:split_at], order[split_at:]


def load_data(args):
    from helmholtz.splits import Data, fixed_shuffle, take

    def split(level, name):
        # The data split is the same for every run (seed 2337, as the original's
        # one split): --seed varies training only, and runs pair test clips.
        s = audio_data.load_split(level, name, args.data, args.cache_dir, args.skip_bad,
                                  audio_data.DEFAULT_SEED)
        bits = {"total": 8 * s["bytes"], "payload": 8 * s["payload"]}
        return (s["data"], s["label"]), bits, list(s["classes"]), s["files"]

    train, train_bits, classes, train_files = split(args.bitrate, "train")
    test, _, _, _ = split(args.bitrate, "test")
    fit_idx, val_idx = hold_out(classes, train[1], train_files, args.val, args.batch_size,
                                audio_data.DEFAULT_SEED, args.fixed)
    left_out = len(train[1]) - len(fit_idx) - len(val_idx)
    if left_out:
        print(f"original protocol: {left_out} of {len(train[1])} training clips left out (the "
              f"last in class order), a multiple of --batch_size {args.batch_size} kept; "
              "--fixed keeps them all")
    train_idx, val_idx = fit_idx[:args.subset], val_idx[:args.test_subset]
    test_idx = fixed_shuffle(len(test[1]), args.test_subset)
    extra, extra_bits = {}, {"total": {}, "payload": {}}
    for level in args.test_bitrate:
        xy, bits, _, _ = split(level, "test")
        extra[level] = take(xy, test_idx)
        for kind in extra_bits:
            extra_bits[kind][str(level)] = float(bits[kind][test_idx].mean())
    data = Data(train=take(train, train_idx), val=take(train, val_idx), test=take(test, test_idx),
                extra_tests=extra)
    bits = {kind: float(train_bits[kind][train_idx].mean()) for kind in train_bits}
    return data, classes, bits, extra_bits


def main(argv=None):
    args = parse_args(argv)
    name = model_name(MODELS, args.setting, args.model)
    dataset, _ = audio_data.resolve_source(args.data, args.cache_dir)
    folder = Path(args.train_dir) if args.train_dir else run_dir(
        args.log_dir or default_log_dir(), DOMAIN, dataset, DEFAULT_DATASET, name, LEVEL_NAME,
        args.bitrate, args.seed)
    settings = {
        "domain": DOMAIN, "dataset": dataset, "model": name, "setting": MODELS.index(name),
        "level_name": LEVEL_NAME, "level": args.bitrate,
        "seed": args.seed, "batch_size": args.batch_size, "num_epoch": args.num_epoch,
        "optimizer": {"name": "adadelta", "learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-7},
        "val": args.val, "fixed": args.fixed, "protocol": "fixed" if args.fixed else "original",
        "precision": resolve_precision(args.precision), "subset": args.subset,
        "test_subset": args.test_subset, "data": args.data, "data_format": audio_data.FORMAT,
        "test_levels": args.test_bitrate,
    }
    run = open_run(folder, settings, args.force, args.restart_damaged)  # before the data
    if run.complete:
        return
    data, classes, bits, extra_bits = load_data(args)  # before TensorFlow: caches fork workers

    from audio.models import build_model
    from helmholtz.training import train_run

    shape = data.train[0].shape[1:]

    def build():
        return build_model(name, fixed=args.fixed, input_shape=shape, num_classes=len(classes))

    config = {
        **settings, "params": build().count_params(), "classes": classes,
        "input_shape": list(shape),
        "train_size": len(data.train[1]), "val_size": len(data.val[1]),
        "test_size": len(data.test[1]),
        "bits_per_sample": bits["total"], "payload_bits_per_sample": bits["payload"],
        "bits_per_sample_at": extra_bits["total"], "payload_bits_per_sample_at": extra_bits["payload"],
    }

    train_run(run, config, build, make_optimizer, data, transform)


if __name__ == "__main__":
    cli_main(main)
