"""Command-line flags that both trainers share, with the original's names."""
import argparse

from helmholtz.errors import UsageError

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse, but bad flags end with one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {message}; see --help\n")


def trainer_parser(description, batch_size, num_epoch=200):
    p = Parser(description=description)
    p.add_argument("--setting", type=int, default=0, help="model number 0..5 (default 0)")
    p.add_argument("--model", default=None, help="model name (overrides --setting)")
    p.add_argument("--batch_size", type=positive_int, default=batch_size)
    p.add_argument("--num_epoch", type=positive_int, default=num_epoch)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subset", type=positive_int, default=None,
                   help="train on the first N samples of a fixed shuffle (quick runs)")
    p.add_argument("--test_subset", type=positive_int, default=None,
                   help="validate and test on the first N samples of a fixed shuffle")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: mixed bfloat16 where the hardware has it, else float32")
    p.add_argument("--fixed", action="store_true",
                   help="the corrected protocol instead of the original code's quirks")
    p.add_argument("--force", action="store_true", help="replace a complete or different run")
    p.add_argument("--log_dir", default=None, help="root of the run folders (default: logs/)")
    p.add_argument("--train_dir", default=None, help="this run's folder (overrides the layout)")
    p.add_argument("--cache_dir", default=None, help="data caches (default: data/)")
    return p


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
