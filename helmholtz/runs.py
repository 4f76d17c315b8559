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
import json
from pathlib import Path

from helmholtz import REPO

CONFIG, HISTORY, RESULT = "config.json", "history.csv", "result.json"
LAST, BEST = "last.keras", "best.keras"
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]


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
