"""The training loop both domains share: Keras `fit` around a run folder.

A run folder (see helmholtz.runs) is the unit of work. `train_run` either
starts it, resumes it after its last finished epoch, or refuses to touch a
complete run unless forced. Per epoch it writes the history row, the best
checkpoint (by val accuracy) and the last checkpoint; `result.json` comes last.

Crash safety: each epoch first writes the full history to a side file, then
replaces last.keras, then renames the side file over history.csv. A run
killed between the two renames is rolled forward on resume (the side file
matches the checkpoint), so no epoch is lost or repeated.

Data order and augmentation are stateless functions of (seed, epoch, batch),
so a resumed run sees exactly the batches an uninterrupted one would.
"""
import csv
import io
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from helmholtz import REPO, metrics
from helmholtz.backend import keras, tf
from helmholtz.cache import write_json, write_text
from helmholtz.errors import UsageError, quiet_stderr
from helmholtz.runs import (BEST, CONFIG, HISTORY, HISTORY_COLUMNS, LAST, RESULT, read_json)


# Settings that may differ when a run is resumed or extended.
MUTABLE_SETTINGS = {"num_epoch", "test_levels", "force", "versions", "git_commit", "command",
                    "host", "started", "test_bits_per_sample_at", "bits_per_sample_at"}
SIDE_HISTORY = ".history.next.csv"


# ---------------------------------------------------------------- precision

def _cpu_has_bf16():
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(name):
    """'auto' -> mixed_bfloat16 where the hardware runs bf16 natively, else float32."""
    if name != "auto":
        return name
    with quiet_stderr():  # probing CUDA on a machine without it logs an error line
        gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        major = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))[0]
        return "mixed_bfloat16" if major >= 8 else "mixed_float16"
    return "mixed_bfloat16" if _cpu_has_bf16() else "float32"


def set_precision(policy):
    keras.mixed_precision.set_global_policy(policy)


def enable_memory_growth():
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


# ---------------------------------------------------------------- input pipeline

def train_batches(x, y, batch_size, seed, first_epoch, last_epoch, transform):
    """Batches for epochs first_epoch..last_epoch-1, in one stream.

    Each epoch is a stateless shuffle keyed by (seed, epoch); `transform(x,
    seeds)` gets per-batch stateless seeds. Everything runs inside tf.data on
    its own threads, so the training step never waits on Python.
    """
    x, y = tf.constant(x), tf.constant(y)
    n = int(x.shape[0])

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([seed, e]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        batches = batches.enumerate().map(lambda b, idx: (tf.stack([e, b]), idx))
        return batches

    def load(eb, idx):
        seeds = tf.stack([tf.cast(seed, tf.int64), eb[0] * 100_003 + eb[1]])
        return transform(tf.gather(x, idx), seeds, training=True), tf.gather(y, idx)

    ds = tf.data.Dataset.range(first_epoch, last_epoch).flat_map(epoch)
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def eval_batches(x, y, batch_size, transform):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    return ds.map(lambda a, b: (transform(a, None, training=False), b),
                  num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(n, batch_size):
    return -(-n // batch_size)


# ---------------------------------------------------------------- run folder

def versions():
    import h5py
    import PIL
    out = {"python": platform.python_version(), "tensorflow": tf.__version__,
           "keras": keras.__version__, "numpy": np.__version__, "h5py": h5py.__version__,
           "pillow": PIL.__version__}
    for name in ("librosa", "lameenc", "soundfile"):
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = getattr(mod, "__version__", "?")
    return out


def git_commit():
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _identity(config):
    return {k: v for k, v in config.items() if k not in MUTABLE_SETTINGS}


def _history_rows(path):
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _history_text(rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def prepare_folder(folder, config, force):
    """Check the folder against `config`. Returns 'new', 'resume' or 'complete'."""
    folder = Path(folder)
    if force and folder.exists():
        shutil.rmtree(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"cannot write the run folder {folder} ({e.strerror}); "
                         "choose a writable --log_dir or --train_dir") from None
    if not (folder / CONFIG).exists():
        return "new"
    old = read_json(folder / CONFIG)
    if _identity(old) != _identity(config):
        diff = sorted(k for k in set(_identity(old)) | set(_identity(config))
                      if old.get(k) != config.get(k))
        raise UsageError(f"{folder} holds a run with other settings ({', '.join(diff)}); "
                         "use --force to replace it or --log_dir/--train_dir to choose another folder")
    if (folder / RESULT).exists():
        if read_json(folder / RESULT).get("epochs", 0) >= config["num_epoch"]:
            return "complete"
        (folder / RESULT).unlink()  # extended to more epochs: no longer complete
    return "resume" if (folder / LAST).exists() else "new"


def _save_model(model, path):
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


class RunRecorder(keras.callbacks.Callback):
    """Writes history, best and last checkpoints after every epoch; prints progress."""

    def __init__(self, folder, rows, num_epoch):
        super().__init__()
        self.folder, self.rows, self.num_epoch = Path(folder), rows, num_epoch
        self.best = max((float(r["val_accuracy"]) for r in rows), default=-1.0)

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.t0
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row = {"epoch": epoch + 1, "lr": f"{lr:.8g}", "seconds": f"{seconds:.2f}"}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            row[key] = f"{float(logs[key]):.6f}"
        self.rows.append(row)
        if float(logs["val_accuracy"]) > self.best:
            self.best = float(logs["val_accuracy"])
            _save_model(self.model, self.folder / BEST)
        write_text(self.folder / SIDE_HISTORY, _history_text(self.rows))
        _save_model(self.model, self.folder / LAST)
        os.replace(self.folder / SIDE_HISTORY, self.folder / HISTORY)
        print(f"epoch {epoch + 1}/{self.num_epoch}  loss {logs['loss']:.4f}  "
              f"acc {logs['accuracy']:.4f}  val_loss {logs['val_loss']:.4f}  "
              f"val_acc {logs['val_accuracy']:.4f}  best {self.best:.4f}  {seconds:.1f}s",
              flush=True)


def _resume_state(folder, steps):
    """Load last.keras and the history that matches it (rolling a side file forward)."""
    model = keras.models.load_model(folder / LAST)
    done = int(keras.ops.convert_to_numpy(model.optimizer.iterations)) // steps
    rows = _history_rows(folder / HISTORY)
    side = _history_rows(folder / SIDE_HISTORY)
    if len(rows) != done and len(side) == done:
        os.replace(folder / SIDE_HISTORY, folder / HISTORY)
        rows = side
    if len(rows) != done:
        raise UsageError(f"{folder}: history.csv has {len(rows)} epochs but last.keras has {done}; "
                         "use --force to start this run again")
    return model, rows


def train_run(folder, config, build_model, make_optimizer, data, transform, force=False,
              eval_batch_size=500):
    """Train (or resume, or skip) one run; returns the result dict.

    config: every setting of the run (must hold num_epoch, batch_size, seed,
    precision); build_model(): a fresh Keras model; make_optimizer(): a fresh
    optimizer; data: a `Data`; transform(x, seeds, training): batch -> model input.
    """
    folder = Path(folder)
    bs, num_epoch = config["batch_size"], config["num_epoch"]
    steps = steps_per_epoch(len(data.train[1]), bs)
    config = {**config, "steps_per_epoch": steps}
    state = prepare_folder(folder, config, force)
    if state == "complete":
        print(f"{folder} is complete; use --force to train it again", flush=True)
        return read_json(folder / RESULT)

    set_precision(config["precision"])
    enable_memory_growth()
    keras.utils.set_random_seed(config["seed"])
    config = {**config, "versions": versions(),
              "git_commit": git_commit(), "command": " ".join(sys.argv), "host": platform.node()}

    if state == "resume":
        model, rows = _resume_state(folder, steps)
        print(f"resuming {folder} after epoch {len(rows)}", flush=True)
    else:
        model, rows = build_model(), []
        model.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    write_json(folder / CONFIG, config)

    first = len(rows)
    if first < num_epoch:
        train = train_batches(*data.train, bs, config["seed"], first, num_epoch, transform)
        val = eval_batches(*data.val, eval_batch_size, transform)
        model.fit(train, validation_data=val, epochs=num_epoch, initial_epoch=first,
                  steps_per_epoch=steps, shuffle=False, verbose=1 if sys.stdout.isatty() else 0,
                  callbacks=[RunRecorder(folder, rows, num_epoch)])

    result = finish_run(folder, config, rows, data, transform, eval_batch_size)
    print(f"done: best val_accuracy {result['best_val_accuracy']:.4f} (epoch {result['best_epoch']}), "
          f"test accuracy {result['test_accuracy']:.4f}; {folder / RESULT}", flush=True)
    return result


def finish_run(folder, config, rows, data, transform, eval_batch_size):
    val_acc = [float(r["val_accuracy"]) for r in rows]
    best_epoch = int(np.argmax(val_acc)) + 1
    best = keras.models.load_model(folder / BEST)

    def accuracy(xy):
        return float(best.evaluate(eval_batches(*xy, eval_batch_size, transform),
                                   verbose=0, return_dict=True)["accuracy"])

    # In the original protocol the validation set is the test set: the best
    # epoch's val accuracy is its test accuracy; no second pass is needed.
    test_accuracy = val_acc[best_epoch - 1] if data.val_is_test else accuracy(data.test)
    seconds = [float(r["seconds"]) for r in rows]
    identity = {k: config.get(k) for k in ("domain", "dataset", "model", "setting", "params",
                                           "level_name", "level", "seed", "fixed", "subset")}
    result = {**identity, "complete": True, "epochs": len(rows), "best_epoch": best_epoch,
              "best_val_accuracy": max(val_acc), "paper_accuracy": metrics.paper_accuracy(val_acc),
              "convergence_epoch": metrics.convergence_epoch(val_acc),
              "test_accuracy": test_accuracy,
              "test_accuracy_at": {str(level): accuracy(xy) for level, xy in data.extra_tests.items()},
              "bits_per_sample": config.get("bits_per_sample"),
              "seconds_total": sum(seconds), "seconds_per_epoch": float(np.mean(seconds))}
    write_json(folder / RESULT, result)
    return result
