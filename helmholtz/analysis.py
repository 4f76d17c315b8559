"""From the results table to the numbers of the report: rate-accuracy curves and
the paired tests of each model (helmholtz.stats on the runs' predictions.npz);
the train level x test level grid is in helmholtz.grids.

For one model of one experiment (helmholtz.runs.experiment_key: the same
domain, dataset, protocol, optimizer, epochs, ...) with compression levels L,
b(L) is the mean encoded size in bits per sample (payload and total) and the
runs' per-example test predictions give the accuracy. With the reference
level R ("lossless" if it was run, else the level with the most bits), levels
are tested for non-inferiority within a margin from high to low quality; the
cutoff q* is the last level before the first that fails, and

    noise_bits = b(R) - b(q*)

docs/method.md states the procedure and when it is not estimable. The rate
tables are pure functions of the results table that
helmholtz.results.collect builds (one row per run); the tests also read each
run's folder. Runs of different experiments are never pooled.
"""
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from helmholtz import stats
from helmholtz.errors import UsageError
from helmholtz.runs import PREDICTIONS, read_history

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
    saved = read_predictions(folder)
    key = f"pred@{format_level(level)}"
    if key not in saved:
        raise ValueError(f"{PREDICTIONS} has no {key}")
    return saved.get(f"labels@{format_level(level)}", saved["labels"]), saved[key]


class NotPaired(Exception):
    """Why the runs of a model cannot be compared example by example."""


def paired_correctness(model_runs, levels):
    """correct[level, seed, example] of the runs at `levels` (in that order), the seeds
    shared by all of them, the test labels and notes on runs left out.

    Each run is read at its own level. Raises NotPaired when no seed was run at
    every level or the runs' test labels differ (not the same examples in the
    same order)."""
    notes, read = [], {}
    for row in model_runs.itertuples(index=False):
        try:
            read[(row.level, row.seed)] = run_predictions(row.run, row.level)
        except ValueError as e:
            notes.append(f"{format_level(row.level)} seed {row.seed} left out: {e}")
    seeds = sorted(set.intersection(*[{s for (lv, s) in read if lv == level} for level in levels]))
    if not seeds:
        raise NotPaired("no seed has predictions at every level" +
                        (f" ({'; '.join(notes)})" if notes else ""))
    left = sorted({s for (_, s) in read} - set(seeds))
    if left:
        notes.append(f"seed(s) {', '.join(map(str, left))} not run at every level: left out of the tests")
    labels = read[(levels[0], seeds[0])][0]
    if any(not np.array_equal(read[(lv, s)][0], labels) for lv in levels for s in seeds):
        raise NotPaired("the runs' test labels differ (not the same test examples in the same "
                        "order), so they cannot be paired example by example")
    correct = np.stack([np.stack([read[(lv, s)][1] == labels for s in seeds]) for lv in levels])
    return correct, seeds, labels, notes


def _epochs_to_target(model_runs, levels, seeds):
    """epochs (L x S, nan: never), epochs run (L x S) and the target: TARGET_FRACTION x the
    reference's mean best val accuracy over the seeds."""
    histories = {(r.level, r.seed): [h["val_accuracy"] for h in read_history(r.run)]
                 for r in model_runs.itertuples(index=False) if r.level in levels and r.seed in seeds}
    target = stats.TARGET_FRACTION * np.mean([max(histories[(levels[0], s)]) for s in seeds])
    epochs = [[stats.epochs_to_target(histories[(lv, s)], target) for s in seeds] for lv in levels]
    epochs = np.array([[np.nan if e is None else e for e in row] for row in epochs], dtype=float)
    done = np.array([[len(histories[(lv, s)]) for s in seeds] for lv in levels], dtype=float)
    return epochs, done, target


def _mean_bits(model_runs, column):
    return {level: _mean(at, column) for level, at in model_runs.groupby("level", sort=False)}


LEVEL_COLUMNS = GROUP + [
    "level", "order", "seeds", "bits_payload", "bits_total", "accuracy", "accuracy_low",
    "accuracy_high", "difference", "difference_low", "difference_high", "decision", "worse",
    "epochs_to_target", "reached", "convergence_difference", "convergence_low", "convergence_high",
    "convergence"]
MODEL_COLUMNS = GROUP + [
    "setting", "reference", "levels", "seeds", "examples", "chance", "above_chance", "margin",
    "estimable", "reason", "q_star", "q_high", "q_low", "bits_kind", "bits_reference_payload",
    "bits_reference_total", "noise_payload", "noise_payload_low", "noise_payload_high",
    "noise_total", "noise_total_low", "noise_total_high", "lowest", "lowest_difference",
    "lowest_low", "lowest_high", "lowest_worse", "target", "resolution", "note"]


def _model_tests(key, model_runs, margin, alpha, n_boot, seed):
    """(model row, level rows) of one model: see `tests_table`."""
    total, payload = _mean_bits(model_runs, "bits_per_sample"), _mean_bits(model_runs,
                                                                           "payload_bits_per_sample")
    ref = reference_level({lv: (b if pd.notna(b) else -math.inf) for lv, b in total.items()})
    levels = [ref] + [lv for lv in sorted_levels(model_runs["level"])[::-1] if lv != ref]
    model = dict(zip(GROUP, key), setting=model_runs["setting"].iloc[0], reference=ref,
                 levels=len(levels), margin=margin, estimable=False, note="")
    if len(levels) < 2:
        return {**model, "reason": "one level only: nothing to compare with"}, []
    try:
        correct, seeds, labels, notes = paired_correctness(model_runs, levels)
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
    out = stats.cutoff(correct, labels, bits, margin, alpha, n_boot, seed)
    epochs, done, target = _epochs_to_target(model_runs, levels, seeds)
    conv = stats.convergence(epochs, done, out["boot"].weights, alpha)

    q = out["q"]
    ranged = [levels[i] for i in out["q_range"]] if q is not None else [None, None]
    noise = out["noise_bits"]
    model.update(
        seeds=len(seeds), examples=len(labels), chance=out["chance"],
        above_chance=out["above_chance"], estimable=out["estimable"],
        reason=out["reason"], q_star=None if q is None else levels[q], q_high=ranged[0],
        q_low=ranged[1], bits_kind="payload" if payload_known else "total",
        bits_reference_payload=payload[ref], bits_reference_total=total[ref],
        lowest=levels[-1], lowest_difference=out["difference"][-1],
        lowest_low=out["difference_low"][-1], lowest_high=out["difference_high"][-1],
        lowest_worse=bool(out["worse"][-1]), target=target, resolution=out["resolution"],
        note="; ".join(notes))
    for kind in ("payload", "total"):
        point, low, high = noise.get(kind, (math.nan,) * 3)
        model.update({f"noise_{kind}": point, f"noise_{kind}_low": low, f"noise_{kind}_high": high})
    rows = [dict(zip(GROUP, key), level=lv, order=i, seeds=len(seeds), bits_payload=payload[lv],
                 bits_total=total[lv], accuracy=out["accuracy"][i],
                 accuracy_low=out["accuracy_low"][i], accuracy_high=out["accuracy_high"][i],
                 difference=out["difference"][i], difference_low=out["difference_low"][i],
                 difference_high=out["difference_high"][i], decision=out["decisions"][i],
                 worse=bool(out["worse"][i]), epochs_to_target=conv["epochs"][i],
                 reached=int(conv["reached"][i]), convergence_difference=conv["difference"][i],
                 convergence_low=conv["low"][i], convergence_high=conv["high"][i],
                 convergence=conv["verdict"][i])
            for i, lv in enumerate(levels)]
    return model, rows


def tests_table(results, margin=stats.MARGIN, alpha=stats.ALPHA, n_boot=stats.N_BOOT, seed=0):
    """The paired tests of every (experiment, domain, dataset, model), from the runs'
    predictions.npz and history.csv.

    Returns (models, levels): one row per model (MODEL_COLUMNS: the cutoff q*
    and its bootstrap range, noise bits b(R) - b(q*) in payload and total
    bits with their range, the lowest level's difference, the convergence
    target, or why not estimable) and one row per level of a model that could
    be paired (LEVEL_COLUMNS: accuracy and difference to the reference with
    1 - 2 alpha intervals, the fixed-sequence decision, epochs to the target and
    their paired difference). Levels run from the reference down in quality."""
    check_options(margin=margin)
    runs = complete_runs(results)
    models, levels = [], []
    for key in model_groups(runs):
        model, rows = _model_tests(key, select(runs, key), margin, alpha, n_boot, seed)
        models.append(model)
        levels += rows
    table = pd.DataFrame(models, columns=MODEL_COLUMNS)
    for column in ("reference", "q_star", "q_high", "q_low", "lowest"):  # levels: ints stay ints
        table[column] = pd.Series([m.get(column) for m in models], dtype=object)
    return table, pd.DataFrame(levels, columns=LEVEL_COLUMNS)
