"""A run folder before its data is loaded: checks, its lock, --force, damaged files.

`open_run` runs first, so a complete (or diverged) run answers at once and a
second trainer of the same folder stops at once:
- the folder must be writable, and be new, empty or a run folder of this
  program (helmholtz.run.layout.is_run_folder: its marker, written with the first
  config.json, or an older version's config.json); any other folder is
  refused, with --force too; files that are not a run's are never touched;
- its lock is taken and held until the process ends; another live holder
  means exit 2 naming it, a dead one's lock is free (an OS lock);
- --force removes the run's own files, and only those;
- the settings known from the flags must match the recorded run;
- config.json, history.csv and result.json are read through the checked
  readers. A damaged result.json is computed again from the run once the rest
  of it has checked out; one that reads but disagrees with history.csv stays
  until the run is finished again, so a damaged history.csv or checkpoint stops
  the run with its record intact (nothing is removed on the way to an error); a
  damaged config or history stops with one line, or with --restart_damaged
  starts the run again.

The checkpoints are checked after the data is loaded (helmholtz.run.checkpoints).
"""
import atexit
import os
from pathlib import Path

from helmholtz.data.cache import write_json, write_text
from helmholtz.errors import UsageError
from helmholtz.run.layout import (BEST, CODE_FAMILY, CONFIG, HISTORY, LAST, LOCK, MARKER, RESULT,
                                  DamagedFile, experiment_key, is_own_file, is_run_folder,
                                  lock_holder, read_history_rows, read_json, run_lock)

# Settings that may differ when a run is resumed or extended (or are derived).
MUTABLE_SETTINGS = {"num_epoch", "test_levels", "force", "versions", "git_commit", "command",
                    "host", "started", "test_bits_per_sample_at", "bits_per_sample_at",
                    "payload_bits_per_sample_at", "experiment", "threads", "cpu", "test_codecs",
                    "bits_per_sample_across", "payload_bits_per_sample_across"}
RESTART_HINT = ("pass --restart_damaged to go back to the run's last exact state (or start it "
                "again), or --force to start it again")


class RunFolder:
    """An opened run folder: its path, its state ('new', 'resume', 'complete' or
    'diverged'), and whether damaged files may be restarted from."""

    def __init__(self, path, restart_damaged, identity=None):
        self.path, self.restart_damaged, self.state = Path(path), restart_damaged, "new"
        self.identity = identity  # what its checkpoints carry: helmholtz.run.checkpoints
        self.lock = None

    def close(self):
        """Release the folder's lock (else held until the process ends)."""
        if self.lock is not None:
            self.lock.release()
            _held.remove(self.lock)
            self.lock = None

    @property
    def complete(self):
        return self.state == "complete"

    @property
    def finished(self):
        """Nothing to train: complete, or diverged (its loss became non-finite)."""
        return self.state in ("complete", "diverged")

    def write_config(self, config):
        """config.json, after the marker that makes the folder this program's run folder."""
        if not (self.path / MARKER).is_file():
            write_text(self.path / MARKER, "a run folder of helmholtz-dl (see helmholtz/run/layout.py)\n")
        write_json(self.path / CONFIG, config)

    def write_diverged(self, config, rows, epoch):
        """result.json of a run whose loss became non-finite at `epoch`: not complete,
        diverged, so that it is neither resumed nor averaged. Returns that record."""
        keys = ("domain", "dataset", "model", "setting", "params", "level_name", "level", "seed",
                "fixed", "subset", "experiment")
        result = {**{k: config.get(k) for k in keys}, "complete": False, "diverged": True,
                  "diverged_epoch": epoch, "epochs": len(rows)}
        write_json(self.path / RESULT, result)
        print(f"diverged: the loss is not finite after epoch {epoch}; training stopped, recorded "
              f"as diverged (not complete) in {self.path / RESULT}", flush=True)
        self.state = "diverged"
        return result

    def restart(self, why):
        """Start the run again: remove its files (never others), say why."""
        print(f"{why}; starting {self.path} again", flush=True)
        remove_run_files(self.path)
        self.state = "new"


def open_run(folder, settings, force=False, restart_damaged=False):
    """Check and lock the run folder before any data is loaded.

    settings: the run's settings known from the flags (a part of its config).
    Prints and returns a complete RunFolder when there is nothing to train."""
    run = RunFolder(folder, restart_damaged, run_identity(settings))
    made = _make_folder(run.path)
    try:
        _refuse_foreign_files(run.path)
        lock = _take_lock(run.path)
    except UsageError:
        _tidy(run.path, made, holding=False)
        raise
    try:
        if force:
            remove_run_files(run.path)
        run.state = _state(run, {**settings, "code_family": CODE_FAMILY})
    except BaseException:
        _tidy(run.path, made)
        lock.release()
        raise
    run.lock = lock
    _held.append(lock)  # held until closed or the process ends; then tidied if still empty
    atexit.register(_tidy, run.path, made)
    if run.complete:
        print(f"{run.path} is complete; use --force to train it again", flush=True)
    elif run.finished:
        print(f"{run.path} diverged (its loss became non-finite; {RESULT} says at which epoch); "
              "use --force to train it again", flush=True)
    return run


def _state(run, settings):
    try:
        return _recorded_state(run.path, settings)
    except DamagedFile as e:
        if e.path.name == RESULT:  # everything in it is computed again from the run
            state = _recorded_state(run.path, settings, use_result=False)  # the rest checks out first
            print(f"note: {e.path} is damaged ({e.reason}); computing it again", flush=True)
            if not _readable(e.path):  # else it may be the intact record (history.csv the damaged
                e.path.unlink()        # one): replaced only when the run is finished again
            return state
        if run.restart_damaged:
            run.restart(f"{e.path.name} is damaged ({e.reason})")
            return "new"
        raise DamagedFile(e.path, e.reason, RESTART_HINT) from None


def run_identity(settings):
    """What a checkpoint of this run carries: its experiment (a key of the settings
    that may not change within the run), model, level and seed."""
    fixed = {k: v for k, v in settings.items() if k not in MUTABLE_SETTINGS | {"num_epoch"}}
    return {"experiment": experiment_key({**fixed, "code_family": CODE_FAMILY}),
            "model": settings.get("model"), "level": str(settings.get("level")),
            "seed": settings.get("seed")}


def _readable(path):
    try:
        read_json(path)
    except DamagedFile:
        return False
    return True


def remove_run_files(folder):
    """Remove the files a run writes (not the lock this process holds, nor the marker);
    nothing else."""
    for path in Path(folder).iterdir():
        if path.name not in (LOCK, MARKER) and is_own_file(path.name) and path.is_file():
            path.unlink()


def check_same_run(folder, settings):
    """Refuse to go on with a recorded run of other settings."""
    diff = differing_settings(read_json(Path(folder) / CONFIG), settings)
    if diff:
        raise UsageError(f"{folder} holds a run with other settings ({', '.join(diff)}); "
                         "use --force to replace it or --log_dir/--train_dir to choose another folder")


def differing_settings(old, new):
    """Keys of `new` whose recorded value in `old` differs (the derived and mutable ones aside).

    --subset N where the recorded run used all its M < N samples (recorded as no
    subset, see helmholtz.run.training.full_config) asks for that same run."""
    diff = []
    for key in sorted(set(new) - MUTABLE_SETTINGS):
        if key == "subset" and old.get(key) is None and new[key] is not None:
            if new[key] > old.get("train_size", float("inf")):
                continue
        if old.get(key) != new[key]:
            diff.append(key)
    return diff


def _recorded_state(folder, settings, use_result=True):
    if not (folder / CONFIG).exists():
        left = [name for name in (HISTORY, LAST, BEST, RESULT) if (folder / name).exists()]
        if left:
            raise DamagedFile(folder / CONFIG, f"missing, beside {', '.join(left)}")
        return "new"
    check_same_run(folder, settings)
    rows = read_history_rows(folder / HISTORY)
    if use_result and (folder / RESULT).exists():
        result = read_json(folder / RESULT)
        epochs = result.get("epochs")
        if epochs != len(rows):
            raise DamagedFile(folder / RESULT, f"it counts {epochs} epochs, history.csv {len(rows)}")
        if result.get("diverged") is True:
            return "diverged"
        if epochs >= settings["num_epoch"]:
            return "complete"
        # Extended to more epochs: result.json stays until the first new epoch is written.
    return "resume" if (folder / LAST).exists() else "new"


def _make_folder(folder):
    """Create the folder (and missing parents); returns those created, deepest last."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as e:
        raise UsageError(f"cannot write the run folder {folder} ({e.strerror}); "
                         "choose a writable --log_dir or --train_dir") from None
    return missing


def _refuse_foreign_files(folder):
    """A folder that is not this program's run folder must hold nothing but a lock."""
    if is_run_folder(folder):
        return
    entries = sorted(p for p in folder.iterdir() if p.name != LOCK)
    foreign = [p.name for p in entries
               if not (is_own_file(p.name) and p.is_file() and not p.is_symlink())]
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise UsageError(f"{folder} holds files that are not a run's ({shown}); "
                         "choose a new or empty folder for --train_dir")
    if (folder / CONFIG).is_file() and not _readable(folder / CONFIG):
        return  # an older version's run with a damaged config.json: stops naming it (_state)
    if entries:
        raise UsageError(f"{folder} holds {', '.join(p.name for p in entries[:3])} but is no run "
                         f"folder of this program (no {MARKER}, and no config.json it wrote); "
                         "choose a new or empty folder for --train_dir, or move those files away")


def _take_lock(folder):
    from filelock import Timeout
    lock = run_lock(folder)
    try:
        lock.acquire()
    except Timeout:
        holder = lock_holder(folder) or "another process"
        raise UsageError(f"{folder} is being trained by {holder}; wait for it to finish or stop it, "
                         "then run again") from None
    except OSError as e:
        raise UsageError(f"cannot lock the run folder {folder} ({e.strerror}); "
                         "choose a folder on a local, writable file system") from None
    return lock


_held = []


def _tidy(folder, made, holding=True):
    """If nothing but the lock was written, leave no trace of the run: remove the
    lock file (only while holding it) and the folders this process made."""
    try:
        if {p.name for p in folder.iterdir()} <= ({LOCK} if holding else set()):
            (folder / LOCK).unlink(missing_ok=True)
            for path in reversed(made):
                path.rmdir()
    except OSError:
        pass
