"""Noise bits: the bits per sample a codec removes before the classifier notices.

For one model of one experiment (helmholtz.runs.experiment_key: the same
domain, dataset, protocol, optimizer, epochs, ...) with compression levels L,
b(L) is the mean encoded size in bits per sample and a(L) the accuracy (mean
over the experiment's seeds).
With the reference level R ("lossless" if it was run, else the level with the
most bits) and a tolerance eps in absolute accuracy:

    noise_bits = b(R) - min{ b(L) : a(L) >= a(R) - eps }

No monotonicity is assumed: every level within eps of the reference counts,
and the cheapest one wins. docs/method.md explains the reading.

Everything here is a pure function of the results table that
helmholtz.results.collect builds (one row per run), so it works the same on a
results.csv read back from disk. Runs of different experiments are never pooled.
"""
import json
import math

import numpy as np
import pandas as pd

from helmholtz.errors import UsageError

LOSSLESS = "lossless"
GROUP = ["experiment", "domain", "dataset", "model"]
METRICS = ("paper_accuracy", "best10_accuracy", "test_accuracy")
TIE = 1e-12  # a level exactly eps below the reference still counts despite rounding


def parse_level(level):
    """A level as the configs write it: an int (quality, kbps) or a name ("lossless")."""
    if isinstance(level, (int, np.integer)):
        return int(level)
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return int(level)
    text = str(level).strip()
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else text


def level_key(level):
    """Sort key: numeric levels ascending, other names after them, "lossless" last."""
    level = parse_level(level)
    if isinstance(level, int):
        return (0, level, "")
    return (2, 0, "") if level == LOSSLESS else (1, 0, level)


def sorted_levels(levels):
    return sorted({parse_level(x) for x in levels}, key=level_key)


def format_level(level):
    return str(parse_level(level))


def check_options(eps=0.01, metric="paper_accuracy"):
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
        raise UsageError(f"eps must be a non-negative accuracy difference such as 0.01, got {eps}")


def complete_runs(results):
    """The runs that are averaged: complete and not excluded (see helmholtz.results),
    levels parsed."""
    if "experiment" not in results:
        raise UsageError("the results table has no experiment column (an older results.csv); "
                         "collect the run folders again with scripts/collect.py")
    complete = results["complete"].astype(str).str.lower() == "true"
    if "excluded" in results:
        complete &= results["excluded"].isna() | (results["excluded"].astype(str) == "")
    runs = results[complete].copy()
    runs["level"] = runs["level"].map(parse_level)
    return runs


def model_groups(frame):
    """(experiment, domain, dataset, model) groups in a stable order: by domain, dataset,
    experiment, then setting and name."""
    if frame.empty:
        return []
    settings = frame[GROUP].assign(setting=pd.to_numeric(frame["setting"], errors="coerce"))
    keys = settings.groupby(GROUP, sort=False)["setting"].min().reset_index()
    keys = keys.sort_values(["domain", "dataset", "experiment", "setting", "model"], na_position="last")
    return [tuple(k) for k in keys[GROUP].itertuples(index=False)]


def select(frame, key):
    """Rows of one (experiment, domain, dataset, model)."""
    match = np.ones(len(frame), dtype=bool)
    for column, value in zip(GROUP, key):
        match &= (frame[column] == value).to_numpy()
    return frame[match]


def rate_accuracy(results, metric="paper_accuracy"):
    """One row per (experiment, domain, dataset, model, level): bits, accuracy mean/std
    over seeds, n.

    std is the sample std (ddof 1), nan with one seed. Runs whose metric is
    missing (e.g. no test accuracy yet) do not count toward n.
    """
    check_options(metric=metric)
    runs = complete_runs(results)
    runs = runs[pd.to_numeric(runs[metric], errors="coerce").notna()]
    rows = []
    for key in model_groups(runs):
        model_runs = select(runs, key)
        for level in sorted_levels(model_runs["level"]):
            at = model_runs[model_runs["level"] == level]
            acc = pd.to_numeric(at[metric]).astype(float)
            rows.append(dict(zip(GROUP, key), setting=at["setting"].iloc[0], level=level,
                             bits_per_sample=pd.to_numeric(at["bits_per_sample"]).mean(),
                             accuracy_mean=acc.mean(), accuracy_std=acc.std(ddof=1), n=len(acc)))
    columns = GROUP + ["setting", "level", "bits_per_sample", "accuracy_mean", "accuracy_std", "n"]
    return pd.DataFrame(rows, columns=columns)


def reference_level(bits):
    """"lossless" if it was run, else the level with the most bits per sample."""
    if LOSSLESS in bits:
        return LOSSLESS
    return max(bits, key=lambda level: (bits[level], level_key(level)))


def _smallest_within(bits, acc, ref, eps):
    """Index of the cheapest level within eps of the reference, per row of `acc` (B x L)."""
    qualifies = acc >= acc[:, [ref]] - eps - TIE
    return np.where(qualifies, bits[None, :], np.inf).argmin(axis=1)


def noise_bits(bits, acc, eps=0.01):
    """Noise bits of one rate-accuracy curve.

    bits, acc: dicts level -> b(L) and level -> a(L). Returns a dict with the
    reference level and its bits/accuracy, the cheapest level within eps, its
    bits, noise_bits = b(R) - b(cheapest) and that as a fraction of b(R).
    """
    check_options(eps)
    levels = sorted_levels(bits)
    b = np.array([bits[level] for level in levels], dtype=float)
    a = np.array([[acc[level] for level in levels]], dtype=float)
    ref = levels.index(reference_level(dict(zip(levels, b))))
    best = int(_smallest_within(b, a, ref, eps)[0])
    noise = b[ref] - b[best]
    return dict(reference=levels[ref], bits_reference=b[ref], accuracy_reference=a[0, ref],
                level=levels[best], bits_level=b[best], noise_bits=noise,
                noise_fraction=noise / b[ref] if b[ref] > 0 else math.nan)


def bootstrap_noise_bits(bits, seed_accs, eps=0.01, n_boot=1000, seed=0, confidence=0.95):
    """Percentile interval of noise bits, resampling seeds within each level.

    seed_accs: dict level -> per-seed accuracies. Each replicate draws, for
    every level, as many seeds as it has (with replacement) and averages them;
    bits stay fixed (the encoded sizes do not depend on the seed). With one
    seed per level every replicate equals the point estimate.
    """
    levels = sorted_levels(bits)
    b = np.array([bits[level] for level in levels], dtype=float)
    ref = levels.index(reference_level(dict(zip(levels, b))))
    rng = np.random.default_rng(seed)
    acc = np.empty((n_boot, len(levels)))
    for j, level in enumerate(levels):
        values = np.asarray(seed_accs[level], dtype=float)
        acc[:, j] = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    noise = b[ref] - b[_smallest_within(b, acc, ref, eps)]
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(noise, [tail, 100 - tail])
    return float(low), float(high)


def noise_bits_table(results, eps=0.01, metric="paper_accuracy", n_boot=1000, seed=0):
    """Noise bits per (experiment, domain, dataset, model) run at two or more levels.

    Columns: the group, the reference level and its bits/accuracy, the
    cheapest level within eps and its bits, noise_bits, noise_fraction, the
    95% bootstrap interval over seeds (ci_low, ci_high), seeds per level
    (min_seeds, max_seeds), number of levels, and a note.
    """
    check_options(eps, metric)
    runs = complete_runs(results)
    runs["_acc"] = pd.to_numeric(runs[metric], errors="coerce")
    runs["_bits"] = pd.to_numeric(runs["bits_per_sample"], errors="coerce")
    runs = runs[runs["_acc"].notna() & runs["_bits"].notna()]
    rows = []
    for key in model_groups(runs):
        model_runs = select(runs, key)
        levels = sorted_levels(model_runs["level"])
        if len(levels) < 2:
            continue  # one level: nothing to compare against
        by_level = {level: model_runs[model_runs["level"] == level] for level in levels}
        bits = {level: at["_bits"].mean() for level, at in by_level.items()}
        seed_accs = {level: at["_acc"].to_numpy() for level, at in by_level.items()}
        point = noise_bits(bits, {level: v.mean() for level, v in seed_accs.items()}, eps)
        low, high = bootstrap_noise_bits(bits, seed_accs, eps, n_boot, seed)
        counts = [len(v) for v in seed_accs.values()]
        notes = []
        if point["reference"] != LOSSLESS:
            notes.append(f"no lossless run: reference is the level with the most bits ({point['reference']})")
        if max(counts) == 1:
            notes.append("1 seed per level: the interval collapses to the point")
        elif min(counts) == 1:
            notes.append("some levels have 1 seed: their spread is not in the interval")
        rows.append(dict(zip(GROUP, key), **point, ci_low=low, ci_high=high, eps=eps,
                         metric=metric, min_seeds=min(counts), max_seeds=max(counts),
                         levels=len(levels), note="; ".join(notes)))
    columns = GROUP + ["reference", "bits_reference", "accuracy_reference", "level", "bits_level",
                       "noise_bits", "noise_fraction", "ci_low", "ci_high", "eps", "metric",
                       "min_seeds", "max_seeds", "levels", "note"]
    return pd.DataFrame(rows, columns=columns)


def level_dict(value):
    """A per-level dict cell: a dict, its JSON text (results.csv), or empty."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        return json.loads(value)
    return {}


def test_grid(results):
    """Train level x test level accuracy, mean over seeds, per (experiment, domain, dataset,
    model).

    From each complete run's test_accuracy_at (the best checkpoint tested on
    data compressed at other levels); the diagonal comes from test_accuracy
    when a run did not list its own level. Returns {(experiment, domain, dataset, model):
    DataFrame (index train level, columns test level)}, only for models that
    were tested across levels.
    """
    runs = complete_runs(results)
    cells = []
    for row in runs.itertuples(index=False):
        at = {parse_level(k): float(v) for k, v in level_dict(row.test_accuracy_at).items()}
        if not at:
            continue
        own = pd.to_numeric(pd.Series([row.test_accuracy]), errors="coerce").iloc[0]
        if row.level not in at and pd.notna(own):
            at[row.level] = float(own)
        cells += [(row.experiment, row.domain, row.dataset, row.model, row.level, test, acc)
                  for test, acc in at.items()]
    grids = {}
    if not cells:
        return grids
    cells = pd.DataFrame(cells, columns=GROUP + ["train", "test", "accuracy"])
    for key, group in cells.groupby(GROUP, sort=True):
        # built cell by cell: pandas cannot sort a mix of ints and "lossless"
        grid = pd.DataFrame(np.nan, index=sorted_levels(group["train"]),
                            columns=sorted_levels(group["test"]))
        for (train, test), acc in group.groupby(["train", "test"], sort=False)["accuracy"].mean().items():
            grid.loc[train, test] = acc
        grid.index.name, grid.columns.name = "train level", "test level"
        grids[tuple(key)] = grid
    return grids
