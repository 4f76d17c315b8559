"""Run folders: where a run lives, what it holds, whether it is complete.

One training run = one folder, by default
`logs/<domain>[-<dataset>]/<model>/<level_name>_<level>/seed_<seed>/`
(the dataset part only for a dataset other than the domain's default):

- config.json   every setting of the run, library versions, git commit
- history.csv   one row per finished epoch: epoch, loss, accuracy,
                val_loss, val_accuracy, lr, seconds
- last.keras    model + optimizer after the last finished epoch (resume)
- best.keras    model with the best val_accuracy so far
- result.json   written last, atomically, only when the run is complete

A folder without result.json is an unfinished run: training it again resumes.
"""
import csv
import hashlib
import json
from pathlib import Path

from helmholtz import REPO

CONFIG, HISTORY, RESULT = "config.json", "history.csv", "result.json"
LAST, BEST = "last.keras", "best.keras"
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]


# Bumped whenever the pipeline changes what a run computes for the same flags,
# so that runs of older code are never pooled with newer ones. The trainer
# records it in config.json as `code_family`.
CODE_FAMILY = 2

# Settings that vary WITHIN one experiment (its axes and per-run bookkeeping);
# every other setting in config.json defines the experiment.
NOT_EXPERIMENT = {"seed", "model", "setting", "params", "level", "bits_per_sample",
                  "bits_per_sample_at", "test_levels", "num_epoch_requested", "force", "versions",
                  "git_commit", "command", "host", "started", "experiment", "experiment_key",
                  "test_bits_per_sample_at"}


def experiment_settings(config):
    """The settings that define the experiment a run belongs to."""
    settings = {k: v for k, v in config.items() if k not in NOT_EXPERIMENT}
    settings.setdefault("code_family", 1)  # runs written before the family was recorded
    return settings


def experiment_key(config):
    """A short stable hash of `experiment_settings`: runs that share it are seeds,
    models and levels of one experiment and may be pooled."""
    text = json.dumps(experiment_settings(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def default_log_dir():
    return REPO / "logs"


def level_dir(level_name, level):
    return f"{level_name}_{level}"


def run_dir(log_dir, domain, dataset, default_dataset, model, level_name, level, seed):
    top = domain if dataset == default_dataset else f"{domain}-{dataset}"
    return Path(log_dir) / top / model / level_dir(level_name, level) / f"seed_{seed}"


def is_complete(folder):
    return (Path(folder) / RESULT).exists()


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_history(folder):
    """History rows as dicts of floats (epoch as int); [] if there is none."""
    path = Path(folder) / HISTORY
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: (int(v) if k == "epoch" else float(v)) for k, v in r.items() if v not in ("", None)}
            for r in rows]


def find_runs(root):
    """Every run folder (holding a config.json) below `root`, sorted."""
    return sorted(p.parent for p in Path(root).rglob(CONFIG))
