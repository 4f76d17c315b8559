"""What the benchmark measures of the image half: data preparation (our JPEG
pipeline against the original's way), the training contestants, and the
precision parity runs of cifar/train.py."""
import io
import os
import tempfile
import time

import numpy as np

from cifar import DEFAULT_LEVELS, SPEC
from helmholtz.machine import Clock, table

CIFAR_IMAGES = 60_000  # per level: 50,000 train + 10,000 test
PARITY_QUALITY = 25


def fashion_rgb(data_path, split="train"):
    """Real Fashion-MNIST images as CIFAR-10-shaped RGB (N, 32, 32, 3) uint8, and labels."""
    from cifar.sources import find_source
    images, labels = find_source("fashion-mnist", data_path).read()[split]
    return np.ascontiguousarray(np.repeat(images, 3, axis=-1)), labels


# ---------------------------------------------------------------- data preparation

def original_style(images, quality, folder=None):
    """The original's data step, kept as the baseline: one JPEG file per image
    written with Pillow, then each read back with Image.open, in one process.

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


def bench_data(images, n_original, levels=DEFAULT_LEVELS):
    """Our pipeline, cifar.codec.compress (all cores), against the original's way
    (one process), per level.

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


# ---------------------------------------------------------------- training

def training_race(images, labels, batches, variants):
    """cifar/train.py at its default flags (all-cnns, batch 128, float32): ours, its
    model, optimizer and augmentation, against plain Keras, which augments with
    its own layers; `batches` batches of the images, repeated as needed."""
    from helmholtz.backend import keras
    from helmholtz.bench.training import Race, keras_baseline, ours, trainer_path
    from helmholtz.cli import resolve_precision
    path = trainer_path(SPEC, {"source_channels": int(images.shape[-1])})
    idx = np.arange(batches * path.batch_size) % len(images)
    images, labels = images[idx], labels[idx]

    def baseline_build():  # Keras' own augmentation layers, not the original's shifts
        inputs = keras.Input(images.shape[1:])
        x = keras.layers.RandomTranslation(0.1, 0.1, fill_mode="nearest")(inputs)
        x = keras.layers.RandomFlip("horizontal")(x)
        return keras.Model(inputs, path.build()(x))

    contestants = [ours("ours", path, images, labels),
                   # what a user feeds model.fit: float32 in [0, 1]
                   keras_baseline(baseline_build, path.make_optimizer,
                                  images.astype(np.float32) / 255, labels, path.batch_size)]
    if variants:
        contestants += [ours("ours, bf16 where native", path, images, labels, resolve_precision("auto")),
                        ours("ours, steps_per_execution=4", path, images, labels, steps_per_execution=4),
                        ours("ours, XLA (jit_compile)", path, images, labels, jit_compile=True)]
    return Race("cifar", contestants, path.batch_size, (images, labels, path.transform))


# ---------------------------------------------------------------- precision parity

def parity_argv(model, n_train, n_test, epochs, data_path, cache_dir):
    """cifar/train.py's flags for the parity runs, less seed and precision."""
    # the paper's batch, or one whole batch of a smaller subset
    argv = ["--dataset", "fashion-mnist", "--quality", PARITY_QUALITY, "--model", model,
            "--subset", n_train, "--batch_size", min(SPEC.batch_size, n_train),
            "--test_subset", n_test, "--num_epoch", epochs]
    argv += ["--data", data_path] if data_path else []
    argv += ["--cache_dir", cache_dir] if cache_dir else []
    return [str(a) for a in argv]


def prepare_parity(argv):
    """Build the parity runs' data caches as the trainer reads them, now: compression
    forks workers, which must happen before TensorFlow starts its threads."""
    from helmholtz.run import trainer
    args = trainer.parse_args(SPEC, argv)
    for split in ("train", "test"):
        SPEC.read_split(args, args.level, split)


def bench_parity(argv, seeds):
    """cifar/train.py on Fashion-MNIST at quality 25, float32 (the default) vs mixed bfloat16."""
    from helmholtz.run import trainer
    from helmholtz.bench.parity import bench_parity as parity
    from cifar import train
    args = trainer.parse_args(SPEC, argv)
    out = parity(train.main, argv, seeds,
                 f"{args.model} on Fashion-MNIST q{args.level}, {args.subset} train / "
                 f"{args.test_subset} test, {args.num_epoch} epoch(s)")
    return {"train_images": args.subset, "test_images": args.test_subset,
            "epochs": args.num_epoch, "model": args.model, **out}


# ---------------------------------------------------------------- every codec's grid

def _round_trip(room, images, level):
    """One process's encode + decode of every image (the work of compress's workers)."""
    out = np.empty_like(images[0])
    for image in images:
        room.decode(room.encode(image, level), out)


def bench_codecs(images):
    """Each image codec (cifar.SPEC.codecs) round trip at every level of its grid on all
    cores (cifar.codec.compress, as the data step builds a cache): images per second
    (encode + decode), and the time of the whole grid for 60,000 images; and from the CPU
    time per image in one process, that grid's time on this machine's cores when idle."""
    from cifar.codec import compress
    from helmholtz.data import codecs
    rows = []
    for name in SPEC.codecs:
        room = codecs.room(SPEC, name)
        seconds = 0.0  # projected for the grid: 60,000 images at each level's measured rate
        for level in room.LEVELS:
            with Clock() as clock:
                compress(images, level, desc=f"{name} q{level}", codec=room)
            seconds += CIFAR_IMAGES * clock.wall / len(images)
        # CPU time per image in this process, every level: what a quiet machine's cores give
        sample = images[:min(len(images), 200)]
        start = time.process_time()
        for level in room.LEVELS:
            _round_trip(room, sample, level)
        cpu_us = 1e6 * (time.process_time() - start) / (len(sample) * len(room.LEVELS))
        rows.append({"codec": name, "library": f"{room.LIBRARY}, {room.version()}",
                     "levels": len(room.LEVELS), "grid_seconds": seconds,
                     "img_s": CIFAR_IMAGES * len(room.LEVELS) / seconds, "cpu_us_per_image": cpu_us,
                     "grid_seconds_from_cpu": cpu_us * 1e-6 * CIFAR_IMAGES * len(room.LEVELS)
                     / (os.cpu_count() or 1)})
    table(f"Image codecs: encode + decode on all cores, the grid for {CIFAR_IMAGES:,} images",
          ["codec", "levels", "images/s", "grid, s", "CPU us/image", "grid from CPU, s", "library"],
          [[r["codec"], r["levels"], r["img_s"], r["grid_seconds"], r["cpu_us_per_image"],
            r["grid_seconds_from_cpu"], r["library"]] for r in rows])
    return {"images": len(images), "source": "Fashion-MNIST, 28x28 grey padded to 32x32, as RGB",
            "codecs": rows}
