"""Run folders: where a run lives, what it holds, whether it is complete.

One training run = one folder, by default
`logs/<domain>[-<dataset>]/<model>/<level_name>_<level>/seed_<seed>/`
(the dataset part only for a dataset other than the domain's default):

- config.json   every setting of the run, library versions, git commit
- history.csv   one row per finished epoch: epoch, loss, accuracy,
                val_loss, val_accuracy, lr, seconds
- last.keras    model + optimizer after the last finished epoch (resume)
- best.keras    model with the best val_accuracy so far
- predictions.npz  the best checkpoint's class for every test example, per
                test level, the labels and each example's group (written just
                before result.json)
- result.json   written last, atomically, when the run is complete (or has
                diverged: then it says so and the run is not complete)
- .helmholtz-run  the marker of a run folder of this program, written with the
                first config.json; --force and the trainer act only on marked
                folders (or, for folders of older versions, on a config.json
                this program wrote: one holding domain, seed, num_epoch and
                versions)

A folder without result.json is an unfinished run: training it again resumes.
Besides these the trainer keeps a side history (`.history.next.csv`), temporary
files while it writes (`.<name>.<random>.tmp`), and `.lock`, held while a
process trains the run (it records that process's pid and host).

Every run file is read through the checked readers here: a damaged file is a
`DamagedFile` naming it, never a traceback.
"""
import csv
import hashlib
import io
import json
import os
import re
import socket
from pathlib import Path

from helmholtz import REPO
from helmholtz.errors import UsageError

CONFIG, HISTORY, RESULT = "config.json", "history.csv", "result.json"
LAST, BEST, PREDICTIONS = "last.keras", "best.keras", "predictions.npz"
SIDE_HISTORY, LOCK = ".history.next.csv", ".lock"
MARKER = ".helmholtz-run"
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
OWN_FILES = {CONFIG, HISTORY, RESULT, LAST, BEST, PREDICTIONS, SIDE_HISTORY, LOCK, MARKER}
# Temporary names: helmholtz.data.cache.atomic_path's, and the fixed ones of older trainers.
_TEMP = re.compile(r"\.(config\.json|history\.csv|result\.json|last\.keras|best\.keras|"
                   r"predictions\.npz|history\.next\.csv)\.\w+\.tmp(\.keras)?|\.(last|best)\.tmp\.keras")


# Bumped whenever the pipeline changes what a run computes for the same flags,
# so that runs of older code are never pooled with newer ones. The trainer
# records it in config.json as `code_family`.
CODE_FAMILY = 2

# Settings that vary WITHIN one experiment (its axes and per-run bookkeeping);
# every other setting in config.json defines the experiment.
NOT_EXPERIMENT = {"seed", "model", "setting", "params", "level", "bits_per_sample",
                  "bits_per_sample_at", "test_levels", "num_epoch_requested", "force", "versions",
                  "git_commit", "command", "host", "threads", "cpu", "started", "experiment",
                  "experiment_key", "test_bits_per_sample_at", "payload_bits_per_sample",
                  "payload_bits_per_sample_at", "test_codecs", "bits_per_sample_across",
                  "payload_bits_per_sample_across"}


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


def is_own_file(name):
    """Whether a file of this name in a run folder is one the trainer writes."""
    return name in OWN_FILES or _TEMP.fullmatch(name) is not None


def is_run_folder(folder):
    """Whether `folder` is a run folder of this program: it holds the marker, or (a
    folder of an older version) a config.json with the settings every version records."""
    folder = Path(folder)
    if _regular_file(folder / MARKER):
        return True
    try:
        config = read_json(folder / CONFIG) if _regular_file(folder / CONFIG) else {}
    except (OSError, DamagedFile):
        return False
    return {"domain", "seed", "num_epoch", "versions"} <= set(config)


def _regular_file(path):
    return path.is_file() and not path.is_symlink()


# ---------------------------------------------------------------- checked readers

class DamagedFile(UsageError, ValueError):
    """A run or cache file that exists but cannot be read as what it should be."""

    def __init__(self, path, reason, fix="run with --force to start this run again"):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path} is damaged ({reason}); {fix}")


def read_json(path):
    """A JSON object file (config.json, result.json) as a dict."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise DamagedFile(path, e.strerror) from None
    except UnicodeDecodeError:
        raise DamagedFile(path, "not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise DamagedFile(path, f"invalid JSON: {e.msg} at line {e.lineno}") from None
    except RecursionError:
        raise DamagedFile(path, "nested too deeply to be a record") from None
    if not isinstance(value, dict):
        raise DamagedFile(path, "not a JSON object")
    return value


def read_history_rows(path):
    """history.csv as the trainer wrote it: rows of strings, checked to be numbers
    of consecutive epochs 1, 2, ...; [] if there is no file."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = reader.fieldnames or []
    except OSError as e:
        raise DamagedFile(path, e.strerror) from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DamagedFile(path, f"not a CSV file: {e}") from None
    if rows and columns != HISTORY_COLUMNS:
        raise DamagedFile(path, f"its columns are {', '.join(map(str, columns))}")
    for number, row in enumerate(rows, 1):
        for key in HISTORY_COLUMNS:
            value = row.get(key)
            try:
                float(value)  # nan is a value: a run may diverge
                ok = None not in row
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise DamagedFile(path, f"epoch row {number} has {key}={value!r}")
        if row["epoch"] != str(number):
            raise DamagedFile(path, f"row {number} is epoch {row['epoch']}")
    return rows


def history_text(rows):
    """history.csv's text for rows of strings (or numbers)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def read_history(folder):
    """History rows as dicts of floats (epoch as int); [] if there is none."""
    rows = read_history_rows(Path(folder) / HISTORY)
    return [{k: (int(v) if k == "epoch" else float(v)) for k, v in r.items()} for r in rows]


# ---------------------------------------------------------------- the lock

def run_lock(folder):
    """The lock of a run folder (a filelock.FileLock, not yet taken). Whoever holds
    it writes "pid <pid> on <host>" into it, for `lock_holder` to report."""
    from filelock import FileLock

    def record_holder(fd):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)

    return FileLock(Path(folder) / LOCK, blocking=False, on_acquired=record_holder)


def lock_holder(folder):
    """"pid 1234 on host" of the live process training the run in `folder`, else None.

    The lock is an OS lock (flock): it dies with its holder, so a lock file left by
    a killed process is free and a new trainer takes it over."""
    from filelock import FileLock, Timeout
    path = Path(folder) / LOCK
    if not path.exists():
        return None
    probe = FileLock(path, blocking=False)
    try:
        probe.acquire()
    except Timeout:
        try:
            return path.read_text().strip() or "another process"
        except OSError:
            return "another process"
    except OSError:
        return None  # cannot open it (read-only folder): nobody can train there either
    probe.release()
    return None


def find_runs(root):
    """Every run folder (holding a config.json) below `root`, sorted."""
    return sorted(p.parent for p in Path(root).rglob(CONFIG))
