"""The results in long format: one row per run and test level, ready for pandas.

    from helmholtz.report.tidy import read_long
    runs = read_long("logs/results_long.csv")
    runs[runs.train_level == runs.test_level].groupby(["model", "train_level"]).accuracy.mean()

A run trained at one level and tested at others (`--test_quality`,
`--test_bitrate`) gives one row per test level; every other run one row, at its
own level (an unfinished run too, with no accuracy). Columns:

- experiment, domain, dataset, model, setting, params, level_name: what ran
  (runs of different experiments are not seeds of each other);
- train_level, test_level: ordered categoricals over the levels in the file,
  numbers ascending and "lossless" last, as text ("1", "25", "lossless");
- seed, complete, excluded (why a run is left out of averages, else empty);
- accuracy: the best checkpoint's accuracy on the test set at test_level
  (in the original protocol, at its own level, the best epoch's val accuracy);
- bits_per_sample, payload_bits_per_sample: the mean encoded size of the test
  set at test_level, total and without headers;
- paper_accuracy, best_val_accuracy, convergence_epoch: measured on the
  validation data at the run's own level, so only on that row;
- epochs (finished), num_epoch (asked), seconds_per_epoch, batch_size,
  precision, fixed, subset, git_commit, run (its folder): the run's, on each row.

Every cell is a plain value: no JSON.
"""
import math
from pathlib import Path

import pandas as pd

from helmholtz.analysis.grids import level_dict
from helmholtz.analysis.paired import parse_level, sorted_levels
from helmholtz.data.cache import atomic_path

OWN_LEVEL_ONLY = ("paper_accuracy", "best_val_accuracy", "convergence_epoch")
TEXT = ("experiment", "domain", "dataset", "model", "level_name", "excluded", "precision",
        "git_commit", "run")
WHOLE = ("setting", "params", "seed", "epochs", "num_epoch", "convergence_epoch", "batch_size",
         "subset")
REAL = ("accuracy", "bits_per_sample", "payload_bits_per_sample", "paper_accuracy",
        "best_val_accuracy", "seconds_per_epoch")
FLAGS = ("complete", "fixed")
LEVELS = ("train_level", "test_level")
COLUMNS = ["experiment", "domain", "dataset", "model", "setting", "params", "level_name",
           "train_level", "test_level", "seed", "complete", "excluded", "accuracy",
           "bits_per_sample", "payload_bits_per_sample", "paper_accuracy", "best_val_accuracy",
           "convergence_epoch", "epochs", "num_epoch", "seconds_per_epoch", "batch_size",
           "precision", "fixed", "subset", "git_commit", "run"]


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _flag(value):
    """True/False from a bool or its text in a CSV; None when unknown."""
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return None if value is None or pd.isna(value) else bool(value)


def long_table(results):
    """The long table of a results table (helmholtz.analysis.results.collect, or read_results)."""
    rows = []
    for run in results.to_dict("records"):
        own = parse_level(run["level"])
        complete = _flag(run["complete"]) is True
        at = {parse_level(k): v for k, v in level_dict(run.get("test_accuracy_at")).items()}
        if complete and own not in at:
            at[own] = run.get("test_accuracy")
        at.setdefault(own, math.nan)  # an unfinished run: its own level, no accuracy yet
        bits = {parse_level(k): v for k, v in level_dict(run.get("bits_per_sample_at")).items()}
        payload = {parse_level(k): v for k, v in
                   level_dict(run.get("payload_bits_per_sample_at")).items()}
        bits.setdefault(own, run.get("bits_per_sample"))
        payload.setdefault(own, run.get("payload_bits_per_sample"))
        for test in sorted_levels(at):
            row = {c: run.get(c) for c in COLUMNS if c in run}
            row.update(train_level=str(own), test_level=str(test), complete=complete,
                       accuracy=_number(at[test]), bits_per_sample=_number(bits.get(test)),
                       payload_bits_per_sample=_number(payload.get(test)),
                       epochs=run.get("epochs_done"), excluded=run.get("excluded") or "")
            if test != own:
                row.update({c: math.nan for c in OWN_LEVEL_ONLY})
            rows.append(row)
    return with_dtypes(pd.DataFrame(rows, columns=COLUMNS))


def with_dtypes(table):
    """The long table's column types: text, nullable whole numbers, floats, nullable
    booleans, and the two level columns as one ordered categorical."""
    table = table.copy()
    for column in TEXT:
        table[column] = table[column].astype("string")
    table["excluded"] = table["excluded"].fillna("")
    for column in WHOLE:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    for column in REAL:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
    for column in FLAGS:
        table[column] = pd.array([_flag(v) for v in table[column]], dtype="boolean")
    levels = [str(v) for v in sorted_levels(pd.concat([table[c] for c in LEVELS]).dropna())]
    for column in LEVELS:
        table[column] = pd.Categorical(table[column].astype(str), categories=levels, ordered=True)
    return table


def write_long(results, path):
    """Write the long table of `results` (helmholtz.analysis.results.collect) as CSV; its path."""
    with atomic_path(path) as tmp:
        long_table(results).to_csv(tmp, index=False)
    return path


def read_long(path):
    """A long table written by write_long, with its column types (with_dtypes)."""
    return with_dtypes(pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]))


def long_path(results_csv):
    """Where the long table goes beside a results.csv: results_long.csv."""
    results_csv = Path(results_csv)
    return results_csv.with_name(f"{results_csv.stem}_long.csv")
