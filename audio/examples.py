"""Example spectrograms at each MP3 level: the same test clips, as the CNNs see them.

A grid: a row per test clip (each of another class, spread over the class
list), a column per level: the clip's 96-band dB mel spectrogram, read from
the feature caches that audio/data.py builds and the trainer reads
(audio/data.py load_split), which the CNNs take as they are. One colour scale
for the whole figure; each column is titled with its level and its mean
payload per clip over the test split (audio/codec.py). Nothing is encoded
here: a missing cache is an error naming the command that builds it.

    python audio/examples.py --cache_dir data/study --bitrate 8 16 32 64 lossless \\
        --out docs/results/study/examples_audio.png
"""

import numpy as np

from audio import LEVEL_NAME, SAMPLE_RATE
from audio import data as audio_data
from audio.codec import LOSSLESS
from helmholtz.cli import Parser, output_file, positive_int
from helmholtz.data.cache import atomic_path, cache_dir as default_cache_dir
from helmholtz.errors import UsageError, cli_main
from helmholtz.run.outputs import writing

CELL_INCHES = (2.0, 1.5)  # one spectrogram's width and height in the figure
DPI = 100


def check_caches(levels, cache_dir, data_path=None):
    """A UsageError naming the command that builds the test caches that are missing."""
    root = default_cache_dir(cache_dir)
    data_flag = f" --data {data_path}" if data_path else ""
    if data_path is None and not audio_data.generated_root(cache_dir).is_dir():
        raise UsageError(f"the generated audio set is not in {root}; build it and its caches with: "
                         f"python audio/data.py --generate --cache_dir {root} "
                         f"--bitrate {' '.join(map(str, levels))}")
    name, source = audio_data.resolve_source(data_path, cache_dir)
    missing = [level for level in levels
               if not audio_data.cache_path(name, source, level, "test", cache_dir).is_file()]
    if missing:
        raise UsageError(f"no {name} test features at {LEVEL_NAME} {', '.join(map(str, missing))} "
                         f"in {root}; build them with: python audio/data.py --cache_dir {root}"
                         f"{data_flag} --bitrate {' '.join(map(str, missing))}")


def pick(labels, n_classes, rows):
    """Indices of the first test clip of `rows` classes spread evenly over the class list."""
    present = [c for c in range(n_classes) if (labels == c).any()]
    spread = np.linspace(0, len(present) - 1, min(rows, len(present))).round().astype(int)
    return [int(np.flatnonzero(labels == present[i])[0]) for i in spread]


def draw(levels, cache_dir=None, rows=4, data_path=None):
    """The grid as a matplotlib Figure: rows x levels spectrogram axes and a colour bar."""
    from matplotlib.figure import Figure
    check_caches(levels, cache_dir, data_path)
    splits = [audio_data.load_split(level, "test", data_path, cache_dir) for level in levels]
    classes = splits[0]["classes"]
    chosen = pick(splits[0]["label"], len(classes), rows)
    mels = [split["data"][chosen, ..., 0].astype(np.float32) for split in splits]
    low, high = min(m.min() for m in mels), max(m.max() for m in mels)
    seconds = mels[0].shape[-1] * audio_data.FEATURES["hop_length"] / SAMPLE_RATE
    fig = Figure(figsize=(CELL_INCHES[0] * len(levels) + 0.8, CELL_INCHES[1] * len(chosen) + 0.6),
                 dpi=DPI, layout="constrained")
    axes = fig.subplots(len(chosen), len(levels), squeeze=False, sharex=True, sharey=True)
    for col, (level, split, mel) in enumerate(zip(levels, splits, mels)):
        name = "lossless (FLAC)" if level == LOSSLESS else f"{level} kbps"
        axes[0, col].set_title(f"{name}\n{split['payload'].mean() / 1000:.1f} kB/clip", fontsize=9)
        for row, spectrogram in enumerate(mel):
            ax = axes[row, col]
            image = ax.imshow(spectrogram, origin="lower", aspect="auto", cmap="magma",
                              vmin=low, vmax=high, extent=(0, seconds, 0, spectrogram.shape[0]),
                              interpolation="nearest")
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(f"{classes[split['label'][chosen[row]]]}\nmel band", fontsize=9)
            if row == len(mel) - 1:
                ax.set_xlabel("time (s)", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.colorbar(image, ax=axes, label="dB", shrink=0.6)
    fig.suptitle(f"{splits[0]['data'].shape[1]}-band dB mel spectrograms of test clips at each "
                 f"MP3 level\n(payload: mean over the {len(splits[0]['label'])} test clips)",
                 fontsize=10)
    return fig


def main(argv=None):
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--bitrate", nargs="+", default=["8", "16", "32", "64", LOSSLESS],
                   help="MP3 kbps and/or 'lossless', one column each")
    p.add_argument("--cache_dir", default=None, help="cache root (default <repo>/data)")
    p.add_argument("--data", default=None,
                   help="the folder the caches were built from (default: the generated set)")
    p.add_argument("--rows", type=positive_int, default=4, help="test clips, one row each")
    p.add_argument("--out", required=True, help="the PNG file to write")
    args = p.parse_args(argv)
    levels = list(dict.fromkeys(audio_data.parse_level(b) for b in args.bitrate))
    out = output_file(args.out)
    with writing(out.parent, [out.name]):  # checked before drawing
        fig = draw(levels, args.cache_dir, args.rows, args.data)
        with atomic_path(out) as tmp:  # the figure as drawn, at its own size
            fig.savefig(tmp, format="png")
    print(f"wrote {out} ({LEVEL_NAME} {' '.join(map(str, levels))})")


if __name__ == "__main__":
    cli_main(main)
