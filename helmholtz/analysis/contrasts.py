"""Experiments that differ in one setting only, compared where they overlap.

Two experiments of the same domain and dataset whose settings differ in exactly
one (say `precision`: the bf16 runs beside their float32 twins) are compared
model by model and level by level, on the seeds both ran, example by example:
the difference b - a with the paired bootstrap of helmholtz.analysis.stats (seeds and
groups of test examples resampled jointly) and its two-sided 1 - 2 alpha interval. The
verdict is "equivalent" when the interval lies within (-margin, +margin) (two
one-sided tests at alpha), "differs" when it excludes 0, else "not resolved".
"""
import json

import numpy as np
import pandas as pd

from helmholtz.analysis import stats
from helmholtz.analysis.paired import NotPaired, format_level, paired_correctness, sorted_levels
from helmholtz.analysis.results import _flat, experiments

EQUIVALENT, DIFFERS, NOT_RESOLVED = "equivalent", "differs", "not resolved"
COLUMNS = ["setting", "a", "b", "model", "level", "seeds", "examples", "accuracy_a",
           "accuracy_b", "difference", "low", "high", "verdict", "note"]


def one_setting_pairs(results):
    """[(experiment a, experiment b, setting, value a, value b)] for the experiments of
    the same domain and dataset whose settings differ in exactly one, ordered by value."""
    found = experiments(results)
    first = results.drop_duplicates("experiment").set_index("experiment")
    flat = {key: _flat(json.loads(first.loc[key, "experiment_settings"])) for key in found["experiment"]}
    pairs = []
    for _, part in found.groupby(["domain", "dataset"], sort=True):
        keys = sorted(part["experiment"])
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                names = set(flat[a]) | set(flat[b])
                differ = [n for n in names if json.dumps(flat[a].get(n), default=str)
                          != json.dumps(flat[b].get(n), default=str)]
                if len(differ) == 1:
                    (name,) = differ
                    va, vb = flat[a].get(name), flat[b].get(name)
                    if str(va) > str(vb):
                        a, b, va, vb = b, a, vb, va
                    pairs.append((a, b, name, va, vb))
    return pairs


def verdict(low, high, margin):
    if stats.equivalent(low, high, margin):
        return EQUIVALENT
    if low > 0 or high < 0:
        return DIFFERS
    return NOT_RESOLVED


def _compare(runs_a, runs_b, level, margin, alpha, n_boot):
    """One (model, level): accuracies, difference b - a and its interval over the shared seeds."""
    correct_a, seeds_a, labels_a, groups, _ = paired_correctness(runs_a, [level])
    correct_b, seeds_b, labels_b, _, _ = paired_correctness(runs_b, [level])
    seeds = sorted(set(seeds_a) & set(seeds_b))
    if not seeds:
        raise NotPaired("no seed ran in both")
    if not np.array_equal(labels_a, labels_b):
        raise NotPaired("the test labels differ, so the runs cannot be paired")
    pick = lambda correct, have: correct[:, [have.index(s) for s in seeds]]  # noqa: E731
    correct = np.concatenate([pick(correct_a, seeds_a), pick(correct_b, seeds_b)])
    boot = stats.Bootstrap(correct, n_boot=n_boot, groups=groups)
    difference = boot.accuracy[1] - boot.accuracy[0]
    low, high = stats.interval(difference, boot.differences()[:, 1],
                               boot.per_seed[1] - boot.per_seed[0], alpha)
    return dict(seeds=len(seeds), examples=correct.shape[2], accuracy_a=boot.accuracy[0],
                accuracy_b=boot.accuracy[1], difference=difference, low=low, high=high,
                verdict=verdict(low, high, margin), note="")


def contrast_table(results, margin=stats.MARGIN, alpha=stats.ALPHA, n_boot=stats.N_BOOT):
    """One row per (pair of experiments, model, level) that both ran (COLUMNS)."""
    rows = []
    for a, b, name, va, vb in one_setting_pairs(results):
        runs_a, runs_b = results[results.experiment == a], results[results.experiment == b]
        for model in sorted(set(runs_a.model) & set(runs_b.model)):
            ma, mb = runs_a[runs_a.model == model], runs_b[runs_b.model == model]
            for level in sorted_levels(set(ma.level) & set(mb.level)):
                row = dict(setting=name, a=va, b=vb, model=model, level=level)
                try:
                    row.update(_compare(ma[ma.level == level], mb[mb.level == level], level,
                                        margin, alpha, n_boot))
                except NotPaired as e:
                    row.update(verdict="not estimable", note=str(e))
                rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def contrast_section(results, margin=stats.MARGIN, alpha=stats.ALPHA, n_boot=stats.N_BOOT):
    """Markdown lines of the report's section, or [] when no two experiments differ in one
    setting only."""
    table = contrast_table(results, margin, alpha, n_boot)
    if table.empty:
        return []
    pct = lambda v: "-" if pd.isna(v) else f"{100 * v:.1f}"  # noqa: E731
    md = ["## Experiments that differ in one setting",
          "",
          f"Each row sets runs of the same model, level and seeds side by side that differ only in "
          f"the setting named, example by example: b - a in points with its {1 - 2 * alpha:.0%} "
          f"paired interval (seeds and test examples resampled). \"equivalent\": the interval "
          f"lies within +-{100 * margin:g} points (the margin); \"differs\": it excludes 0.",
          "",
          "| setting | a | b | model | level | seeds x examples | accuracy a | accuracy b "
          "| b - a [interval] | verdict |",
          "|---|---|---|---|---|---|---:|---:|---|---|"]
    for r in table.itertuples(index=False):
        size = "-" if pd.isna(r.seeds) else f"{int(r.seeds)} x {int(r.examples)}"
        diff = (r.note if pd.isna(r.difference)
                else f"{pct(r.difference)} [{pct(r.low)}, {pct(r.high)}]")
        md.append(f"| {r.setting} | {r.a} | {r.b} | {r.model} | {format_level(r.level)} | {size} "
                  f"| {pct(r.accuracy_a)} | {pct(r.accuracy_b)} | {diff} | {r.verdict} |")
    return md + [""]
