"""Example images at each JPEG level: the same test images, as the caches hold them.

A grid: a row per test image (of different classes), a column per level, each
column titled with its level and its mean payload per image over the test
split (cifar/codec.py). The images are read from the caches that cifar/data.py
builds and the trainer reads (cifar/data.py load_split), so they are exactly
what the models were tested on; they are shown upright whatever orientation
was encoded. Nothing is encoded here: a missing cache is an error naming the
command that builds it.

    python cifar/examples.py --dataset fashion-mnist --cache_dir data/study --fixed \\
        --quality 1 5 10 25 100 lossless --out docs/results/study/examples_cifar.png
"""

import numpy as np

from cifar import DATASETS, DEFAULT_DATASET, LEVEL_NAME
from cifar import data as cifar_data
from cifar.codec import LOSSLESS, parse_level
from helmholtz.cli import Parser, output_file, positive_int
from helmholtz.data.cache import atomic_path, cache_dir as default_cache_dir
from helmholtz.errors import UsageError, cli_main
from helmholtz.run.layout import level_dir
from helmholtz.run.outputs import writing

CLASS_NAMES = {
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot")}
CELL_INCHES = 1.4  # one image's square in the figure
DPI = 100


def check_caches(dataset, levels, cache_dir, orientation, data_path=None):
    """A UsageError naming the command that builds the test caches that are missing."""
    root = default_cache_dir(cache_dir)
    missing = [level for level in levels
               if not cifar_data.cache_path(root, dataset, level, "test", orientation).is_file()]
    if missing:
        build = (f"python cifar/data.py --dataset {dataset}"
                 + (" --fixed" if orientation == "upright" else "")
                 + f" --quality {' '.join(map(str, missing))} --cache_dir {root}"
                 + (f" --data {data_path}" if data_path else ""))
        raise UsageError(f"no {orientation} {dataset} test cache at {LEVEL_NAME} "
                         f"{', '.join(map(str, missing))} in {root}; build it with: {build}")


def pick(labels, rows):
    """Indices of the first test image of each class, in class order, up to `rows`
    (the first images of the split where there are fewer classes)."""
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    extra = [i for i in range(len(labels)) if i not in firsts]
    return (firsts + extra)[:rows]


def draw(dataset, levels, cache_dir=None, orientation="upright", rows=6, data_path=None):
    """The grid as a matplotlib Figure (rows x levels image axes)."""
    from matplotlib.figure import Figure
    check_caches(dataset, levels, cache_dir, orientation, data_path)
    splits = [cifar_data.load_split(dataset, level, "test", data_path, cache_dir, orientation)
              for level in levels]
    chosen = pick(splits[0]["label"], rows)
    fig = Figure(figsize=(CELL_INCHES * len(levels), CELL_INCHES * len(chosen) + 0.4), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(len(chosen), len(levels), squeeze=False)
    for col, (level, split) in enumerate(zip(levels, splits)):
        # the caches hold 'transposed' images as the original encoded them: turn them upright
        images = cifar_data.orient(split["data"][chosen], orientation)
        name = "lossless (PNG)" if level == LOSSLESS else f"{LEVEL_NAME} {level}"
        axes[0, col].set_title(f"{name}\n{split['payload'].mean():.0f} B/image", fontsize=9)
        for row, image in enumerate(images):
            ax = axes[row, col]
            grey = image.shape[-1] == 1
            ax.imshow(image[..., 0] if grey else image, cmap="gray" if grey else None,
                      vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                label = int(split["label"][chosen[row]])
                ax.set_ylabel(CLASS_NAMES[dataset][label], fontsize=9)
    fig.suptitle(f"{dataset} test images at each JPEG level\n(payload: mean over the "
                 f"{len(splits[0]['label'])} test images)", fontsize=10)
    return fig


def main(argv=None):
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=DATASETS, default=DEFAULT_DATASET)
    p.add_argument("--quality", nargs="+", default=["1", "5", "10", "25", "100", LOSSLESS],
                   help="JPEG qualities 1..100 and/or 'lossless', one column each")
    p.add_argument("--cache_dir", default=None, help="where the caches live (default <repo>/data)")
    p.add_argument("--data", default=None,
                   help="the archive or folder the caches were built from, if not the default")
    p.add_argument("--fixed", action="store_true",
                   help="the caches of the --fixed protocol (encoded upright); default: the "
                        "original's (encoded transposed)")
    p.add_argument("--rows", type=positive_int, default=6, help="test images, one row each")
    p.add_argument("--out", required=True, help="the PNG file to write")
    args = p.parse_args(argv)
    levels = list(dict.fromkeys(parse_level(q) for q in args.quality))
    out = output_file(args.out)
    orientation = "upright" if args.fixed else "transposed"
    with writing(out.parent, [out.name]):  # checked before drawing
        fig = draw(args.dataset, levels, args.cache_dir, orientation, args.rows, args.data)
        with atomic_path(out) as tmp:  # the figure as drawn, at its own size
            fig.savefig(tmp, format="png")
    print(f"wrote {out} ({', '.join(level_dir(LEVEL_NAME, v) for v in levels)})")


if __name__ == "__main__":
    cli_main(main)
