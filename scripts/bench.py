"""Benchmarks: data preparation, audio preparation, training speed, accuracy parity.

    python scripts/bench.py                    # everything, about 10 minutes on 2 cores
    python scripts/bench.py --quick            # a smaller version, under 2 minutes
    python scripts/bench.py --smoke            # tiny sizes: checks every section runs
    python scripts/bench.py --sections train --variants   # + bf16, steps_per_execution, XLA

One run measures, side by side on the same machine:

- data (cifar/bench.py): cifar.codec.compress (JPEG in memory, all cores)
  against the original's way (one JPEG file per image written with Pillow,
  read back with Image.open, one process), on real images (Fashion-MNIST as
  RGB 32x32), at the nine qualities; and the time projected for all nine
  CIFAR-10 levels x 60,000 images.
- audio (audio/bench.py): MP3 encode, decode, alignment and mel features per
  clip, as clips per second and as a real-time factor, per core and on all cores.
- codecs (cifar/bench.py, audio/bench.py): every codec of each domain at every
  level of its grid, on all cores as the data steps build caches: images (clips)
  per second, encode + decode, and for images the time of the whole grid for
  60,000 images (target: 10 minutes on 2 cores for each).
- train (helmholtz/bench/training.py, contestants from cifar/ and audio/bench.py):
  samples per second of our train.py path (train_batches + model.fit, float32,
  the default) against a plain Keras 3 baseline (model.fit on numpy, float32),
  for all-cnns (batch 128; the baseline augments with RandomTranslation +
  RandomFlip inside the model) and the default audio model (batch 50; its
  baseline uses Keras' own BatchNormalization(axis=1), ours the fused layer
  with Keras 2.1.5's moving statistics). Repeats interleave (A B A B); the
  first step of every fit call is excluded; medians are reported, with the
  FLOP/s reached against an estimate of the CPU's peak and a matmul's.
- parity (helmholtz/bench/parity.py): short real cifar/train.py runs on a
  Fashion-MNIST subset, float32 (the default) against mixed bfloat16, a few
  seeds each: whether bf16 reaches float32's accuracy within the spread over
  seeds. A quick look only: the reference study decides whether bf16 changes
  a conclusion.

Per-core figures use CPU time, the rest wall-clock time. Everything is printed
as tables and written to one JSON file (--out, default bench/bench.json).
"""
import datetime
import os
import platform
import time
from pathlib import Path

from helmholtz import REPO
from helmholtz.cli import Parser
from helmholtz.data.cache import write_json
from helmholtz.errors import UsageError, cli_main
from helmholtz.machine import LOAD_SHARED, cpu_info, load_average, table

SECTIONS = ("data", "audio", "codecs", "train", "parity")
SCALES = ("full", "quick", "smoke")
# name -> size at each scale
SIZES = {
    "images": (20_000, 5_000, 300),        # images per level through our pipeline
    "codec_images": (4_000, 1_000, 100),   # images per level of every codec's grid
    "original_images": (2_000, 300, 20),   # images per level the original's way (it is slow)
    "clips_per_class": (2, 1, 1),          # real clips per class (12 classes) for audio
    "steps": (20, 4, 2),                   # timed training steps per repeat
    "repeats": (3, 2, 1),                  # interleaved repeats per contestant
    "parity_train": (5_000, 1_000, 64),    # Fashion-MNIST training images per parity run
    "parity_test": (2_000, 500, 32),
    "parity_epochs": (3, 2, 1),
    "seeds": (3, 2, 1),                    # parity runs per precision
}
# Goals at the faithful precision (float32): ours against plain Keras, and the
# all-cnns step against what a float32 matmul reaches on the same machine.
TARGETS = {"training speedup, all-cnns": 1.2, "all-cnns, of float32 matmul": 0.9,
           "training speedup, cnn_x3_mlp_0": 1.5, "data preparation speedup": 15.0,
           "nine CIFAR-10 levels, seconds": 20.0, "audio real time per core": 200.0,
           "slowest image codec's grid, seconds": 600.0,
           "slowest image codec's grid from CPU time, seconds": 600.0}
# all-cnns with the paper's SGD sits near chance for its first ~150 steps, so a
# short run could not tell two precisions apart; this model learns within them.
PARITY_MODEL = "cnns-dense-128"


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
    if "codecs" in results:
        grids = results["codecs"]["images"]["codecs"]
        reached["slowest image codec's grid, seconds"] = max(r["grid_seconds"] for r in grids)
        reached["slowest image codec's grid from CPU time, seconds"] = max(
            r["grid_seconds_from_cpu"] for r in grids)
    rows = [{"target": name, "goal": TARGETS[name], "reached": value,
             "met": value <= TARGETS[name] if "seconds" in name else value >= TARGETS[name]}
            for name, value in reached.items()]
    if rows:
        table("Targets", ["", "goal", "reached", "met"],
              [[r["target"], r["goal"], r["reached"], "yes" if r["met"] else "NO"] for r in rows])
    return rows


def parse_args(argv=None):
    p = Parser(description=__doc__.splitlines()[0])
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true", help="smaller sizes: under 2 minutes")
    scale.add_argument("--smoke", action="store_true",
                       help="the smallest sizes, one repeat: checks that every section runs "
                            "(about 80 s on 2 busy cores); its figures mean little")
    p.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                   help=f"the parts to run (default all: {' '.join(SECTIONS)})")
    p.add_argument("--out", default=str(REPO / "bench" / "bench.json"),
                   help="the JSON file (default bench/bench.json)")
    p.add_argument("--variants", action="store_true",
                   help="also time bf16, steps_per_execution and XLA versions of our path")
    p.add_argument("--no_profile", dest="profile", action="store_false",
                   help="skip the per-op training profile (default: profiled)")
    p.add_argument("--parity_model", default=PARITY_MODEL,
                   help=f"CIFAR model of the parity runs (default {PARITY_MODEL})")
    p.add_argument("--data", default=None, help="Fashion-MNIST idx folder (default: the Debian package)")
    p.add_argument("--cache_dir", default=None, help="data caches (default: data/)")
    for name, (full, quick, smoke) in SIZES.items():
        p.add_argument(f"--{name}", type=int, default=None,
                       help=f"default {full} ({quick} with --quick, {smoke} with --smoke)")
    args = p.parse_args(argv)
    args.scale = "smoke" if args.smoke else "quick" if args.quick else "full"
    for name, sizes in SIZES.items():
        value = getattr(args, name)
        if value is None:
            setattr(args, name, sizes[SCALES.index(args.scale)])
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
    from audio import bench as audio_bench
    from cifar import bench as cifar_bench
    start = time.perf_counter()
    machine = {**cpu_info(), "load_average_start": load_average()}
    results = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
               "host": platform.node(), "quick": args.quick, "scale": args.scale,
               "machine": machine, "sizes": {name: getattr(args, name) for name in SIZES}}
    print(f"{results['date']}  {machine['model']}, {machine['cores']} cores at "
          f"{machine['clock_ghz']} GHz, load average {machine['load_average_start']}"
          + (" (shared machine)" if machine["load_average_start"] > LOAD_SHARED else ""))

    # Everything that forks workers runs before TensorFlow starts its threads.
    sections = set(args.sections)
    if {"data", "codecs", "train"} & sections:
        images, labels = cifar_bench.fashion_rgb(args.data)
    if "data" in sections:
        results["data"] = cifar_bench.bench_data(images[:args.images], args.original_images)
    if {"audio", "codecs", "train"} & sections:
        clips, clip_labels, classes = audio_bench.clips(args.clips_per_class, args.cache_dir)
    if "audio" in sections:
        results["audio"] = audio_bench.bench_audio(clips)
    if "codecs" in sections:
        results["codecs"] = {"images": cifar_bench.bench_codecs(images[:args.codec_images]),
                             "audio": audio_bench.bench_codecs(clips)}
    if "parity" in sections:
        parity_argv = cifar_bench.parity_argv(args.parity_model, args.parity_train, args.parity_test,
                                              args.parity_epochs, args.data, args.cache_dir)
        cifar_bench.prepare_parity(parity_argv)
    if "train" in sections:
        from helmholtz.bench.training import bench_training
        batches = max(args.steps + 1, 8)  # enough for whole executions of 4 steps
        races = [cifar_bench.training_race(images, labels, batches, args.variants),
                 audio_bench.training_race(clips, clip_labels, classes, batches, args.variants)]
        results["train"] = bench_training(races, args.steps, args.repeats, machine, args.profile)
    if "parity" in sections:
        results["parity"] = cifar_bench.bench_parity(parity_argv, args.seeds)
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
