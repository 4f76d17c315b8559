"""From the results table to the numbers of the report: rate-accuracy curves and
the paired tests of each model (helmholtz.analysis.stats on the runs' predictions.npz);
the train level x test level grid is in helmholtz.analysis.grids.

For one model of one experiment (helmholtz.run.layout.experiment_key: the same
domain, dataset, protocol, optimizer, epochs, ...) with compression levels L,
b(L) is the mean encoded size in bits per sample (payload and total) and the
runs' per-example test predictions give the accuracy. With the reference
level R ("lossless" if it was run, else the level with the most bits), levels
are tested for non-inferiority within a margin from high to low quality; the
cutoff q* is the last level before the first that fails, and

    noise_bits = b(R) - b(q*)

docs/method.md states the procedure and when it is not estimable. The rate
tables are pure functions of the results table that
helmholtz.analysis.results.collect builds (one row per run); the tests also read each
run's folder. Runs of different experiments are never pooled.
"""
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from helmholtz.analysis import stats
from helmholtz.errors import UsageError
from helmholtz.run.layout import PREDICTIONS, read_history

LOSSLESS = "lossless"
GROUP = ["experiment", "domain", "dataset", "model"]
METRICS = ("paper_accuracy", "best10_accuracy", "test_accuracy")


def parse_level(level):
    """A level read back from a table or config: an int or a name ("lossless"). (A level a
    user gives is parsed by its domain's spec.)"""
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


def check_options(margin=stats.MARGIN, metric="paper_accuracy"):
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and 0 < margin < 1):
        raise UsageError(f"--margin must be an accuracy difference between 0 and 1 such as "
                         f"{stats.MARGIN}, got {margin}")


def complete_runs(results):
    """The runs that are averaged: complete and not excluded (see helmholtz.analysis.results),
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


def _mean(frame, column):
    """The mean of a numeric column; nan when it is missing (a results.csv of older code)."""
    return pd.to_numeric(frame.get(column, pd.Series(dtype=float)), errors="coerce").mean()


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
                             bits_per_sample=_mean(at, "bits_per_sample"),
                             payload_bits_per_sample=_mean(at, "payload_bits_per_sample"),
                             accuracy_mean=acc.mean(), accuracy_std=acc.std(ddof=1), n=len(acc)))
    columns = GROUP + ["setting", "level", "bits_per_sample", "payload_bits_per_sample",
                       "accuracy_mean", "accuracy_std", "n"]
    return pd.DataFrame(rows, columns=columns)


def reference_level(bits):
    """"lossless" if it was run, else the level with the most bits per sample."""
    if LOSSLESS in bits:
        return LOSSLESS
    return max(bits, key=lambda level: (bits[level], level_key(level)))


# ---------------------------------------------------------------- paired tests

def read_predictions(folder):
    """{"labels": ..., "pred@<level>": ...} of a run's predictions.npz; ValueError names
    what is wrong with it."""
    path = Path(folder) / PREDICTIONS
    try:
        with np.load(path) as saved:
            return {name: saved[name] for name in saved.files}
    except FileNotFoundError:
        raise ValueError(f"no {PREDICTIONS} (a run of older code)") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise ValueError(f"{PREDICTIONS} is damaged ({e})") from None


def run_predictions(folder, level):
    """(labels, predicted classes) of a run on the test set at `level`."""
    labels, predicted, _ = _run_predictions(folder, level)
    return labels, predicted


def _run_predictions(folder, level):
    """(labels, predicted classes, groups): groups are each example's group (its own index
    in records of older code, which name none)."""
    saved = read_predictions(folder)
    key = f"pred@{format_level(level)}"
    if key not in saved:
        raise ValueError(f"{PREDICTIONS} has no {key}")
    labels = saved.get(f"labels@{format_level(level)}", saved["labels"])
    return labels, saved[key], saved.get("group", np.arange(len(labels)))


class NotPaired(Exception):
    """Why the runs of a model cannot be compared example by example."""


def paired_correctness(model_runs, levels):
    """correct[level, seed, example] of the runs at `levels` (in that order), the seeds
    shared by all of them, the test labels, the examples' groups and notes on runs
    left out.

    Each run is read at its own level. Raises NotPaired when no seed was run at
    every level or the runs' test labels or groups differ (not the same examples
    in the same order)."""
    notes, read = [], {}
    for row in model_runs.itertuples(index=False):
        try:
            read[(row.level, row.seed)] = _run_predictions(row.run, row.level)
        except ValueError as e:
            notes.append(f"{format_level(row.level)} seed {row.seed} left out: {e}")
    seeds = sorted(set.intersection(*[{s for (lv, s) in read if lv == level} for level in levels]))
    if not seeds:
        raise NotPaired("no seed has predictions at every level" +
                        (f" ({'; '.join(notes)})" if notes else ""))
    left = sorted({s for (_, s) in read} - set(seeds))
    if left:
        notes.append(f"seed(s) {', '.join(map(str, left))} not run at every level: left out of the tests")
    labels, _, groups = read[(levels[0], seeds[0])]
    if any(not np.array_equal(read[(lv, s)][0], labels) for lv in levels for s in seeds):
        raise NotPaired("the runs' test labels differ (not the same test examples in the same "
                        "order), so they cannot be paired example by example")
    if any(not np.array_equal(read[(lv, s)][2], groups) for lv in levels for s in seeds):
        raise NotPaired("the runs' test groups differ (records of other code or data), so they "
                        "cannot be resampled together")
    correct = np.stack([np.stack([read[(lv, s)][1] == labels for s in seeds]) for lv in levels])
    return correct, seeds, labels, groups, notes


def _curves(model_runs, levels, seeds):
    """The val-accuracy curves of the runs, levels x seeds."""
    histories = {(r.level, r.seed): [h["val_accuracy"] for h in read_history(r.run)]
                 for r in model_runs.itertuples(index=False) if r.level in levels and r.seed in seeds}
    return [[histories[(lv, s)] for s in seeds] for lv in levels]


def _mean_bits(model_runs, column):
    return {level: _mean(at, column) for level, at in model_runs.groupby("level", sort=False)}


def tested_levels(model_runs):
    """A model's levels as the tests take them: the reference (reference_level), then
    the others from high to low quality."""
    total = _mean_bits(model_runs, "bits_per_sample")
    ref = reference_level({lv: (b if pd.notna(b) else -math.inf) for lv, b in total.items()})
    return [ref] + [lv for lv in sorted_levels(model_runs["level"])[::-1] if lv != ref]


TARGETS = len(stats.TARGET_FRACTIONS) + 1  # convergence targets: the fractions, and one every run reaches
_TARGET_COLUMNS = [f"epochs_{k}{part}" for k in range(TARGETS)
                   for part in ("", "_reached", "_difference", "_low", "_high", "_verdict")]
LEVEL_COLUMNS = GROUP + [
    "level", "order", "seeds", "bits_payload", "bits_total", "accuracy", "accuracy_low",
    "accuracy_high", "difference", "difference_low", "difference_high", "verdict", "resolution",
    "equivalent", "decision", "worse", "auc", "convergence_difference", "convergence_low",
    "convergence_high", "convergence"] + _TARGET_COLUMNS
MODEL_COLUMNS = GROUP + [
    "setting", "reference", "levels", "seeds", "examples", "groups", "chance", "above_chance",
    "margin", "estimable", "reason", "q_star", "bound", "first_verdict", "bits_kind",
    "bits_reference_payload", "bits_reference_total", "shown_payload", "shown_total",
    "noise_payload", "noise_payload_low", "noise_payload_high", "noise_payload_censored",
    "noise_total", "noise_total_low", "noise_total_high", "noise_total_censored", "lowest",
    "lowest_difference", "lowest_low", "lowest_high", "lowest_worse", "resolution", "note"] + [
    f"target_{k}{part}" for k in range(TARGETS) for part in ("", "_name")]


def _model_tests(key, model_runs, margin, alpha, n_boot, seed):
    """(model row, level rows) of one model: see `tests_table`."""
    total, payload = _mean_bits(model_runs, "bits_per_sample"), _mean_bits(model_runs,
                                                                           "payload_bits_per_sample")
    levels = tested_levels(model_runs)
    ref = levels[0]
    model = dict(zip(GROUP, key), setting=model_runs["setting"].iloc[0], reference=ref,
                 levels=len(levels), margin=margin, estimable=False, note="")
    if len(levels) < 2:
        return {**model, "reason": "one level only: nothing to compare with"}, []
    try:
        correct, seeds, labels, groups, notes = paired_correctness(model_runs, levels)
    except NotPaired as e:
        return {**model, "reason": str(e)}, []
    if ref != LOSSLESS:
        notes.insert(0, f"no lossless run: the reference is the level with the most bits ({ref})")
    if len(seeds) == 1:
        notes.append("1 seed: the intervals hold test-set noise only, not seed-to-seed noise")
    payload_known = all(pd.notna(payload[lv]) for lv in levels)
    bits = {"total": [total[lv] for lv in levels]}
    if payload_known:
        bits["payload"] = [payload[lv] for lv in levels]
    out = stats.cutoff(correct, labels, bits, margin, alpha, n_boot, seed, groups)
    conv = stats.convergence(_curves(model_runs, levels, seeds), alpha)

    q = out["q"]
    model.update(
        seeds=len(seeds), examples=len(labels), groups=int(out["boot"].n_groups),
        chance=out["chance"], above_chance=out["above_chance"], estimable=out["estimable"],
        reason=out["reason"], q_star=None if q is None else levels[q], bound=bool(out["bound"]),
        first_verdict=out["verdicts"][1], bits_kind="payload" if payload_known else "total",
        bits_reference_payload=payload[ref], bits_reference_total=total[ref],
        lowest=levels[-1], lowest_difference=out["difference"][-1],
        lowest_low=out["difference_low"][-1], lowest_high=out["difference_high"][-1],
        lowest_worse=bool(out["worse"][-1]), resolution=float(out["resolution"][1]),
        note="; ".join(notes))
    for kind in ("payload", "total"):
        point, low, high, censored = out["noise_bits"].get(kind, (math.nan,) * 3 + (False,))
        model.update({f"noise_{kind}": point, f"noise_{kind}_low": low, f"noise_{kind}_high": high,
                      f"noise_{kind}_censored": bool(censored),
                      f"shown_{kind}": out["shown_bits"].get(kind, math.nan)})
    for k, (name, value) in enumerate(conv["targets"]):
        model.update({f"target_{k}": value, f"target_{k}_name": name})
    rows = []
    for i, lv in enumerate(levels):
        row = dict(zip(GROUP, key), level=lv, order=i, seeds=len(seeds), bits_payload=payload[lv],
                   bits_total=total[lv], accuracy=out["accuracy"][i],
                   accuracy_low=out["accuracy_low"][i], accuracy_high=out["accuracy_high"][i],
                   difference=out["difference"][i], difference_low=out["difference_low"][i],
                   difference_high=out["difference_high"][i], verdict=out["verdicts"][i],
                   resolution=out["resolution"][i],
                   equivalent=stats.equivalent(out["difference_low"][i], out["difference_high"][i],
                                               margin),
                   decision=out["decisions"][i], worse=bool(out["worse"][i]), auc=conv["auc"][i],
                   convergence_difference=conv["auc_difference"][i],
                   convergence_low=conv["auc_low"][i], convergence_high=conv["auc_high"][i],
                   convergence=conv["verdict"][i])
        for k in range(TARGETS):
            row.update({f"epochs_{k}": conv["epochs"][k, i],
                        f"epochs_{k}_reached": int(conv["reached"][k, i]),
                        f"epochs_{k}_difference": conv["epochs_difference"][k, i],
                        f"epochs_{k}_low": conv["epochs_low"][k, i],
                        f"epochs_{k}_high": conv["epochs_high"][k, i],
                        f"epochs_{k}_verdict": conv["target_verdicts"][k][i]})
        rows.append(row)
    return model, rows


def tests_table(results, margin=stats.MARGIN, alpha=stats.ALPHA, n_boot=stats.N_BOOT, seed=0):
    """The paired tests of every (experiment, domain, dataset, model), from the runs'
    predictions.npz and history.csv.

    Returns (models, levels): one row per model (MODEL_COLUMNS: the cutoff q*
    from the levels shown non-inferior, the noise bits at the curve's crossing
    of a(R) - margin in payload and total bits with their interval, the lowest
    level's difference, the convergence targets, or why not estimable) and one
    row per level of a model that could be paired (LEVEL_COLUMNS: accuracy and
    difference to the reference with 1 - 2 alpha intervals, the three-way
    verdict and its resolution, the fixed-sequence decision, the convergence:
    area under the val curve and epochs to each target, paired). Levels run
    from the reference down in quality."""
    check_options(margin=margin)
    runs = complete_runs(results)
    models, levels = [], []
    for key in model_groups(runs):
        model, rows = _model_tests(key, select(runs, key), margin, alpha, n_boot, seed)
        models.append(model)
        levels += rows
    table = pd.DataFrame(models, columns=MODEL_COLUMNS)
    for column in ("reference", "q_star", "lowest"):  # levels: ints stay ints
        table[column] = pd.Series([m.get(column) for m in models], dtype=object)
    return table, pd.DataFrame(levels, columns=LEVEL_COLUMNS)
