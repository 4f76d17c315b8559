"""What a report folder holds besides the runs: baseline records and example figures.

A baseline record is a JSON file in `<report folder>/baseline/`, written by a
domain's baseline command (its `--json <folder>/baseline/<level>.json`) with at
least `name`, `level`, `accuracy` and `test_size`. Example figures are the
`examples_*.png` files a domain's examples command drew into the folder.
"""
import json
from pathlib import Path

from scipy.stats import binomtest

from helmholtz.analysis.paired import level_key

FIELDS = ("name", "level", "accuracy", "test_size")


def read_baselines(out_dir):
    """(records sorted by name, then level with lossless last; names of unreadable files)."""
    records, unreadable = [], []
    for path in sorted((Path(out_dir) / "baseline").glob("*.json")):
        try:
            record = json.loads(path.read_text())
            if not all(field in record for field in FIELDS):
                raise ValueError
        except (OSError, ValueError):
            unreadable.append(path.name)
            continue
        records.append(record)
    records.sort(key=lambda r: (str(r["name"]), level_key(r["level"])))
    return records, unreadable


def _binomial_interval(accuracy, n):
    """Clopper-Pearson 90% interval of an accuracy measured on n test examples, in %."""
    ci = binomtest(round(accuracy * n), n).proportion_ci(confidence_level=0.9)
    return f"{100 * ci.low:.2f} to {100 * ci.high:.2f}"


def baseline_section(out_dir):
    """Markdown lines: the baselines' test accuracy by level, or [] when there are none."""
    records, unreadable = read_baselines(out_dir)
    if not records and not unreadable:
        return []
    md = ["## Baseline", "",
          "A model without a network, fitted on the train split and scored once on the test "
          "split at each level (its own records in `baseline/`). The fit is deterministic, so "
          "the interval is the test set's sampling noise alone (exact binomial, 90%).", "",
          "| baseline | level | test acc. % (90%) | test examples |", "|---|---|---|---|"]
    md += [f"| {r['name']} | {r['level']} | {100 * r['accuracy']:.2f} "
           f"({_binomial_interval(r['accuracy'], r['test_size'])}) | {r['test_size']} |"
           for r in records]
    if unreadable:
        md += ["", f"Unreadable baseline records, left out: {', '.join(unreadable)}."]
    return md + [""]


def example_figures(out_dir):
    """Names of the example figures (`examples_*.png`) in the report folder, sorted."""
    return sorted(path.name for path in Path(out_dir).glob("examples_*.png"))
