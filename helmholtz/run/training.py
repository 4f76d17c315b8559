"""The training loop both domains share: Keras `fit` around a run folder.

A trainer first opens the run folder (helmholtz.run.folder.open_run: checks, lock,
complete or not) and only then loads its data and calls `train_run`, which
starts the run or resumes it after its last finished epoch. Per epoch it writes
the history row, the best checkpoint (by val accuracy) and the last
checkpoint; `result.json` comes last. A run whose loss or val_loss becomes
non-finite stops after that epoch and is recorded as diverged, not complete.

Crash safety: each epoch first writes the full history to a side file, then
replaces last.keras, then renames the side file over history.csv. A run
killed between the two renames is rolled forward on resume (the side file
matches the checkpoint), so no epoch is lost or repeated.

Exact resume: every random state is a function of the seed and the place in
training. Data order and augmentation are stateless functions of (seed,
epoch, batch); each Dropout's random state is set at the start of every epoch
from (seed, epoch, layer) (Keras does not save it). So a resumed run follows
the uninterrupted run's path exactly.
"""
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from helmholtz import REPO
from helmholtz.backend import keras, tf
from helmholtz.data.cache import atomic_path, write_json, write_text
from helmholtz.data.codecs import by_codec
from helmholtz.errors import UsageError
from helmholtz.run import metrics
from helmholtz.run.checkpoints import best_model, resume_state, save_model
from helmholtz.run.folder import check_same_run
from helmholtz.run.layout import (BEST, CODE_FAMILY, CONFIG, HISTORY, LAST, PREDICTIONS, RESULT,
                                  SIDE_HISTORY, experiment_key, history_text)
from helmholtz.run.progress import duration


# ---------------------------------------------------------------- precision

def set_precision(policy):
    keras.mixed_precision.set_global_policy(policy)
    # TensorFlow rounds float32 matmuls and convolutions to TF32 (10-bit mantissa)
    # on Ampere and newer GPUs; float32 means float32, as on the original's GPUs.
    tf.config.experimental.enable_tensor_float_32_execution(policy != "float32")


def enable_memory_growth():
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


# ---------------------------------------------------------------- input pipeline

def train_batches(x, y, batch_size, seed, first_epoch, last_epoch, transform, drop_last_batch=False):
    """Batches for epochs first_epoch..last_epoch-1, in one stream.

    Each epoch is a stateless shuffle keyed by (seed, epoch), cut into batches
    (without the last, partial one if `drop_last_batch`); `transform(x, seeds)`
    gets per-batch stateless seeds. Everything runs inside tf.data on its own
    threads, so the training step never waits on Python.
    """
    x, y = tf.constant(x), tf.constant(y)
    n = int(x.shape[0])

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([seed, e]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_last_batch)
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


def steps_per_epoch(n, batch_size, drop_last_batch=False):
    return n // batch_size if drop_last_batch else -(-n // batch_size)


# ---------------------------------------------------------------- random state

def reseed_dropout(model, seed, epoch):
    """Set every SeedGenerator of the model (Dropout's) to a state derived from
    (seed, epoch, its place in the model): the same in a fresh and a resumed run."""
    states = [v for v in model.variables if v.name == "seed_generator_state"]
    for i, state in enumerate(states):
        value = np.random.SeedSequence([seed, epoch, i]).generate_state(2, np.uint32)
        state.assign(value.astype(np.int64))


class ReseedDropout(keras.callbacks.Callback):
    def __init__(self, seed):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        reseed_dropout(self.model, self.seed, epoch)


# ---------------------------------------------------------------- run folder

def versions(libraries=()):
    """The versions of the libraries a run used: the core's, and those of `libraries`
    (a domain's, helmholtz.domain.Domain.libraries) that are loaded."""
    import h5py
    import PIL
    out = {"python": platform.python_version(), "tensorflow": tf.__version__,
           "keras": keras.__version__, "numpy": np.__version__, "h5py": h5py.__version__,
           "pillow": PIL.__version__}
    for name in libraries:
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = getattr(mod, "__version__", "?")
    return out


def numerics():
    """What moves a run's losses in their last digits: the threads TensorFlow's
    operations use and the CPU model."""
    from helmholtz.machine import cpu_info
    asked = os.environ.get("TF_NUM_INTRAOP_THREADS", "").strip()  # as the sweep sets it
    threads = (int(asked) if asked.isdigit() and int(asked) > 0 else
               tf.config.threading.get_intra_op_parallelism_threads() or len(os.sched_getaffinity(0)))
    return {"threads": threads, "cpu": cpu_info()["model"]}


def git_commit():
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def full_config(config, data):
    """The config to record: the subset as used, steps per epoch, code family, experiment key."""
    n, bs = len(data.train[1]), config["batch_size"]
    if config.get("subset") is not None and config["subset"] > n:  # then n is all there is
        print(f"note: --subset {config['subset']} is more than the {n} training samples; "
              f"all {n} are used (recorded as no subset)", flush=True)
        config = {**config, "subset": None}
    steps = steps_per_epoch(n, bs, config.get("drop_last_batch", False))
    if steps == 0:
        raise UsageError(f"{n} training samples make no whole batch of {bs}; "
                         "choose a smaller --batch_size or a larger --subset")
    config = {**config, "train_size": n, "steps_per_epoch": steps, "code_family": CODE_FAMILY}
    return {**config, "experiment": experiment_key(config)}


class RunRecorder(keras.callbacks.Callback):
    """Writes history, best and last checkpoints after every epoch; prints progress."""

    def __init__(self, folder, rows, num_epoch, identity=None):
        super().__init__()
        self.folder, self.rows, self.num_epoch = Path(folder), rows, num_epoch
        self.identity, self.diverged = identity, None  # diverged: the epoch whose loss was not finite
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
        # An extended run stops being complete only now that it has a new epoch to write.
        (self.folder / RESULT).unlink(missing_ok=True)
        if float(logs["val_accuracy"]) > self.best:
            self.best = float(logs["val_accuracy"])
            save_model(self.model, self.folder / BEST, self.identity)
        write_text(self.folder / SIDE_HISTORY, history_text(self.rows))
        save_model(self.model, self.folder / LAST, self.identity)
        (self.folder / SIDE_HISTORY).replace(self.folder / HISTORY)
        recent = [float(r["seconds"]) for r in self.rows[-5:]]  # the pace of late epochs
        eta = (self.num_epoch - epoch - 1) * sum(recent) / len(recent)
        print(f"epoch {epoch + 1}/{self.num_epoch}  loss {logs['loss']:.4f}  "
              f"acc {logs['accuracy']:.4f}  val_loss {logs['val_loss']:.4f}  "
              f"val_acc {logs['val_accuracy']:.4f}  best {self.best:.4f}  {seconds:.1f}s  "
              f"eta {duration(eta)}", flush=True)
        if not all(math.isfinite(float(logs[key])) for key in ("loss", "val_loss")):
            self.diverged, self.model.stop_training = epoch + 1, True


def train_run(run, config, build_model, make_optimizer, data, transform, eval_batch_size=500,
              libraries=()):
    """Train (or resume) one opened run (helmholtz.run.folder.open_run); returns the result dict.

    config: every setting of the run (must hold num_epoch, batch_size, seed,
    precision; drop_last_batch: whole batches only, as Keras 2's fit_generator
    with samples_per_epoch); build_model(): a fresh Keras model;
    make_optimizer(): a fresh optimizer; data: a `Data`;
    transform(x, seeds, training): batch -> model input; libraries: the domain's
    modules whose versions config.json records.
    """
    folder = run.path
    config = full_config(config, data)
    bs, num_epoch, steps = config["batch_size"], config["num_epoch"], config["steps_per_epoch"]
    if (folder / CONFIG).exists():  # the data-derived settings, too, must be the recorded ones
        check_same_run(folder, config)

    set_precision(config["precision"])
    enable_memory_growth()
    keras.utils.set_random_seed(config["seed"])
    config = {**config, "versions": versions(libraries), **numerics(),
              "git_commit": git_commit(), "command": " ".join(sys.argv), "host": platform.node()}

    model, rows = resume_state(run, steps) if run.state == "resume" else (None, [])
    if model is None:
        model = build_model()
        model.compile(optimizer=make_optimizer(), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    else:
        print(f"resuming {folder} after epoch {len(rows)}", flush=True)
    run.write_config(config)

    first = len(rows)
    recorder = RunRecorder(folder, rows, num_epoch, run.identity)
    if first < num_epoch:
        train = train_batches(*data.train, bs, config["seed"], first, num_epoch, transform,
                              config.get("drop_last_batch", False))
        val = eval_batches(*data.val, eval_batch_size, transform)
        model.fit(train, validation_data=val, epochs=num_epoch, initial_epoch=first,
                  steps_per_epoch=steps, shuffle=False, verbose=1 if sys.stdout.isatty() else 0,
                  callbacks=[ReseedDropout(config["seed"]), recorder])
    if recorder.diverged:
        return run.write_diverged(config, rows, recorder.diverged)

    result = finish_run(folder, config, rows, data, transform, eval_batch_size)
    print(f"done: best val_accuracy {result['best_val_accuracy']:.4f} (epoch {result['best_epoch']}), "
          f"test accuracy {result['test_accuracy']:.4f}; {folder / RESULT}", flush=True)
    return result


def predictions(model, xy, eval_batch_size, transform):
    """The class the model predicts for each example of xy, as int16."""
    scores = model.predict(eval_batches(*xy, eval_batch_size, transform), verbose=0)
    return np.argmax(scores, axis=-1).astype(np.int16)


def write_predictions(path, labels, predicted, groups=None):
    """predictions.npz: `labels`, `group` (each example's group, the unit a bootstrap
    resamples; its own index when the data name none), `pred@<level>` per test level
    and `pred@<codec>:<level>` per test across codecs (int16), written atomically; a
    level whose test labels differ from `labels` gets its own `labels@<level>`."""
    groups = np.arange(len(labels)) if groups is None else groups
    arrays = {"labels": np.asarray(labels).astype(np.int16), "group": np.asarray(groups, np.int64)}
    for level, (level_labels, pred) in predicted.items():
        arrays[f"pred@{level}"] = pred
        if not np.array_equal(level_labels, labels):
            arrays[f"labels@{level}"] = np.asarray(level_labels).astype(np.int16)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # np.savez on a name would add ".npz"
        np.savez_compressed(f, **arrays)


def finish_run(folder, config, rows, data, transform, eval_batch_size):
    val_acc = [float(r["val_accuracy"]) for r in rows]
    best_epoch = int(np.argmax(val_acc)) + 1
    best = best_model(folder, rows)

    # The best checkpoint's prediction of every test example, at the run's own level
    # and at every extra test level; the accuracies are computed from them. In the
    # original protocol the validation set is the test set.
    own = data.val if data.val_is_test else data.test
    tests = {str(config["level"]): own, **{str(level): xy for level, xy in data.extra_tests.items()},
             **data.codec_tests}
    predicted = {level: (xy[1], predictions(best, xy, eval_batch_size, transform))
                 for level, xy in tests.items()}

    def accuracy(level):
        labels, pred = predicted[level]
        return float(np.mean(pred == np.asarray(labels)))

    # In the original protocol the best epoch's val accuracy is its test accuracy,
    # as the original reported it.
    test_accuracy = val_acc[best_epoch - 1] if data.val_is_test else accuracy(str(config["level"]))
    seconds = [float(r["seconds"]) for r in rows]
    identity = {k: config.get(k) for k in ("domain", "dataset", "model", "setting", "params",
                                           "level_name", "level", "seed", "fixed", "subset")}
    result = {**identity, "complete": True, "epochs": len(rows), "best_epoch": best_epoch,
              "best_val_accuracy": max(val_acc), "paper_accuracy": metrics.paper_accuracy(val_acc),
              "convergence_epoch": metrics.convergence_epoch(val_acc),
              "test_accuracy": test_accuracy,
              "test_accuracy_at": {str(level): accuracy(str(level)) for level in data.extra_tests},
              "bits_per_sample": config.get("bits_per_sample"),
              "seconds_total": sum(seconds), "seconds_per_epoch": float(np.mean(seconds)),
              "experiment": config["experiment"]}
    if data.codec_tests:  # the best checkpoint on the test data of other codecs
        result["test_accuracy_across"] = by_codec({key: accuracy(key) for key in data.codec_tests})
    write_predictions(folder / PREDICTIONS, own[1], predicted, data.groups)  # before result.json: complete runs have it
    write_json(folder / RESULT, result)
    return result
