"""A run folder before its data is loaded: checks, its lock, --force, damaged files.

`open_run` runs first, so a complete run answers at once and a second trainer
of the same folder stops at once:
- the folder must be writable, and hold only run files (helmholtz.runs)
  unless it is a run folder of this project; other files are never touched;
- its lock is taken and held until the process ends; another live holder
  means exit 2 naming it, a dead one's lock is free (an OS lock);
- --force removes the run's own files, and only those;
- the settings known from the flags must match the recorded run;
- config.json, history.csv and result.json are read through the checked
  readers. A damaged result.json is recomputed from the run; a damaged config
  or history stops with one line, or with --restart_damaged starts the run again.

The checkpoints are checked after the data is loaded (helmholtz.checkpoints).
"""
import atexit
import os
from pathlib import Path

from helmholtz.errors import UsageError
from helmholtz.runs import (BEST, CODE_FAMILY, CONFIG, HISTORY, LAST, LOCK, RESULT, DamagedFile,
                            is_own_file, lock_holder, read_history_rows, read_json, run_lock)

# Settings that may differ when a run is resumed or extended (or are derived).
MUTABLE_SETTINGS = {"num_epoch", "test_levels", "force", "versions", "git_commit", "command",
                    "host", "started", "test_bits_per_sample_at", "bits_per_sample_at",
                    "payload_bits_per_sample_at", "experiment"}
RESTART_HINT = ("pass --restart_damaged to go back to the run's last exact state (or start it "
                "again), or --force to start it again")


class RunFolder:
    """An opened run folder: its path, its state ('new', 'resume' or 'complete'),
    and whether damaged files may be restarted from."""

    def __init__(self, path, restart_damaged):
        self.path, self.restart_damaged, self.state = Path(path), restart_damaged, "new"
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

    def restart(self, why):
        """Start the run again: remove its files (never others), say why."""
        print(f"{why}; starting {self.path} again", flush=True)
        remove_run_files(self.path)
        self.state = "new"


def open_run(folder, settings, force=False, restart_damaged=False):
    """Check and lock the run folder before any data is loaded.

    settings: the run's settings known from the flags (a part of its config).
    Prints and returns a complete RunFolder when there is nothing to train."""
    run = RunFolder(folder, restart_damaged)
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
    return run


def _state(run, settings):
    try:
        return _recorded_state(run.path, settings)
    except DamagedFile as e:
        if e.path.name == RESULT:  # everything in it is computed again from the run
            print(f"note: {e.path} is damaged ({e.reason}); computing it again", flush=True)
            e.path.unlink()
            return _recorded_state(run.path, settings)
        if run.restart_damaged:
            run.restart(f"{e.path.name} is damaged ({e.reason})")
            return "new"
        raise DamagedFile(e.path, e.reason, RESTART_HINT) from None


def remove_run_files(folder):
    """Remove the files a run writes (not the lock this process holds); nothing else."""
    for path in Path(folder).iterdir():
        if path.name != LOCK and is_own_file(path.name) and path.is_file():
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
    subset, see helmholtz.training.full_config) asks for that same run."""
    diff = []
    for key in sorted(set(new) - MUTABLE_SETTINGS):
        if key == "subset" and old.get(key) is None and new[key] is not None:
            if new[key] > old.get("train_size", float("inf")):
                continue
        if old.get(key) != new[key]:
            diff.append(key)
    return diff


def _recorded_state(folder, settings):
    if not (folder / CONFIG).exists():
        left = [name for name in (HISTORY, LAST, BEST, RESULT) if (folder / name).exists()]
        if left:
            raise DamagedFile(folder / CONFIG, f"missing, beside {', '.join(left)}")
        return "new"
    check_same_run(folder, settings)
    rows = read_history_rows(folder / HISTORY)
    if (folder / RESULT).exists():
        epochs = read_json(folder / RESULT).get("epochs")
        if epochs != len(rows):
            raise DamagedFile(folder / RESULT, f"it counts {epochs} epochs, history.csv {len(rows)}")
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
    foreign = sorted(p.name for p in folder.iterdir() if not (is_own_file(p.name) and p.is_file()))
    if foreign and not _written_by_us(folder / CONFIG):
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise UsageError(f"{folder} holds files that are not a run's ({shown}); "
                         "choose a new or empty folder for --train_dir")


def _written_by_us(config_path):
    try:
        config = read_json(config_path)
    except (OSError, DamagedFile):
        return False
    return {"domain", "seed", "num_epoch", "versions"} <= set(config)


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
