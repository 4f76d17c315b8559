"""Training throughput and its ceiling: ways of training one model, timed side by side.

A domain hands over its contestants (`ours`: the train.py path; `keras_baseline`:
what a user would write); `bench_training` races them interleaved (A B A B),
counts FLOPs, and sets the rates against an estimate of the CPU's peak and
against what a float32 (and bfloat16) matmul reaches on the same machine.
"""
import json
import statistics
import tempfile
import time
from collections import namedtuple
from pathlib import Path

import numpy as np

from helmholtz.machine import table

# As helmholtz.run.training.train_run compiles every model.
COMPILE = {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}

# One domain's race: its contestants (ours first, the baseline second), batch
# size, and optionally (x, y, transform) to time the input pipeline alone.
Race = namedtuple("Race", "domain contestants batch_size pipeline", defaults=(None,))


def forward_flops(model):
    """FLOPs of one sample's forward pass: 2 x the MACs of its Conv2D and Dense layers."""
    from helmholtz.backend import keras
    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            macs += forward_flops(layer) // 2
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, _ = layer.kernel.shape
            macs += int(np.prod(layer.output.shape[1:])) * kh * kw * cin
        elif isinstance(layer, keras.layers.Dense):
            macs += int(np.prod(layer.output.shape[1:-1], dtype=np.int64)) * layer.kernel.shape[0] * layer.units
    return 2 * macs


def step_timer(batch_size):
    """A Keras callback measuring samples per second over the steps after the first
    of a fit call (the first holds tracing and the input pipeline's start)."""
    from helmholtz.backend import keras

    class StepTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.marks = []

        def on_train_batch_end(self, batch, logs=None):
            self.marks.append((batch, time.perf_counter()))

        def rate(self):
            (b0, t0), (b1, t1) = self.marks[0], self.marks[-1]
            return (b1 - b0) * batch_size / (t1 - t0)

    return StepTimer()


class Contestant:
    """One way of training a model: builds it under its precision, then times fit calls.

    fit(model, steps, repeat, timer) runs one timed fit call; compile_extra goes
    to model.compile beside the optimizer and train_run's loss and metrics.
    """

    def __init__(self, name, build, make_optimizer, fit, batch_size, precision, **compile_extra):
        from helmholtz.backend import keras
        keras.mixed_precision.set_global_policy(precision)
        try:
            self.model = build()
        finally:
            keras.mixed_precision.set_global_policy("float32")
        self.model.compile(optimizer=make_optimizer(), **COMPILE, **compile_extra)
        self.name, self.fit_call, self.precision = name, fit, precision
        self.timer, self.rates = step_timer(batch_size), []
        # Keras runs whole executions: keep the steps of a call a multiple of them.
        self.unit = compile_extra.get("steps_per_execution", 1)

    def run(self, steps, repeat):
        steps = max(2, steps // self.unit) * self.unit
        self.fit_call(self.model, steps, repeat, self.timer)
        return self.timer.rate()


# What a domain's trainer builds: the model, its optimizer, the batch transform
# (augmentation included) and the batch size.
TrainerPath = namedtuple("TrainerPath", "build make_optimizer transform batch_size")


def trainer_path(spec, facts):
    """The trainer's pieces for a domain spec (helmholtz.domain) at its default flags,
    as helmholtz.run.trainer.main makes them; facts: what the domain's describe would
    say of the benchmark's data."""
    from helmholtz.run import trainer
    from helmholtz.cli import model_name
    args = trainer.parse_args(spec, [])
    name = model_name(spec.models, args.setting, args.model)
    optimizer = trainer.optimizer_settings(spec, args)  # as config.json records them
    return TrainerPath(build=lambda: spec.build_model(name, args, facts),
                       make_optimizer=lambda: spec.make_optimizer(optimizer),
                       transform=spec.make_transform(args, facts), batch_size=args.batch_size)


def ours(name, path, x, y, precision="float32", **compile_extra):
    """Our train.py path: helmholtz.run.training.train_batches (tf.data) into model.fit,
    as train_run feeds it; repeat r is epoch r of the stream."""
    from helmholtz.run.training import train_batches

    def fit(model, steps, repeat, timer):
        batches = train_batches(x, y, path.batch_size, 0, repeat, repeat + 1, path.transform)
        model.fit(batches, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0,
                  callbacks=[timer])

    return Contestant(name, path.build, path.make_optimizer, fit, path.batch_size, precision,
                      **compile_extra)


def keras_baseline(build, make_optimizer, x, y, batch_size):
    """What a user would write, kept plain on purpose as the comparison: model.fit on
    float32 numpy arrays x, whatever augmentation the domain's build puts in the model."""

    def fit(model, steps, repeat, timer):
        n = steps * batch_size
        model.fit(x[:n], y[:n], batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])

    return Contestant("keras baseline", build, make_optimizer, fit, batch_size, "float32")


def race(contestants, steps, repeats):
    """Warm every contestant up, then time them interleaved: A B A B ..."""
    for c in contestants:
        c.run(2, 0)  # traces (and for XLA compiles) the step; not timed
    for repeat in range(repeats):
        for c in contestants:
            # XLA on CPU is slow: a few steps are enough to see by how much.
            c.rates.append(c.run(max(2, steps // 4) if "XLA" in c.name else steps + 1, repeat + 1))


def pipeline_rate(x, y, batch_size, transform, batches=50):
    """Samples per second of our input pipeline alone (shuffle, gather, augment, cast):
    it must be far above the training rate for the step never to wait on it."""
    from helmholtz.run.training import steps_per_epoch, train_batches
    epochs = -(-(batches + 1) // steps_per_epoch(len(y), batch_size))
    stream = iter(train_batches(x, y, batch_size, 0, 0, epochs, transform))
    next(stream)  # the first batch starts the threads
    start = time.perf_counter()
    for _ in range(batches):
        next(stream)
    return batches * batch_size / (time.perf_counter() - start)


def matmul_gflops(dtype, n=2048, repeats=5):
    """Best GFLOP/s of an n x n matmul: what the BLAS reaches on this machine."""
    from helmholtz.backend import tf
    a = tf.cast(tf.random.normal((n, n)), dtype)
    matmul = tf.function(lambda a: tf.matmul(a, a))
    matmul(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def op_profile(contestant, steps):
    """Share of busy CPU time per TensorFlow op type over a few training steps."""
    from helmholtz.backend import tf
    try:  # the profile converter is TensorFlow's own, not a public API: optional
        from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin
        with tempfile.TemporaryDirectory(prefix="bench-profile-") as logdir:
            tf.profiler.experimental.start(logdir)
            try:
                contestant.run(steps, 99)
            finally:
                tf.profiler.experimental.stop()
            paths = [str(p) for p in Path(logdir).rglob("*.xplane.pb")]
            raw, _ = plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
        times = {}
        for part in json.loads(raw):
            columns = [c["id"] for c in part["cols"]]
            for row in part["rows"]:
                op = dict(zip(columns, (cell.get("v") for cell in row["c"])))
                if op["type"] != "IDLE":
                    times[op["type"]] = times.get(op["type"], 0.0) + op["total_self_time"]
    except Exception as e:  # a profile is a bonus; its absence is reported, not fatal
        return {"error": f"{type(e).__name__}: {e}"}
    busy = sum(times.values()) or 1.0
    top = sorted(times.items(), key=lambda kv: -kv[1])
    conv = sum(t for op, t in times.items() if "Conv2D" in op)
    return {"convolution_share": conv / busy,
            "ops": [{"op": op, "share": t / busy} for op, t in top[:8]]}


def _rows(contestants, flops, peak, matmul_gflops):
    rows = []
    for c in contestants:
        rate = statistics.median(c.rates)
        gflops = rate * 3 * flops / 1e9  # training ~ 3 x forward (forward + two backward)
        key = "bfloat16" if "bfloat16" in c.precision else "float32"
        matmul = matmul_gflops.get(key)
        rows.append({"name": c.name, "precision": c.precision, "samples_per_s": rate,
                     "runs": c.rates, "gflops": gflops,
                     "peak_fraction": gflops / peak[key] if peak and peak[key] else None,
                     "matmul_fraction": gflops / matmul if matmul else None})
    base = rows[1]["samples_per_s"]  # the keras baseline
    for r in rows:
        r["speedup"] = r["samples_per_s"] / base
    return rows


def bench_training(races, steps, repeats, machine, profile):
    """Race each domain's contestants; returns the figures per domain, printed as tables."""
    from helmholtz.backend import tf
    from helmholtz.errors import quiet_stderr
    tf.get_logger().setLevel("ERROR")  # each fit call on new arrays retraces once: expected here
    with quiet_stderr():
        gpus = tf.config.list_physical_devices("GPU")
    peak = None if gpus else machine["peak_gflops_estimate"]
    out = {"device": tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
           if gpus else "CPU", "steps": steps, "repeats": repeats}
    if not gpus:
        out["matmul_gflops"] = {"float32": matmul_gflops(tf.float32),
                                "bfloat16": matmul_gflops(tf.bfloat16)}
    for domain, contestants, batch, pipeline in races:
        race(contestants, steps, repeats)
        model = contestants[0].model
        flops = forward_flops(model)
        rows = _rows(contestants, flops, peak, out.get("matmul_gflops", {}))
        out[domain] = {"model": model.name, "batch_size": batch,
                       "forward_mflops_per_sample": flops / 1e6, "contestants": rows,
                       "speedup": rows[0]["speedup"]}
        if pipeline:
            out[domain]["input_pipeline_samples_per_s"] = pipeline_rate(*pipeline[:2], batch, pipeline[2])
        if profile:
            out[domain]["profile"] = op_profile(contestants[0], steps + 1)
        table(f"Training {model.name} (batch {batch}), samples per second, median of {repeats}",
              ["", "precision", "samples/s", "runs", "GFLOP/s", "of peak", "of matmul", "speedup"],
              [[r["name"], r["precision"], r["samples_per_s"],
                " ".join(f"{v:.0f}" for v in r["runs"]), r["gflops"],
                f"{r['peak_fraction']:.0%}" if r["peak_fraction"] else "-",
                f"{r['matmul_fraction']:.0%}" if r["matmul_fraction"] else "-", r["speedup"]]
               for r in rows])
        if pipeline:
            rate = out[domain]["input_pipeline_samples_per_s"]
            print(f"  input pipeline alone: {rate:,.0f} images/s "
                  f"({rate / rows[0]['samples_per_s']:.0f}x the training rate: the step never waits)")
        prof = out[domain].get("profile", {})
        if "ops" in prof:
            print(f"  where the time goes (ours): convolutions {prof['convolution_share']:.0%}; "
                  + ", ".join(f"{o['op']} {o['share']:.0%}" for o in prof["ops"][:5]))
    if not gpus:
        mm = out["matmul_gflops"]
        print(f"  peak estimate: {peak['float32']:.0f} GFLOP/s float32, "
              f"{peak['bfloat16'] or 0:.0f} bfloat16 ({machine['cores']} cores x "
              f"{machine['clock_ghz']} GHz); a 2048^2 matmul reaches {mm['float32']:.0f} / "
              f"{mm['bfloat16']:.0f}")
    return out
