"""Checkpoints of a run: written atomically, read back checked, resumed from.

last.keras and best.keras are whole Keras models with their optimizer state,
so the optimizer's step count tells which epoch a checkpoint holds. A damaged
checkpoint (helmholtz.run.layout.DamagedFile) is never a traceback: a damaged
best.keras is rebuilt from last.keras when the last epoch is the best one; a
damaged last.keras, with --restart_damaged, gives way to best.keras when that
is an exact state of the run, else the run starts again.

Each checkpoint carries its run's identity (helmholtz.run.folder.run_identity:
experiment, model, level, seed) as a member of its zip, `helmholtz-run.json`; one of
another run is refused with one line before it is resumed from. Checkpoints of
older versions carry none and are taken as they are.
"""
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from helmholtz.backend import keras
from helmholtz.data.cache import atomic_path, write_text
from helmholtz.errors import UsageError
from helmholtz.run.layout import (BEST, HISTORY, LAST, RESULT, SIDE_HISTORY, DamagedFile,
                                  history_text, read_history_rows)


IDENTITY = "helmholtz-run.json"  # the zip member holding the run's identity


def save_model(model, path, identity=None):
    """model.save under a temporary name unique to this process, with the run's
    identity, then renamed; the temporary file is removed if the save fails (a full disk)."""
    with atomic_path(path, suffix=".tmp.keras") as tmp:
        model.save(tmp)
        if identity is not None:
            with zipfile.ZipFile(tmp, "a") as z:
                z.writestr(IDENTITY, json.dumps(identity, sort_keys=True))


def check_identity(path, identity):
    """Refuse (UsageError) a checkpoint that carries another run's identity."""
    if identity is None:
        return
    try:
        with zipfile.ZipFile(path) as z:
            recorded = json.loads(z.read(IDENTITY)) if IDENTITY in z.namelist() else None
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return  # not whole: checkpoint_damage says so
    if recorded is not None and recorded != identity:
        differ = [k for k in sorted(set(identity) | set(recorded)) if recorded.get(k) != identity.get(k)]
        shown = ", ".join(f"{k} {recorded.get(k)}, not {identity.get(k)}" for k in differ)
        raise UsageError(f"{path} is a checkpoint of another run ({shown}); move it away, or "
                         "use --force to start this run again")


def copy_checkpoint(source, path):
    with atomic_path(path, suffix=".tmp.keras") as tmp:
        shutil.copyfile(source, tmp)


def checkpoint_damage(path):
    """Why a .keras checkpoint is not whole (a zip whose members all pass their
    CRC), or None; cheap: no model is built."""
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except FileNotFoundError:
        return "missing"
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as e:
        return f"not a whole .keras file: {e}"
    return None if bad is None else f"{bad} in it fails its checksum"


def load_checkpoint(path):
    """The model of a .keras checkpoint; DamagedFile if it does not read back whole."""
    path = Path(path)
    reason = checkpoint_damage(path)
    if reason is None:
        try:
            return keras.models.load_model(path)
        except Exception as e:  # a damaged file fails in many ways inside Keras and h5py
            reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
    raise DamagedFile(path, reason)


def epochs_in(model, steps):
    """Finished epochs recorded in a checkpoint (its optimizer's step count), or None
    when the count is not a whole number of epochs."""
    done, rest = divmod(int(keras.ops.convert_to_numpy(model.optimizer.iterations)), steps)
    return None if rest else done


# ---------------------------------------------------------------- resuming

def resume_state(run, steps):
    """Model and history after the last finished epoch; (None, []) to start again.

    Rolls a side history forward after a crash between the two renames. A damaged
    last.keras is replaced, with --restart_damaged, by best.keras when that is an
    exact state of this run (its epoch is the best one of the history), else the
    run starts again."""
    folder = run.path
    rows = read_history_rows(folder / HISTORY)
    for name in (LAST, BEST):
        check_identity(folder / name, run.identity)
    try:
        model = load_checkpoint(folder / LAST)
    except DamagedFile as e:
        if not run.restart_damaged:
            raise DamagedFile(e.path, e.reason, "pass --restart_damaged to go back to best.keras "
                              "when that is exact (else to start the run again), or --force") from None
        return _fall_back_to_best(run, rows, steps, e.reason)
    done = epochs_in(model, steps)
    side = read_history_rows(folder / SIDE_HISTORY) if (folder / SIDE_HISTORY).exists() else []
    if len(rows) != done and len(side) == done:
        (folder / SIDE_HISTORY).replace(folder / HISTORY)
        rows = side
    if len(rows) != done:
        raise DamagedFile(folder / HISTORY, f"it has {len(rows)} epochs but last.keras has {done}",
                          "use --force to start this run again")
    return _check_best(run, model, rows)


def _check_best(run, model, rows):
    """Before training on: a damaged best.keras is rebuilt from last.keras when the
    last epoch is the best; otherwise it stops the run (or, with --restart_damaged,
    starts it again)."""
    reason = checkpoint_damage(run.path / BEST)
    if reason is None:
        return model, rows
    best_epoch = int(np.argmax([float(r["val_accuracy"]) for r in rows])) + 1
    if best_epoch == len(rows):
        print(f"note: best.keras is damaged ({reason}); rebuilt from last.keras, the best epoch",
              flush=True)
        copy_checkpoint(run.path / LAST, run.path / BEST)
        return model, rows
    if run.restart_damaged:
        run.restart(f"best.keras is damaged ({reason}) and its epoch ({best_epoch}) is not the last")
        return None, []
    raise DamagedFile(run.path / BEST, reason, f"its epoch ({best_epoch}) is not the last one, so "
                      "it cannot be rebuilt; pass --restart_damaged or --force to start the run again")


def _fall_back_to_best(run, rows, steps, reason):
    folder = run.path
    val_acc = [float(r["val_accuracy"]) for r in rows]
    best_epoch = int(np.argmax(val_acc)) + 1 if rows else None
    try:
        model = load_checkpoint(folder / BEST)
    except DamagedFile:
        model = None
    if model is None or best_epoch is None or epochs_in(model, steps) != best_epoch:
        run.restart(f"last.keras is damaged ({reason}) and best.keras is no exact state to resume")
        return None, []
    print(f"last.keras is damaged ({reason}); resuming from best.keras, epoch {best_epoch}",
          flush=True)
    rows = rows[:best_epoch]
    write_text(folder / HISTORY, history_text(rows))
    save_model(model, folder / LAST, run.identity)
    (folder / RESULT).unlink(missing_ok=True)  # of a longer history
    return model, rows


def best_model(folder, rows):
    """best.keras, rebuilt from last.keras when it is damaged and the last epoch is the best."""
    try:
        return load_checkpoint(folder / BEST)
    except DamagedFile as e:
        best_epoch = int(np.argmax([float(r["val_accuracy"]) for r in rows])) + 1
        if best_epoch != len(rows):
            raise DamagedFile(e.path, e.reason, f"its epoch ({best_epoch}) is not the last one, "
                              "so it cannot be rebuilt; use --force to train this run again") from None
        model = load_checkpoint(folder / LAST)
        print(f"note: {e.path} is damaged ({e.reason}); rebuilt from last.keras, the best epoch",
              flush=True)
        copy_checkpoint(folder / LAST, folder / BEST)
        return model
