"""Command-line flags that both trainers share, with the original's names.

Every value is checked while the flags are parsed, before any data is loaded:
numbers in range, folders that can be written (or created) and are not below
a file. A bad one ends the command with one line and exit status 2.
"""
import argparse
import math
import os
from pathlib import Path

from helmholtz.errors import UsageError

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
MAX_SEED = 2**32 - 1  # numpy's and TensorFlow's seeds are unsigned 32-bit
DEFAULT_SEED = 0      # of a single run and of a sweep
NUM_EPOCH = 200       # both halves of the original trained 200 epochs


def _whole(text, low, high, expected):
    """int(text) if it lies in low..high, else argparse's error naming `expected`."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text):
    return _whole(text, 1, math.inf, "a positive whole number")


def _finite(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text):
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def non_negative_float(text):
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of at least 0, got {text!r}")
    return value


def seed_value(text):
    return _whole(text, 0, MAX_SEED, f"a whole number 0..{MAX_SEED}")


# Flags naming folders, checked once parsed: whether the command writes in them.
FOLDER_FLAGS = {"log_dir": True, "train_dir": True, "cache_dir": False}


class DefaultsFormatter(argparse.HelpFormatter):
    """--help shows each flag's default after its meaning, unless the text gives it
    already or there is none to give (an off switch, no value)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (not action.option_strings or "default" in text or action.default is None
                or action.default is False or action.default is argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse, but bad flags end with one line and exit status 2, the folders of
    FOLDER_FLAGS are checked (see `folder_problem`) and --help shows the defaults."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"error: {message}; see --help\n")

    def parse_args(self, args=None, namespace=None):
        parsed = super().parse_args(args, namespace)
        for flag, writable in FOLDER_FLAGS.items():
            value = getattr(parsed, flag, None)
            problem = value is not None and folder_problem(value, writable)
            if problem:
                self.error(f"--{flag} {value}: {problem}")
        return parsed


def folder_problem(path, writable):
    """Why `path` cannot be used as a folder (to write in, if `writable`), or None.

    A folder that does not exist yet is fine when its nearest existing parent is a
    folder we may write in: it is created when first needed."""
    path = Path(path).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if (writable or existing != path) and not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def output_file(path, what="a PNG file"):
    """`path` as a file to write, checked before any work: a UsageError when it is a
    folder or its folder cannot be written."""
    path = Path(path)
    problem = "is a folder" if path.is_dir() else folder_problem(path.parent, writable=True)
    if problem:
        raise UsageError(f"--out {path}: {problem}; give the path of {what}")
    return path


def trainer_parser(description, batch_size, num_epoch=NUM_EPOCH):
    """The flags every trainer has (helmholtz.run.trainer adds the level and the domain's)."""
    p = Parser(description=description)
    p.add_argument("--setting", type=int, default=0,
                   help="model by number, 0..5; 0 is the model the paper swept over every level")
    p.add_argument("--model", default=None, help="model by name, instead of --setting (default: the one --setting names)")
    p.add_argument("--batch_size", type=positive_int, default=batch_size, help="samples per batch")
    p.add_argument("--num_epoch", type=positive_int, default=num_epoch,
                   help="epochs to train (a complete run asked for more is extended)")
    p.add_argument("--seed", type=seed_value, default=DEFAULT_SEED,
                   help=f"seed of the initial weights, data order, augmentation and dropout, "
                        f"0..{MAX_SEED}")
    p.add_argument("--subset", type=positive_int, default=None,
                   help="train on the first N samples of a fixed shuffle, for quick runs "
                        "(default: all)")
    p.add_argument("--test_subset", type=positive_int, default=None,
                   help="validate and test on the first N samples of a fixed shuffle (default: all)")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="float32 as the original ran; the mixed ones are faster on recent "
                        "hardware; auto: mixed_bfloat16 where the hardware has it, else float32")
    p.add_argument("--fixed", action="store_true",
                   help="the corrected protocol instead of the original code's quirks (default: off)")
    p.add_argument("--force", action="store_true",
                   help="replace a complete or different run; only the run's own files are removed "
                        "(default: off)")
    p.add_argument("--restart_damaged", action="store_true",
                   help="when a run file is damaged, go back to the last exact state "
                        "(best.keras when it is one) or start the run again (default: off)")
    p.add_argument("--log_dir", default=None,
                   help="root of the run folders (default: logs/ in the repository)")
    p.add_argument("--train_dir", default=None,
                   help="this run's folder (default: <log_dir>/<domain>/<model>/<level_name>_<level>/"
                        "seed_<seed>, with -<dataset> after <domain> for another dataset)")
    p.add_argument("--cache_dir", default=None,
                   help="data caches (default: $HELMHOLTZ_CACHE, else data/ in the repository)")
    return p


def resolve_precision(name):
    """'auto' -> mixed_bfloat16 where the hardware runs bf16 natively, else float32
    (mixed_float16 on GPUs older than Ampere); other names are returned as they are."""
    if name != "auto":
        return name
    from helmholtz.backend import tf
    from helmholtz.errors import quiet_stderr
    with quiet_stderr():  # probing CUDA on a machine without it logs an error line
        gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        major = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))[0]
        return "mixed_bfloat16" if major >= 8 else "mixed_float16"
    return "mixed_bfloat16" if _cpu_has_bf16() else "float32"


def _cpu_has_bf16():
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def model_name(models, setting=None, name=None):
    """Resolve `--setting` / `--model` to a model name (the name wins)."""
    if name is not None:
        if name not in models:
            raise UsageError(f"unknown model {name!r}; choose one of {', '.join(models)}")
        return name
    if setting is None or not 0 <= int(setting) < len(models):
        raise UsageError(f"unknown setting {setting!r}; choose 0..{len(models) - 1} "
                         f"({', '.join(f'{i}={m}' for i, m in enumerate(models))})")
    return models[int(setting)]
