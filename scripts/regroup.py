"""Add each test clip's dry note, as `group`, to the predictions.npz of audio runs on the generated set.

    python scripts/regroup.py docs/results/study/runs --clips_per_class 150

Runs of older code recorded no groups, so a bootstrap of their records drew
the 12 effect versions of a note as if they were independent clips. The
generated set's file names follow from its seed and size alone
(audio/generate.py), and so do its split (audio/sources.py) and the fixed
shuffle of the test clips (helmholtz/run/trainer.py): this rebuilds the test
clips of every run in the order its predictions.npz holds them, checks them
against the labels recorded there (a run of other data stops the script,
nothing written), and writes the file again with `group` added. Nothing is
retrained; runs that record groups already are left as they are.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audio import CLASSES  # noqa: E402
from audio.generate import NOTE_FILE, draw_setting  # noqa: E402
from audio.protocol import note_groups  # noqa: E402
from audio.sources import DEFAULT_SEED, split_items  # noqa: E402
from helmholtz.data.cache import atomic_path  # noqa: E402
from helmholtz.errors import UsageError, cli_main  # noqa: E402
from helmholtz.run.layout import CONFIG, PREDICTIONS, read_json  # noqa: E402
from helmholtz.run.splits import fixed_shuffle  # noqa: E402


def generated_test_clips(clips_per_class, seed=DEFAULT_SEED):
    """(file names, labels) of the generated set's test split, in the split's order."""
    items = [(NOTE_FILE.format(effect=name, note=j,
                               setting=draw_setting(name, np.random.default_rng([seed, c + 1, j]))[0]),
              c)
             for c, name in enumerate(CLASSES) for j in range(clips_per_class)]
    test = split_items(items, seed)["test"]
    return [rel for rel, _ in test], np.array([label for _, label in test])


def groups_of(folder, files, labels):
    """(the run's arrays, its test clips' groups in its order), or None when it has groups;
    UsageError when its recorded labels are not the generated set's."""
    with np.load(folder / PREDICTIONS) as saved:
        arrays = {name: saved[name] for name in saved.files}
    if "group" in arrays:
        return None
    order = fixed_shuffle(len(labels), read_json(folder / CONFIG).get("test_subset"))
    if not np.array_equal(arrays["labels"], labels[order]):
        raise UsageError(f"{folder}: the recorded test labels are not those of the generated set "
                         f"of {len(labels) // len(CLASSES)} test notes; give the set's "
                         "--clips_per_class, or leave this run out")
    return arrays, note_groups([files[i] for i in order])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder of run folders, e.g. docs/results/study/runs")
    parser.add_argument("--clips_per_class", type=int, required=True,
                        help="the generated set's notes per class (the study: 150)")
    args = parser.parse_args(argv)
    files, labels = generated_test_clips(args.clips_per_class)
    folders = sorted(p.parent for p in args.root.rglob(PREDICTIONS)
                     if read_json(p.parent / CONFIG).get("domain") == "audio"
                     and read_json(p.parent / CONFIG).get("dataset") == "generated")
    if not folders:
        raise UsageError(f"no audio runs on the generated set under {args.root}")
    found = {folder: groups_of(folder, files, labels) for folder in folders}  # all checked first
    for folder, got in found.items():
        if got is not None:
            arrays, groups = got
            with atomic_path(folder / PREDICTIONS) as tmp, open(tmp, "wb") as f:
                np.savez_compressed(f, **arrays, group=groups.astype(np.int64))
    changed = sum(got is not None for got in found.values())
    print(f"{changed} of {len(folders)} audio runs regrouped by note "
          f"({len(set(note_groups(files)))} notes x {len(CLASSES)} effects in the test split)")


if __name__ == "__main__":
    cli_main(main)
