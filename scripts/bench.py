"""Benchmarks: data preparation, audio preparation, training speed, accuracy parity.

    python scripts/bench.py                    # everything, about 10 minutes on 2 cores
    python scripts/bench.py --quick            # a smaller version, under 2 minutes
    python scripts/bench.py --sections train --variants   # + XLA, steps_per_execution, ...

One run measures, side by side on the same machine:

- data: cifar.codec.compress (JPEG in memory, all cores) against the original's
  way (one JPEG file per image written with Pillow, read back with Image.open,
  one process), on real images (Fashion-MNIST as RGB 32x32), at the nine
  qualities; and the time projected for all nine CIFAR-10 levels x 60,000 images.
- audio: MP3 encode, decode, alignment and mel features per clip, as clips per
  second and as a real-time factor, per core and on all cores.
- train: images per second of our train.py path (train_batches + model.fit,
  float32, the default) against a plain Keras 3 baseline (model.fit on numpy,
  float32, RandomTranslation + RandomFlip inside the model), for all-cnns
  (batch 128) and the default audio model (batch 50; its baseline uses Keras'
  own BatchNormalization(axis=1), ours the fused layer with Keras 2.1.5's
  moving statistics). Repeats interleave
  (A B A B); the first step of every fit call is excluded; medians are
  reported, with the FLOP/s reached against an estimate of the CPU's peak.
- parity: short real cifar/train.py runs on a Fashion-MNIST subset, float32
  (the default) against mixed bfloat16, a few seeds each: whether bf16 reaches
  float32's accuracy within the spread over seeds. A quick look only: the
  reference study decides whether bf16 changes a conclusion.

Per-core figures use CPU time, the rest wall-clock time. Everything is printed
as tables and written to one JSON file (--out, default bench/bench.json).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib
import datetime
import functools
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time

import numpy as np

from helmholtz import REPO
from helmholtz.cache import parallel_map, write_json
from helmholtz.cli import Parser
from helmholtz.errors import UsageError, cli_main

SECTIONS = ("data", "audio", "train", "parity")
# name -> (full, --quick)
SIZES = {
    "images": (20_000, 5_000),        # images per level through our pipeline
    "original_images": (2_000, 300),  # images per level the original's way (it is slow)
    "clips_per_class": (2, 1),        # real clips per class (12 classes) for audio
    "steps": (20, 4),                 # timed training steps per repeat
    "repeats": (3, 2),                # interleaved repeats per contestant
    "parity_train": (5_000, 1_000),   # Fashion-MNIST training images per parity run
    "parity_test": (2_000, 500),
    "parity_epochs": (3, 2),
    "seeds": (3, 2),                  # parity runs per precision
}
# Goals at the faithful precision (float32): ours against plain Keras, and the
# all-cnns step against what a float32 matmul reaches on the same machine.
TARGETS = {"training speedup, all-cnns": 1.2, "all-cnns, of float32 matmul": 0.9,
           "training speedup, cnn_x3_mlp_0": 1.5, "data preparation speedup": 15.0,
           "nine CIFAR-10 levels, seconds": 20.0, "audio real time per core": 200.0}
CIFAR_IMAGES = 60_000  # per level: 50,000 train + 10,000 test
CIFAR_MODEL, CIFAR_BATCH, AUDIO_BATCH = "all-cnns", 128, 50
# all-cnns with the paper's SGD sits near chance for its first ~150 steps, so a
# short run could not tell two precisions apart; this model learns within them.
PARITY_MODEL = "cnns-dense-128"
LOAD_SHARED = 2.0  # load average above which the machine counts as shared


# ---------------------------------------------------------------- machine

def cpu_info():
    """Model, cores, clock, flags and the estimated peak FLOP/s of this CPU.

    Peak = cores x clock x 2 FMA units x SIMD lanes x 2 flops; AVX-512 has 16
    fp32 lanes. AVX512_BF16 dot products do twice the fp32 work per cycle.
    An estimate: the clock read here may be the base clock, not the boost.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), []).append(value.strip())
    flags = set((fields.get("flags") or [""])[0].split())
    mhz = max((float(v) for v in fields.get("cpu MHz", [])), default=0.0)
    try:  # lscpu knows the maximum clock on hosts that expose it
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        mhz = max([mhz] + [float(line.split(":")[1]) for line in lscpu.splitlines()
                           if line.startswith("CPU max MHz:")])
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    cores = len(os.sched_getaffinity(0))
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    fp32 = cores * mhz * 1e6 * 2 * lanes * 2 / 1e9
    bf16 = 2 * fp32 if flags & {"avx512_bf16", "amx_bf16"} else None
    return {"model": (fields.get("model name") or [platform.processor()])[0], "cores": cores,
            "clock_ghz": round(mhz / 1000, 3), "avx512": "avx512f" in flags,
            "avx512_bf16": "avx512_bf16" in flags,
            "peak_gflops_estimate": {"float32": round(fp32, 1),
                                     "bfloat16": round(bf16, 1) if bf16 else None}}


def load_average():
    return round(os.getloadavg()[0], 2)


def cpu_seconds():
    """CPU time of this process and its finished children (the pipeline's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, cpu_seconds() - self.cpu


def table(title, headers, rows):
    rows = [[f"{v:,.0f}" if isinstance(v, float) and abs(v) >= 100 else
             f"{v:.3g}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  " + "  ".join(str(h).rjust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  " + "  ".join(v.rjust(w) for v, w in zip(row, widths)))


# ---------------------------------------------------------------- data preparation

def fashion_rgb(data_path, split="train"):
    """Real Fashion-MNIST images as CIFAR-10-shaped RGB (N, 32, 32, 3) uint8, and labels."""
    from cifar.sources import find_source
    images, labels = find_source("fashion-mnist", data_path).read()[split]
    return np.ascontiguousarray(np.repeat(images, 3, axis=-1)), labels


def original_style(images, quality, folder=None):
    """The original's data step: one JPEG file per image, then each read back.

    Returns (decoded images, seconds writing, seconds reading).
    """
    from PIL import Image
    with tempfile.TemporaryDirectory(prefix="bench-jpeg-", dir=folder) as tmp:
        start = time.perf_counter()
        paths = []
        for i, image in enumerate(images):
            path = os.path.join(tmp, f"{i}.jpg")
            Image.fromarray(image).save(path, quality=quality)
            paths.append(path)
        written = time.perf_counter()
        decoded = np.stack([np.asarray(Image.open(path)) for path in paths])
        return decoded, written - start, time.perf_counter() - written


def codec_profile(images, quality):
    """Microseconds per image of the encoder and decoder alone (one process): ours,
    and Pillow's Image.save, which writes the same bytes."""
    from PIL import Image
    from cifar.codec import decode_jpeg, encode_jpegs
    encode_jpegs(images[:1], quality)  # the encoder's one-time set-up and check
    start = time.process_time()
    encoded = encode_jpegs(images, quality)
    encode = time.process_time() - start
    buf = io.BytesIO()
    start = time.process_time()
    for image in images:
        buf.seek(0)
        buf.truncate()
        Image.fromarray(image).save(buf, "JPEG", quality=quality)
    pillow_save = time.process_time() - start
    out = np.empty_like(images[0])
    start = time.process_time()
    for jpeg in encoded:
        decode_jpeg(jpeg, out)
    decode = time.process_time() - start
    return {"quality": quality, "encode_us": 1e6 * encode / len(images),
            "pillow_save_us": 1e6 * pillow_save / len(images),
            "decode_us": 1e6 * decode / len(images)}


def bench_data(images, n_original, levels):
    """Our pipeline (all cores) against the original's way (one process), per level.

    The original's files go to the default temporary folder (on disk here) and,
    as a best case for it, to RAM (/dev/shm) where there is one.
    """
    from cifar.codec import compress
    ram = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    rows, write_s, read_s = [], 0.0, 0.0
    for level in levels:
        with Clock() as ours:
            decoded = compress(images, level, desc=f"quality {level}").data
        with Clock() as original:
            theirs, written, read = original_style(images[:n_original], level)
        write_s, read_s = write_s + written, read_s + read
        row = {"quality": level, "ours_img_s": len(images) / ours.wall,
               "ours_img_per_cpu_s": len(images) / ours.cpu,
               "original_img_s": n_original / original.wall,
               "original_img_per_cpu_s": n_original / original.cpu,
               "same_pixels": bool(np.array_equal(theirs, decoded[:n_original]))}
        if ram:
            with Clock() as in_ram:
                original_style(images[:n_original], level, ram)
            row["original_ram_img_s"] = n_original / in_ram.wall
        row["speedup"] = row["ours_img_s"] / row["original_img_s"]
        rows.append(row)

    def projected(key):  # seconds for all levels x 60,000 images at the measured rates
        return sum(CIFAR_IMAGES / r[key] for r in rows) if all(key in r for r in rows) else None

    seconds = {"ours": projected("ours_img_s"), "original": projected("original_img_s"),
               "original_in_ram": projected("original_ram_img_s")}
    n = n_original * len(levels)
    out = {"images": len(images), "original_images": n_original,
           "source": "Fashion-MNIST, 28x28 grey padded to 32x32, as RGB", "levels": rows,
           "projected_seconds_all_levels": seconds,
           "speedup": seconds["original"] / seconds["ours"],
           "speedup_vs_original_in_ram": seconds["original_in_ram"] / seconds["ours"] if ram else None,
           "profile": {**codec_profile(images[:min(len(images), 2000)], 25),
                       "original_write_us": 1e6 * write_s / n, "original_read_us": 1e6 * read_s / n}}
    table("Data preparation: JPEG round trip, images per second",
          ["quality", "ours", "ours/cpu-s", "original", "orig/cpu-s", "orig in RAM", "speedup",
           "same pixels"],
          [[r["quality"], r["ours_img_s"], r["ours_img_per_cpu_s"], r["original_img_s"],
            r["original_img_per_cpu_s"], r.get("original_ram_img_s", "-"), r["speedup"],
            r["same_pixels"]] for r in rows])
    p = out["profile"]
    print(f"  all nine levels x {CIFAR_IMAGES:,} images: ours {seconds['ours']:.1f} s, original "
          f"{seconds['original']:.0f} s ({out['speedup']:.1f}x)"
          + (f", original with its files in RAM {seconds['original_in_ram']:.0f} s "
             f"({out['speedup_vs_original_in_ram']:.1f}x)" if ram else ""))
    print(f"  per image: codec alone (one core, q{p['quality']}) encode {p['encode_us']:.0f} us "
          f"(Pillow's Image.save {p['pillow_save_us']:.0f} us, same bytes) + "
          f"decode {p['decode_us']:.0f} us; the original's way: write {p['original_write_us']:.0f} us "
          f"+ read {p['original_read_us']:.0f} us")
    return out


# ---------------------------------------------------------------- audio preparation

@functools.lru_cache(maxsize=None)
def _blas():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def one_blas_thread():
    # As in audio.data: workers fill the cores; BLAS threads would only compete.
    return _blas().limit(limits=1, user_api="blas")


def _audio_job(job):
    from audio.codec import mp3_roundtrip
    from audio.data import mel_features
    samples, kbps = job
    with one_blas_thread():
        decoded, nbytes = mp3_roundtrip(samples, 44100, kbps)
        return mel_features(decoded).shape, nbytes


def audio_clips(per_class, cache_dir):
    """(clips as float32 arrays of 2 s at 44.1 kHz, labels): the first clips of every
    class of the built-in generated set, rendered into a temporary folder if missing."""
    from audio.codec import fit_length
    from audio.data import generated_root, read_clip, scan

    def read(root):
        classes, items = scan(Path(root))
        picked = [(rel, label) for label in range(len(classes))
                  for rel in [r for r, lab in items if lab == label][:per_class]]
        return ([fit_length(read_clip(Path(root) / rel), 2 * 44100) for rel, _ in picked],
                np.array([label for _, label in picked]))

    root = generated_root(cache_dir)
    if root.is_dir():
        return read(root)
    from audio.generate import generate
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        generate(Path(tmp) / "set", clips_per_class=per_class, quiet=True)
        return read(Path(tmp) / "set")


def bench_audio(clips, levels):
    from audio.codec import mp3_decode, mp3_encode, mp3_roundtrip
    from audio.data import mel_features
    seconds = len(clips[0]) / 44100
    rows = []
    with one_blas_thread():
        mel_features(clips[0])  # first call builds the filter bank
        for kbps in levels:
            t = dict.fromkeys(("encode", "decode", "roundtrip", "mel"), 0.0)
            for samples in clips:
                start = time.process_time()
                mp3 = mp3_encode(samples, 44100, kbps)
                t["encode"] += time.process_time() - start
                start = time.process_time()
                mp3_decode(mp3)
                t["decode"] += time.process_time() - start
                start = time.process_time()
                decoded, _ = mp3_roundtrip(samples, 44100, kbps)
                t["roundtrip"] += time.process_time() - start
                start = time.process_time()
                mel_features(decoded)
                t["mel"] += time.process_time() - start
            per_clip = (t["roundtrip"] + t["mel"]) / len(clips)
            rows.append({"kbps": kbps, "encode_ms": 1e3 * t["encode"] / len(clips),
                         "decode_ms": 1e3 * t["decode"] / len(clips),
                         "align_ms": 1e3 * max(0.0, t["roundtrip"] - t["encode"] - t["decode"]) / len(clips),
                         "mel_ms": 1e3 * t["mel"] / len(clips),
                         "clips_per_s_per_core": 1 / per_clip,
                         "realtime_per_core": seconds / per_clip})
    jobs = [(samples, kbps) for kbps in levels for samples in clips]
    with Clock() as total:
        parallel_map(_audio_job, jobs, "audio", chunksize=max(1, len(jobs) // 16))
    cpu_per_clip = statistics.mean(1 / r["clips_per_s_per_core"] for r in rows)
    out = {"clips": len(clips), "clip_seconds": seconds, "levels": rows,
           "clips_per_s_per_core": 1 / cpu_per_clip, "realtime_per_core": seconds / cpu_per_clip,
           "clips_per_s_total": len(jobs) / total.wall,
           "realtime_total": len(jobs) * seconds / total.wall, "workers": os.cpu_count()}
    table("Audio preparation per clip (one core): milliseconds, clips/s, real-time factor",
          ["kbps", "encode", "decode", "align", "mel", "clips/s", "x real time"],
          [[r["kbps"], r["encode_ms"], r["decode_ms"], r["align_ms"], r["mel_ms"],
            r["clips_per_s_per_core"], r["realtime_per_core"]] for r in rows])
    print(f"  mean over levels: {out['clips_per_s_per_core']:.1f} clips/s, "
          f"{out['realtime_per_core']:.0f}x real time per core; all {out['workers']} cores: "
          f"{out['clips_per_s_total']:.1f} clips/s, {out['realtime_total']:.0f}x real time")
    return out


# ---------------------------------------------------------------- training speed

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
    """One way of training a model: builds it under its precision, then times fit calls."""

    def __init__(self, name, build, compile_args, fit, batch_size, precision):
        from helmholtz.backend import keras
        keras.mixed_precision.set_global_policy(precision)
        try:
            self.model = build()
        finally:
            keras.mixed_precision.set_global_policy("float32")
        self.model.compile(**compile_args)
        self.name, self.fit_call, self.precision = name, fit, precision
        self.timer, self.rates = step_timer(batch_size), []
        # Keras runs whole executions: keep the steps of a call a multiple of them.
        self.unit = compile_args.get("steps_per_execution", 1)

    def run(self, steps, repeat):
        steps = max(2, steps // self.unit) * self.unit
        self.fit_call(self.model, steps, repeat, self.timer)
        return self.timer.rate()


def cifar_contestants(images, labels, variants):
    from helmholtz.backend import keras
    from helmholtz.training import resolve_precision, train_batches
    from cifar.models import build_model
    from cifar.train import make_transform
    transform = make_transform(3)
    x_float = images.astype(np.float32) / 255  # what a user feeds model.fit

    def sgd():  # as cifar/train.py: SGD, Nesterov, Keras-2 time decay per batch
        schedule = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=1e-6)
        return {"optimizer": keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True),
                "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}

    def ours_fit(model, steps, repeat, timer):
        batches = train_batches(images, labels, CIFAR_BATCH, 0, repeat, repeat + 1, transform)
        model.fit(batches, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0,
                  callbacks=[timer])

    def baseline_build():
        inputs = keras.Input((32, 32, 3))
        x = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="nearest")(inputs)
        x = keras.layers.RandomFlip("horizontal")(x)
        return keras.Model(inputs, build_model(CIFAR_MODEL)(x))

    def baseline_fit(model, steps, repeat, timer):
        n = steps * CIFAR_BATCH
        model.fit(x_float[:n], labels[:n], batch_size=CIFAR_BATCH, epochs=1, verbose=0,
                  callbacks=[timer])

    out = [Contestant("ours", lambda: build_model(CIFAR_MODEL), sgd(), ours_fit, CIFAR_BATCH, "float32"),
           Contestant("keras baseline", baseline_build, sgd(), baseline_fit, CIFAR_BATCH, "float32")]
    if variants:
        out += [Contestant("ours, bf16 where native", lambda: build_model(CIFAR_MODEL), sgd(),
                           ours_fit, CIFAR_BATCH, resolve_precision("auto")),
                Contestant("ours, steps_per_execution=4", lambda: build_model(CIFAR_MODEL),
                           {**sgd(), "steps_per_execution": 4}, ours_fit, CIFAR_BATCH, "float32"),
                Contestant("ours, XLA (jit_compile)", lambda: build_model(CIFAR_MODEL),
                           {**sgd(), "jit_compile": True}, ours_fit, CIFAR_BATCH, "float32")]
    return out


def audio_contestants(mels, labels, variants):
    from helmholtz.backend import keras
    from helmholtz.training import resolve_precision, train_batches
    from audio import MODELS
    from audio.models import OriginalBatchNorm, build_model
    from audio.train import transform
    x_float = mels.astype(np.float32)

    def adadelta():  # as audio/train.py: Keras 2's Adadelta defaults
        return {"optimizer": keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7),
                "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}

    def build():
        return build_model(MODELS[0], input_shape=mels.shape[1:], num_classes=12)

    def plain_keras_build():  # the same model with Keras' own BatchNormalization(axis=1)
        def swap(layer):
            if isinstance(layer, OriginalBatchNorm):
                return keras.layers.BatchNormalization(axis=1, name=layer.name)
            return layer.__class__.from_config(layer.get_config())
        return keras.models.clone_model(build(), clone_function=swap)

    def ours_fit(model, steps, repeat, timer):
        batches = train_batches(mels, labels, AUDIO_BATCH, 0, repeat, repeat + 1, transform)
        model.fit(batches, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0,
                  callbacks=[timer])

    def baseline_fit(model, steps, repeat, timer):
        n = steps * AUDIO_BATCH
        model.fit(x_float[:n], labels[:n], batch_size=AUDIO_BATCH, epochs=1, verbose=0,
                  callbacks=[timer])

    out = [Contestant("ours", build, adadelta(), ours_fit, AUDIO_BATCH, "float32"),
           Contestant("keras baseline", plain_keras_build, adadelta(), baseline_fit, AUDIO_BATCH,
                      "float32")]
    if variants:
        out.append(Contestant("ours, bf16 where native", build, adadelta(), ours_fit, AUDIO_BATCH,
                              resolve_precision("auto")))
    return out


def race(contestants, steps, repeats):
    """Warm every contestant up, then time them interleaved: A B A B ..."""
    for c in contestants:
        c.run(2, 0)  # traces (and for XLA compiles) the step; not timed
    for repeat in range(repeats):
        for c in contestants:
            # XLA on CPU is slow: a few steps are enough to see by how much.
            c.rates.append(c.run(max(2, steps // 4) if "XLA" in c.name else steps + 1, repeat + 1))


def pipeline_rate(images, labels, batch_size, transform, batches=50):
    """Samples per second of our input pipeline alone (shuffle, gather, augment, cast):
    it must be far above the training rate for the step never to wait on it."""
    from helmholtz.training import steps_per_epoch, train_batches
    epochs = -(-(batches + 1) // steps_per_epoch(len(labels), batch_size))
    stream = iter(train_batches(images, labels, batch_size, 0, 0, epochs, transform))
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


def bench_training(images, labels, mels, mel_labels, steps, repeats, variants, machine, profile):
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
    for domain, contestants, batch in (
            ("cifar", cifar_contestants(images, labels, variants), CIFAR_BATCH),
            ("audio", audio_contestants(mels, mel_labels, variants), AUDIO_BATCH)):
        race(contestants, steps, repeats)
        flops = forward_flops(contestants[0].model)
        rows = []
        for c in contestants:
            rate = statistics.median(c.rates)
            gflops = rate * 3 * flops / 1e9  # training ~ 3 x forward (forward + two backward)
            key = "bfloat16" if "bfloat16" in c.precision else "float32"
            matmul = out.get("matmul_gflops", {}).get(key)
            rows.append({"name": c.name, "precision": c.precision, "samples_per_s": rate,
                         "runs": c.rates, "gflops": gflops,
                         "peak_fraction": gflops / peak[key] if peak and peak[key] else None,
                         "matmul_fraction": gflops / matmul if matmul else None})
        base = rows[1]["samples_per_s"]
        for r in rows:
            r["speedup"] = r["samples_per_s"] / base
        model = contestants[0].model
        out[domain] = {"model": model.name, "batch_size": batch,
                       "forward_mflops_per_sample": flops / 1e6, "contestants": rows,
                       "speedup": rows[0]["speedup"]}
        if domain == "cifar":
            from cifar.train import make_transform
            out[domain]["input_pipeline_samples_per_s"] = pipeline_rate(
                images, labels, CIFAR_BATCH, make_transform(3))
        if profile:
            out[domain]["profile"] = op_profile(contestants[0], steps + 1)
        table(f"Training {model.name} (batch {batch}), samples per second, median of {repeats}",
              ["", "precision", "samples/s", "runs", "GFLOP/s", "of peak", "of matmul", "speedup"],
              [[r["name"], r["precision"], r["samples_per_s"],
                " ".join(f"{v:.0f}" for v in r["runs"]), r["gflops"],
                f"{r['peak_fraction']:.0%}" if r["peak_fraction"] else "-",
                f"{r['matmul_fraction']:.0%}" if r["matmul_fraction"] else "-", r["speedup"]]
               for r in rows])
        if domain == "cifar":
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


# ---------------------------------------------------------------- accuracy parity

def bench_parity(model, n_train, n_test, epochs, seeds, data_path, cache_dir):
    """cifar/train.py on Fashion-MNIST at quality 25, float32 (the default) vs mixed bfloat16."""
    from cifar import train as cifar_train
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-parity-") as tmp:
        for seed in range(seeds):
            for precision in ("float32", "mixed_bfloat16"):
                folder = Path(tmp) / f"{precision}-{seed}"
                # the paper's batch of 128, or one whole batch of a smaller subset
                argv = ["--dataset", "fashion-mnist", "--quality", "25", "--model", model,
                        "--subset", n_train, "--batch_size", min(128, n_train),
                        "--test_subset", n_test, "--num_epoch", epochs, "--seed", seed,
                        "--precision", precision, "--train_dir", folder]
                argv += ["--data", data_path] if data_path else []
                argv += ["--cache_dir", cache_dir] if cache_dir else []
                with contextlib.redirect_stdout(io.StringIO()):
                    cifar_train.main([str(a) for a in argv])
                result = json.loads((folder / "result.json").read_text())
                config = json.loads((folder / "config.json").read_text())
                runs.append({"seed": seed, "precision": config["precision"],
                             "bf16": precision != "float32",
                             "test_accuracy": result["test_accuracy"],
                             "seconds_per_epoch": result["seconds_per_epoch"]})

    def group(bf16):
        acc = [r["test_accuracy"] for r in runs if r["bf16"] == bf16]
        sec = [r["seconds_per_epoch"] for r in runs if r["bf16"] == bf16]
        return {"precision": next(r["precision"] for r in runs if r["bf16"] == bf16),
                "mean": statistics.mean(acc), "spread": max(acc) - min(acc),
                "seconds_per_epoch": statistics.median(sec)}

    base, ours = group(False), group(True)
    difference = ours["mean"] - base["mean"]
    out = {"train_images": n_train, "test_images": n_test, "epochs": epochs, "seeds": seeds,
           "model": model, "runs": runs, "float32": base, "bf16": ours,
           "difference": difference, "spread": max(base["spread"], ours["spread"]),
           "holds": abs(difference) <= max(base["spread"], ours["spread"])}
    table(f"Accuracy parity: {model} on Fashion-MNIST q25, {n_train} train / {n_test} test, "
          f"{epochs} epoch(s), {seeds} seed(s)",
          ["precision", "accuracy (mean)", "spread", "per seed", "s/epoch"],
          [[g["precision"], f"{g['mean']:.4f}", f"{g['spread']:.4f}",
            " ".join(f"{r['test_accuracy']:.4f}" for r in runs if r["bf16"] == d),
            g["seconds_per_epoch"]] for g, d in ((base, False), (ours, True))])
    print(f"  difference {difference:+.4f} vs spread over seeds {out['spread']:.4f}: "
          f"parity {'holds' if out['holds'] else 'NOT shown'}")
    return out


# ---------------------------------------------------------------- targets, main

def targets(results):
    reached = {}
    if "train" in results:
        train = results["train"]
        reached["training speedup, all-cnns"] = train["cifar"]["speedup"]
        if train["cifar"]["contestants"][0]["matmul_fraction"] is not None:  # CPU only
            reached["all-cnns, of float32 matmul"] = train["cifar"]["contestants"][0]["matmul_fraction"]
        reached["training speedup, cnn_x3_mlp_0"] = train["audio"]["speedup"]
    if "data" in results:
        reached["data preparation speedup"] = results["data"]["speedup"]
        reached["nine CIFAR-10 levels, seconds"] = results["data"]["projected_seconds_all_levels"]["ours"]
    if "audio" in results:
        reached["audio real time per core"] = results["audio"]["realtime_per_core"]
    rows = [{"target": name, "goal": TARGETS[name], "reached": value,
             "met": value <= TARGETS[name] if "seconds" in name else value >= TARGETS[name]}
            for name, value in reached.items()]
    if rows:
        table("Targets", ["", "goal", "reached", "met"],
              [[r["target"], r["goal"], r["reached"], "yes" if r["met"] else "NO"] for r in rows])
    return rows


def parse_args(argv=None):
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes: under 2 minutes")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--out", default=str(REPO / "bench" / "bench.json"), help="the JSON file")
    p.add_argument("--variants", action="store_true",
                   help="also time float32, steps_per_execution and XLA versions of our path")
    p.add_argument("--no_profile", dest="profile", action="store_false",
                   help="skip the per-op training profile")
    p.add_argument("--parity_model", default=PARITY_MODEL,
                   help=f"CIFAR model of the parity runs (default {PARITY_MODEL})")
    p.add_argument("--data", default=None, help="Fashion-MNIST idx folder (default: the Debian package)")
    p.add_argument("--cache_dir", default=None, help="data caches (default: data/)")
    for name, (full, quick) in SIZES.items():
        p.add_argument(f"--{name}", type=int, default=None, help=f"default {full} ({quick} with --quick)")
    args = p.parse_args(argv)
    for name, (full, quick) in SIZES.items():
        value = getattr(args, name)
        if value is None:
            setattr(args, name, quick if args.quick else full)
        elif value < 1:
            raise UsageError(f"--{name} must be at least 1, got {value}")
    from cifar import MODELS
    if args.parity_model not in MODELS:
        raise UsageError(f"unknown --parity_model {args.parity_model!r}; choose one of {', '.join(MODELS)}")
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name such as bench/bench.json")
    try:  # found out now, not after ten minutes of measuring
        out.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(out.parent, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        raise UsageError(f"cannot write {out}; choose a writable place with --out")
    return args


def main(argv=None):
    args = parse_args(argv)
    from cifar import DEFAULT_LEVELS as QUALITIES
    from audio import DEFAULT_LEVELS as BITRATES
    start = time.perf_counter()
    machine = {**cpu_info(), "load_average_start": load_average()}
    results = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "host": platform.node(), "quick": args.quick, "machine": machine,
               "sizes": {name: getattr(args, name) for name in SIZES}}
    print(f"{results['date']}  {machine['model']}, {machine['cores']} cores at "
          f"{machine['clock_ghz']} GHz, load average {machine['load_average_start']}"
          + (" (shared machine)" if machine["load_average_start"] > LOAD_SHARED else ""))

    # Everything that forks workers runs before TensorFlow starts its threads.
    need_images = {"data", "train"} & set(args.sections)
    images, labels = fashion_rgb(args.data) if need_images else (None, None)
    if "data" in args.sections:
        results["data"] = bench_data(images[:args.images], args.original_images, QUALITIES)
    if {"audio", "train"} & set(args.sections):
        clips, clip_labels = audio_clips(args.clips_per_class, args.cache_dir)
    if "audio" in args.sections:
        results["audio"] = bench_audio(clips, list(BITRATES))
    if "parity" in args.sections:  # build the caches now (compression forks workers)
        from cifar.data import load_split
        for split in ("train", "test"):
            load_split("fashion-mnist", 25, split, args.data, args.cache_dir)
    if "train" in args.sections:
        from audio.data import mel_features
        batches = max(args.steps + 1, 8)  # enough for whole executions of 4 steps
        n_cifar, n_audio = batches * CIFAR_BATCH, batches * AUDIO_BATCH
        idx = np.arange(n_cifar) % len(images)
        mel_idx = np.arange(n_audio) % len(clips)  # real clips, repeated to fill the batches
        mels = np.stack([mel_features(c) for c in clips])[mel_idx]
        results["train"] = bench_training(images[idx], labels[idx], mels, clip_labels[mel_idx],
                                          args.steps, args.repeats, args.variants, machine,
                                          args.profile)
    if "parity" in args.sections:
        results["parity"] = bench_parity(args.parity_model, args.parity_train, args.parity_test, args.parity_epochs,
                                         args.seeds, args.data, args.cache_dir)
    results["targets"] = targets(results)
    machine["load_average_end"] = load_average()
    machine["shared"] = max(machine["load_average_start"], machine["load_average_end"]) > LOAD_SHARED
    results["seconds"] = time.perf_counter() - start
    write_json(args.out, results)
    print(f"\nload average {machine['load_average_start']} at the start, "
          f"{machine['load_average_end']} at the end"
          + (" (shared machine: timings are noisy)" if machine["shared"] else "")
          + f"; {results['seconds']:.0f} s; {args.out}")
    return results


if __name__ == "__main__":
    cli_main(main)
