"""The image data step: source images -> codec at a level -> cached arrays.

    python cifar/data.py --dataset cifar10 --quality 1 5 lossless
    python cifar/data.py --dataset fashion-mnist --data /path/to/idx/folder
    python cifar/data.py --fixed --quality 25      # upright, for train.py --fixed

The sources are in cifar/sources.py (the official CIFAR-10 archive,
Fashion-MNIST), the codec in cifar/codec.py: every image goes through
Pillow's JPEG encoder at quality q in memory (no files) and is decoded back;
its encoded size is kept, in total and as the payload without the header.
The level `lossless` runs no codec: the images stay as they are, and their
sizes are those of their PNG, the reference for bits.

Orientation: the original transposed its arrays before anything else
(convert_cifar10.py: (N, 3, 32, 32) -> transpose(0, 3, 2, 1), rows = x) and
JPEG-encoded those transposed images (restore_images.py). JPEG is not
symmetric under transposition (its quantisation tables treat horizontal and
vertical frequencies differently), so by default the images are encoded
`transposed`, as the original's were; `--fixed` encodes them `upright` (rows =
y, as people see them). The decoded images stay in the orientation they were
encoded in, and the sizes are those of what was encoded.

Caches: one HDF5 file per (dataset, level, orientation, split) under
<cache_dir>/<dataset>/, holding `data` (uint8, N x 32 x 32 x C), `label`,
`bytes` and `payload` (cifar/codec.py defines both), and a record
(source MD5, orientation, library versions, codec settings). A cache whose
record differs is rebuilt. The decoded source is cached too
(`source_<split>.h5`, upright) so that each level does not re-read the
archive.
"""
from pathlib import Path

import numpy as np

from cifar import DATASETS, DEFAULT_DATASET, DEFAULT_LEVELS, SPEC
from cifar.codec import codec_record, compress, parse_level
from cifar.noise import add_noise, noise_bits
from cifar.sources import SIZE, find_source
from helmholtz.cli import Parser
from helmholtz.data.cache import cache_dir as default_cache_dir
from helmholtz.data.cache import read_h5, write_h5
from helmholtz.data.codecs import NO_NOISE, add_flags as add_codec_flags, default_codec, level_tag, room
from helmholtz.errors import UsageError, cli_main

CACHE_FORMAT = 3  # bump when the cache layout or the pipeline changes
SPLITS = ("train", "test")
ORIENTATIONS = ("transposed", "upright")  # what is encoded: the original's, or --fixed
CHANNELS = {"cifar10": 3, "fashion-mnist": 1}
SIZES = ("bytes", "payload")  # per image, int64


def _check(dataset, split, orientation):
    if dataset not in DATASETS:
        raise UsageError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise UsageError(f"unknown split {split!r}; choose 'train' or 'test'")
    if orientation not in ORIENTATIONS:
        raise UsageError(f"unknown orientation {orientation!r}; choose one of {', '.join(ORIENTATIONS)}")


def orient(images, orientation):
    """Upright (N, y, x, C) images as the codec gets them: 'transposed' is the
    original's (N, x, y, C) (convert_cifar10.py transpose(0, 3, 2, 1))."""
    return images.transpose(0, 2, 1, 3) if orientation == "transposed" else images


# ---------------------------------------------------------------- caches

def cache_path(root, dataset, level, split, orientation=None, codec=None, noise=NO_NOISE):
    codec = None if level == "lossless" else codec  # PNG for every codec: one cache
    tag = "source" if level == "source" else f"{level_tag(SPEC, level, codec, noise)}_{orientation}"
    return Path(root) / dataset / f"{tag}_{split}.h5"


def _source_split(source, split, root):
    """The decoded source images of one split, from the source cache when it is valid."""
    record = {"format": CACHE_FORMAT, "dataset": source.dataset, "split": split,
              "level": "source", "source_md5": source.checksum}
    arrays = read_h5(cache_path(root, source.dataset, "source", split), record)
    if arrays is not None:
        return arrays["data"], arrays["label"]
    splits = source.read()
    for name, (images, labels) in splits.items():  # both splits: the archive is read once
        write_h5(cache_path(root, source.dataset, "source", name),
                 {"data": images, "label": labels}, {**record, "split": name})
    return splits[split]


def _level_split(source, level, split, root, orientation, codec=None, noise=NO_NOISE):
    module = room(SPEC, codec or default_codec(SPEC))
    record = {"format": CACHE_FORMAT, "dataset": source.dataset, "split": split, "level": level,
              "orientation": orientation, "source_md5": source.checksum,
              **codec_record(level, CHANNELS[source.dataset], module)}
    if noise != NO_NOISE:  # records of the default codec without noise stay as they were
        record["sensor_noise"] = noise
    path = cache_path(root, source.dataset, level, split, orientation, codec, noise)
    arrays = read_h5(path, record)
    if arrays is None:
        images, labels = _source_split(source, split, root)
        if noise != NO_NOISE:
            images = add_noise(images, noise, split)
        desc = f"{source.dataset} {level_tag(SPEC, level, codec, noise)} {orientation} {split}"
        arrays = {**compress(orient(images, orientation), level, desc, module)._asdict(),
                  "label": np.asarray(labels, np.int64)}
        write_h5(path, arrays, record)
    return {"data": arrays["data"], "label": arrays["label"].astype(np.int64),
            **{name: arrays[name].astype(np.int64) for name in SIZES}}


def sensor_noise_bits(dataset, split, noise, data_path=None, cache_dir=None):
    """The injected noise's information per image in bits (cifar/noise.py), of the clean
    source images of a split."""
    root = default_cache_dir(cache_dir)
    images, _ = _source_split(find_source(dataset, data_path, root), split, root)
    return noise_bits(images, noise)


def load_split(dataset, level, split, data_path=None, cache_dir=None, orientation="transposed",
               codec=None, noise=NO_NOISE):
    """One split at one level: {'data': uint8 (N, 32, 32, C) in `orientation` (the
    original's 'transposed', rows = x; or 'upright', rows = y), 'label': int64 (N,),
    'bytes' and 'payload': int64 (N,), the encoded size in total and without
    the header (cifar/codec.py)}. Builds the cache if needed. codec: a name of
    cifar.SPEC.codecs (default JPEG); noise: the known sensor noise's sigma (cifar/noise.py)."""
    _check(dataset, split, orientation)
    level = parse_level(level)
    root = default_cache_dir(cache_dir)
    return _level_split(find_source(dataset, data_path, root), level, split, root, orientation,
                        codec, noise)


def prepare(dataset, levels, data_path=None, cache_dir=None, orientation="transposed", codec=None,
            noise=NO_NOISE):
    """Build (or check) the caches of both splits at every level.

    Returns one summary dict per (level, split): level, split, images, mean_bytes,
    mean_payload.
    """
    _check(dataset, "train", orientation)
    levels = list(dict.fromkeys(parse_level(level) for level in levels))
    root = default_cache_dir(cache_dir)
    source = find_source(dataset, data_path, root)
    summary = []
    for level in levels:
        for split in SPLITS:
            arrays = _level_split(source, level, split, root, orientation, codec, noise)
            summary.append({"level": level, "split": split, "images": len(arrays["label"]),
                            **{f"mean_{name}": float(arrays[name].mean()) if len(arrays[name])
                               else 0.0 for name in SIZES}})
    return summary


# ---------------------------------------------------------------- command line

def main(argv=None):
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=DATASETS, default=DEFAULT_DATASET)
    p.add_argument("--quality", nargs="+", default=[str(q) for q in DEFAULT_LEVELS],
                   help="JPEG qualities 1..100 and/or 'lossless' (default: the original's nine)")
    p.add_argument("--data", default=None, help="local archive or folder of the dataset")
    p.add_argument("--cache_dir", default=None, help="where caches live (default <repo>/data)")
    add_codec_flags(p, SPEC, many=True)
    p.add_argument("--fixed", action="store_true",
                   help="encode the images upright, for train.py --fixed (default: transposed "
                        "first, as the original)")
    args = p.parse_args(argv)
    levels = [parse_level(q) for q in args.quality]  # all checked before any work
    for codec in args.codec:
        module = room(SPEC, codec)
        for level in levels:
            if level != "lossless":
                module.check_level(level)
    orientation = "upright" if args.fixed else "transposed"
    root = default_cache_dir(args.cache_dir)
    source = find_source(args.dataset, args.data, root)
    print(f"{args.dataset}: source {source.where}; images encoded {orientation}; "
          f"caches in {root / args.dataset}")
    for codec, noise in ((c, n) for n in args.sensor_noise for c in args.codec):
        for row in prepare(args.dataset, levels, args.data, args.cache_dir, orientation, codec, noise):
            _show(row, codec, noise)


def _show(row, codec, noise):
    bits = 8 * row["mean_bytes"] / (SIZE * SIZE)
    payload_bits = 8 * row["mean_payload"] / (SIZE * SIZE)
    print(f"  {level_tag(SPEC, row['level'], codec, noise):>16} {row['split']:>5}: "
          f"{row['images']:6d} images, {row['mean_bytes']:7.1f} bytes/image "
          f"({bits:.2f} bits/pixel; payload {row['mean_payload']:.1f} bytes, "
          f"{payload_bits:.2f} bits/pixel)")


if __name__ == "__main__":
    cli_main(main)
