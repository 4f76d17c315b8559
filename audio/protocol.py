"""How an audio run trains (the hooks of audio.SPEC): flags, data, validation, optimizer.

Adadelta with the Keras-2 defaults (lr 1.0, rho 0.95, eps 1e-7), batch 50,
best val accuracy checkpointed. Validation as the original made it: the
training clips in class-name order, cut to a multiple of the batch size,
shuffled by numpy's seed (2337), and the last 25% held out (Keras
`validation_split`), so other effect versions of a validation note are in
training. The held-out test split, which the original never used, is
evaluated once at the end. By default the original's frequency-axis
BatchNormalization is kept; `--fixed` normalises over channels instead and
holds out whole notes (every effect version of a note, where the file names
say it: audio/sources.py note_key), the last 25% of every training clip in a
fixed shuffle of the notes. config.json records the mean size per clip in
bits, total and payload (audio/codec.py), at the training level and at each
--test_bitrate.
"""
import numpy as np

from audio import SPEC
from audio import data as audio_data
from helmholtz.data import codecs
from helmholtz.errors import UsageError
from helmholtz.run.splits import fixed_shuffle

# ---------------------------------------------------------------- flags and settings


def fraction(text):
    """--val's value, checked while the flags are parsed (also by a sweep, before any run)."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value < 1:
        raise UsageError(f"--val must be a fraction between 0 and 1, got {text}")
    return value


def add_flags(p):
    p.add_argument("--val", type=fraction, default=0.25, help="fraction of train held out for validation")
    p.add_argument("--classpath", "--data", dest="data", default=None,
                   help="folder of class folders of WAVs, or IDMT-SMT-Audio-Effects "
                        "(default: the generated set)")
    p.add_argument("--skip_bad", action="store_true",
                   help="skip unreadable audio files, counted (default: off)")
    codecs.add_flags(p, SPEC)


def settings(args):
    coding = codecs.settings(SPEC, args, [args.level, *args.test_levels])
    dataset, _ = audio_data.resolve_source(args.data, args.cache_dir)
    return {"dataset": dataset, "data_format": audio_data.FORMAT, **coding}


def make_optimizer(settings):  # Keras 2's Adadelta defaults; Keras 3's learning rate is 0.001
    from helmholtz.backend import keras
    return keras.optimizers.Adadelta(learning_rate=settings["learning_rate"], rho=settings["rho"],
                                     epsilon=settings["epsilon"])


# ---------------------------------------------------------------- data

def read_split(args, level, split):
    # The data split is the same for every run (seed 2337, as the original's
    # one split): --seed varies training only, and runs pair test clips.
    arrays = audio_data.load_split(level, split, args.data, args.cache_dir, args.skip_bad,
                                   audio_data.DEFAULT_SEED, *codecs.chosen(SPEC, args))
    return {**arrays, "group": note_groups(arrays["files"])}


def note_groups(files):
    """Each clip's dry note as a number (a file naming none is a note of its own): the
    effect versions of a note are one group of dependent test examples."""
    keys = [audio_data.note_key(name) or name for name in files]
    return np.unique(keys, return_inverse=True)[1].astype(np.int64)


def hold_out_split(args, train):
    fit_idx, val_idx = hold_out(list(train["classes"]), train["label"], train["files"], args.val,
                                args.batch_size, audio_data.DEFAULT_SEED, args.fixed)
    left_out = len(train["label"]) - len(fit_idx) - len(val_idx)
    if left_out:
        print(f"original protocol: {left_out} of {len(train['label'])} training clips left out "
              f"(the last in class order), a multiple of --batch_size {args.batch_size} kept; "
              "--fixed keeps them all")
    return fit_idx, val_idx


def hold_out(classes, labels, files, val, batch_size, seed, fixed):
    """(training, validation) indices into the train split.

    Original: build_dataset loaded the clips class by class (class names sorted),
    stopped at the last multiple of the batch size, shuffled with
    np.random.seed(seed); Keras' validation_split then kept the first
    int(N * (1 - val)) for training. --fixed: every clip; the notes
    (audio/sources.py note_key; a file naming none is a note of its own) in a
    fixed shuffle, whole notes from the end held out until at least
    round(N * val) clips are (exactly those, and the last round(N * val) of a
    fixed shuffle of the clips, when no file names a note).
    """
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


def describe(args, data, train):
    facts = {"classes": list(train["classes"]), "input_shape": list(data.train[0].shape[1:])}
    if "noise_bits" in train:  # the injected noise's bits per clip (audio/noise.py)
        facts["sensor_noise_bits"] = float(np.mean(train["noise_bits"]))
    return facts


def build_model(name, args, facts):
    from audio.models import build_model
    return build_model(name, fixed=args.fixed, input_shape=tuple(facts["input_shape"]),
                       num_classes=len(facts["classes"]))


def transform(x, seeds, training):
    import tensorflow as tf
    return tf.cast(x, tf.float32)  # float16 dB mel spectrograms, fed as they are


def transform_for(args, facts):
    return transform
