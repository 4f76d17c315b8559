"""Collect run folders into a results table, one row per run, grouped by experiment.

`collect(root)` reads every run folder below `root` (see helmholtz.run.layout). The
metrics are recomputed from history.csv (helmholtz.run.metrics), so unfinished
runs have them too. Each row carries its experiment key
(`helmholtz.run.layout.experiment_key`, computed from config.json, so runs written
before the key was recorded get one too): only runs of one experiment are
seeds of each other. Rows that must not be averaged say why in `excluded`:
a run that diverged (its loss became non-finite: never complete), non-finite
losses or accuracies, or a second run of a seed already collected (the newest
one is kept). `warnings` has one line per such case. A folder whose records
are not of the types and ranges this program writes (helmholtz.analysis.schema) is
listed as unreadable, with the reason, and the others are collected.
Summaries average complete, included runs only.
"""
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from helmholtz.analysis import paired, schema
from helmholtz.analysis.paired import GROUP, format_level, level_key, parse_level, sorted_levels
from helmholtz.data.cache import atomic_path
from helmholtz.errors import UsageError
from helmholtz.run.layout import (CONFIG, HISTORY, PREDICTIONS, RESULT, experiment_key,
                                  experiment_settings, find_runs, read_history, read_json)
from helmholtz.run.metrics import (WINDOW, best10_accuracy, convergence_epoch, paper_accuracy,
                                   paper_convergence_index0)
from helmholtz.run.outputs import first_line

CHECKED = ("loss", "accuracy", "val_loss", "val_accuracy")  # history columns that must be finite
COLUMNS = ["experiment", "domain", "dataset", "model", "setting", "params", "level_name", "level",
           "seed", "bits_per_sample", "payload_bits_per_sample", "epochs_done", "num_epoch", "complete", "excluded",
           "best_val_accuracy", "paper_accuracy", "best10_accuracy", "paper_convergence_index0",
           "convergence_epoch", "test_accuracy", "seconds_per_epoch", "fixed", "precision", "subset",
           "batch_size", "test_accuracy_at", "bits_per_sample_at", "payload_bits_per_sample_at",
           "predictions", "git_commit", "finished", "experiment_settings", "run", "diverged",
           "threads", "cpu"]


# ---------------------------------------------------------------- one run

def _checked(read, folder, name):
    """read(folder / name), a damaged file as a ValueError naming it and why."""
    try:
        return read(Path(folder) / name)
    except ValueError as e:  # the run readers' damaged-file errors are ValueErrors
        raise ValueError(f"{name} is damaged ({getattr(e, 'reason', e)})") from None


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _not_finite(history, result, complete):
    """Why a run's numbers cannot be averaged, or "" when they can."""
    for row in history:
        bad = [k for k in CHECKED if k in row and not math.isfinite(row[k])]
        if bad:
            return f"non-finite {', '.join(bad)} in {HISTORY} (epoch {row.get('epoch', '?')})"
    if complete and "test_accuracy" in result and not math.isfinite(_number(result["test_accuracy"])):
        return f"non-finite test_accuracy in {RESULT}"
    return ""


def read_run(folder):
    """One results row from a run folder; ValueError/OSError says what is wrong with it."""
    folder = Path(folder)
    config = _checked(read_json, folder, CONFIG)
    problem = schema.check(config, CONFIG)
    if problem:
        raise ValueError(problem)
    history = _checked(lambda path: read_history(path.parent), folder, HISTORY)
    if any("val_accuracy" not in row for row in history):
        raise ValueError(f"{HISTORY} has a row without val_accuracy")
    result = _checked(read_json, folder, RESULT) if (folder / RESULT).exists() else {}
    problem = schema.check(result, RESULT)
    if problem:
        raise ValueError(problem)
    diverged = result.get("diverged") is True
    complete = result.get("complete") is True and not diverged
    excluded = (f"diverged: non-finite loss at epoch {result.get('diverged_epoch', '?')}" if diverged
                else _not_finite(history, result, complete))

    val_acc = [] if excluded else [row["val_accuracy"] for row in history]
    seconds = [row["seconds"] for row in history if "seconds" in row]
    index0, epoch = paper_convergence_index0(val_acc), convergence_epoch(val_acc)
    finished = max((p.stat().st_mtime for p in (folder / RESULT, folder / HISTORY, folder / CONFIG)
                    if p.exists()))
    return dict(
        experiment=experiment_key(config), domain=config["domain"], dataset=config["dataset"],
        model=config["model"], setting=config.get("setting"), params=config.get("params"),
        level_name=config.get("level_name", "level"), level=parse_level(config["level"]),
        seed=int(config["seed"]), bits_per_sample=_number(config.get("bits_per_sample")),
        payload_bits_per_sample=_number(config.get("payload_bits_per_sample")),
        epochs_done=len(history), num_epoch=config.get("num_epoch"), complete=complete,
        excluded=excluded,
        best_val_accuracy=max(val_acc) if val_acc else math.nan,
        paper_accuracy=paper_accuracy(val_acc), best10_accuracy=best10_accuracy(val_acc),
        paper_convergence_index0=math.nan if index0 is None else index0,
        convergence_epoch=math.nan if epoch is None else epoch,
        test_accuracy=_number(result.get("test_accuracy")) if complete and not excluded else math.nan,
        seconds_per_epoch=float(np.mean(seconds)) if seconds else math.nan,
        fixed=config.get("fixed"), precision=config.get("precision"), subset=config.get("subset"),
        batch_size=config.get("batch_size"),
        test_accuracy_at=json.dumps(result.get("test_accuracy_at", {}) if complete else {},
                                    sort_keys=True),
        bits_per_sample_at=json.dumps(config.get("bits_per_sample_at", {}), sort_keys=True),
        payload_bits_per_sample_at=json.dumps(config.get("payload_bits_per_sample_at", {}),
                                              sort_keys=True),
        predictions=complete and (folder / PREDICTIONS).is_file(),
        git_commit=config.get("git_commit"),
        finished=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(finished)),
        experiment_settings=json.dumps(experiment_settings(config), sort_keys=True, default=str),
        run=str(folder), diverged=diverged, threads=config.get("threads"), cpu=config.get("cpu"),
        _mtime=finished)


# ---------------------------------------------------------------- all runs

def _exclude_duplicates(rows):
    """Keep the newest complete run of each experiment, model, level and seed; mark the
    others excluded. One warning line per duplicated seed."""
    warnings, seen = [], {}
    for row in rows:
        if row["complete"] and not row["excluded"]:
            key = (row["experiment"], row["model"], row["level"], row["seed"])
            seen.setdefault(key, []).append(row)
    for (experiment, model, level, seed), same in seen.items():
        if len(same) < 2:
            continue
        same.sort(key=lambda r: (r["_mtime"], r["run"]), reverse=True)
        kept = same[0]
        for row in same[1:]:
            row["excluded"] = f"duplicate of seed {seed} in {kept['run']} (newer, kept)"
        warnings.append(f"experiment {experiment} {model} {kept['level_name']} {level}: seed {seed} "
                        f"was run {len(same)} times; kept the newest, {kept['run']}; left out "
                        f"{', '.join(r['run'] for r in same[1:])}")
    return warnings


def collect(root):
    """(results, problems, warnings): one row per readable run folder below `root`,
    one line per folder that could not be read, one line per run left out of the
    averages (duplicate seed, non-finite numbers)."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"log folder {root} does not exist; pass the folder that holds the runs "
                         "(e.g. logs/)")
    folders = find_runs(root)
    if not folders:
        raise UsageError(f"no run folders (with {CONFIG}) under {root}; train some runs first "
                         "or pass the folder that holds them")
    rows, problems = [], []
    for folder in folders:
        try:
            rows.append(read_run(folder))
        except (ValueError, OSError, TypeError, OverflowError, RecursionError) as e:
            problems.append(f"{folder}: {e}; fix or delete the folder (training again rebuilds it)")
    warnings = [f"{r['run']}: left out of every average: {r['excluded']}" for r in rows if r["excluded"]]
    warnings += _exclude_duplicates(rows)
    rows.sort(key=lambda r: (r["domain"], r["dataset"], r["experiment"], _number(r["setting"]),
                             r["model"], level_key(r["level"]), r["seed"], r["run"]))
    results = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("paper_convergence_index0", "convergence_epoch"):
        results[column] = results[column].astype("Int64")
    return results, problems, warnings


def write_results(results, path):
    with atomic_path(path) as tmp:
        results.to_csv(tmp, index=False)
    return Path(path)


def is_results_table(path):
    """Whether the file at `path` is a results table this program wrote (results.csv,
    results_long.csv: their first columns), so that collecting again may replace it."""
    return first_line(path).startswith(",".join(COLUMNS[:7]) + ",")


def read_results(path):
    """results.csv back as a DataFrame the analysis functions accept."""
    text = {c: str for c in ("experiment", "level", "excluded", "test_accuracy_at",
                             "bits_per_sample_at", "payload_bits_per_sample_at",
                             "experiment_settings")}
    results = pd.read_csv(path, dtype=text, keep_default_na=True)
    if "excluded" in results:
        results["excluded"] = results["excluded"].fillna("")
    return results


# ---------------------------------------------------------------- experiments

def _flat(settings, prefix=""):
    """{"optimizer": {"learning_rate": 0.01}} -> {"optimizer.learning_rate": 0.01}."""
    out = {}
    for k, v in settings.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def experiments(results):
    """One row per experiment: key, domain, dataset and `differs`, the settings whose
    values differ between the experiments of the same domain and dataset
    (a dict, empty when the experiment is the only one there)."""
    if results.empty:
        return pd.DataFrame(columns=["experiment", "domain", "dataset", "differs"])
    first = results.drop_duplicates("experiment")
    settings = {row.experiment: _flat(json.loads(row.experiment_settings))
                for row in first.itertuples(index=False)}
    rows = []
    for (domain, dataset), part in first.groupby(["domain", "dataset"], sort=True):
        keys = list(part["experiment"])
        names = sorted({name for k in keys for name in settings[k]})
        differ = [n for n in names if len({json.dumps(settings[k].get(n), default=str) for k in keys}) > 1]
        for k in keys:
            rows.append(dict(experiment=k, domain=domain, dataset=dataset,
                             differs={n: settings[k].get(n) for n in differ}))
    return pd.DataFrame(rows, columns=["experiment", "domain", "dataset", "differs"])


def describe_settings(differs):
    """"protocol=fixed, optimizer.learning_rate=0.1", or "" for none."""
    return ", ".join(f"{name}={'-' if value is None else value}" for name, value in differs.items())


def experiment_title(row):
    """`cifar / cifar10, experiment 1a2b3c4d5e6f (protocol=fixed)`."""
    text = f"{row.domain} / {row.dataset}, experiment {row.experiment}"
    settings = describe_settings(row.differs)
    return f"{text} ({settings})" if settings else text


# ---------------------------------------------------------------- summaries

def _mean_std(values):
    values = pd.to_numeric(pd.Series(values), errors="coerce").dropna().astype(float)
    return (values.mean(), values.std(ddof=1)) if len(values) else (math.nan, math.nan)


def summarize(results):
    """Complete, included runs by (experiment, domain, dataset, model, level): n seeds,
    bits, and mean/std (sample std, nan with one seed) of the paper accuracy, its
    convergence index and the test accuracy. `estimable` counts the seeds of 10
    epochs or more (the paper's convergence needs a 10-epoch window)."""
    runs = paired.complete_runs(results)
    rows = []
    for key in paired.model_groups(runs):
        model_runs = paired.select(runs, key)
        for level in sorted_levels(model_runs["level"]):
            at = model_runs[model_runs["level"] == level]
            index0 = pd.to_numeric(at["paper_convergence_index0"])
            row = dict(zip(GROUP, key), setting=at["setting"].iloc[0], level=level, n=len(at),
                       seeds=" ".join(str(s) for s in sorted(at["seed"])),
                       bits_per_sample=pd.to_numeric(at["bits_per_sample"]).mean(),
                       estimable=int((pd.to_numeric(at["epochs_done"]) >= WINDOW).sum()),
                       converged=int(index0.notna().sum()))
            for metric in ("paper_accuracy", "paper_convergence_index0", "test_accuracy"):
                row[f"{metric}_mean"], row[f"{metric}_std"] = _mean_std(at[metric])
            rows.append(row)
    columns = GROUP + ["setting", "level", "n", "seeds", "bits_per_sample", "estimable", "converged",
                       "paper_accuracy_mean", "paper_accuracy_std", "paper_convergence_index0_mean",
                       "paper_convergence_index0_std", "test_accuracy_mean", "test_accuracy_std"]
    return pd.DataFrame(rows, columns=columns)


def pm(mean, std, scale=1.0, digits=2):
    """`mean ± std`, just the mean when std is undefined, "-" when there is nothing."""
    if pd.isna(mean):
        return "-"
    if pd.isna(std):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def bits_text(value):
    return "-" if pd.isna(value) else f"{value:,.0f}"


def _convergence(row):
    if row.estimable == 0:
        return f"not estimable (< {WINDOW} epochs)"
    if row.converged == 0:
        return "never"
    text = pm(row.paper_convergence_index0_mean, row.paper_convergence_index0_std, digits=1)
    return text if row.converged == row.n else f"{text} ({row.converged}/{row.n} converged)"


def format_summary(summary):
    """The summary as display strings (accuracies in %)."""
    return pd.DataFrame({
        "model": summary["model"], "level": summary["level"].map(format_level), "n": summary["n"],
        "bits/sample": summary["bits_per_sample"].map(bits_text),
        "paper acc. %": [pm(m, s, 100) for m, s in zip(summary["paper_accuracy_mean"],
                                                       summary["paper_accuracy_std"])],
        "convergence (0-based index)": [_convergence(r) for r in summary.itertuples(index=False)],
        "test acc. %": [pm(m, s, 100) for m, s in zip(summary["test_accuracy_mean"],
                                                      summary["test_accuracy_std"])],
    }, columns=["model", "level", "n", "bits/sample", "paper acc. %",
                "convergence (0-based index)", "test acc. %"])


def relative(path, root):
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def set_apart_table(results, root):
    """Runs not averaged in: unfinished ones, and those excluded (with the reason)."""
    runs = results[~results["complete"].astype(bool) | (results["excluded"] != "")]
    return pd.DataFrame({
        "run": [relative(p, root) for p in runs["run"]],
        "epochs": [f"{d} of {'?' if pd.isna(n) else int(n)}"
                   for d, n in zip(runs["epochs_done"], runs["num_epoch"])],
        "best val acc. %": [pm(a, math.nan, 100) for a in runs["best_val_accuracy"]],
        "why": [e or "unfinished" for e in runs["excluded"]],
    }, columns=["run", "epochs", "best val acc. %", "why"])


def summary_text(results, problems, warnings, root, tests=None):
    """What scripts/collect.py prints: per experiment the summary (and the display rows
    of its paired tests in `tests`, when given, with an experiment column), then the
    runs set apart, unreadable folders and warnings."""
    summary = summarize(results)
    complete = results["complete"].astype(bool)
    lines = [f"{len(results)} runs under {root} in {results['experiment'].nunique()} experiment(s): "
             f"{int(complete.sum())} complete, {int((~complete).sum())} incomplete "
             f"({int(results['diverged'].astype(bool).sum())} diverged), "
             f"{int((results['excluded'] != '').sum())} left out, {len(problems)} unreadable", ""]
    if summary.empty:
        lines += ["No complete runs yet.", ""]
    for row in experiments(results).itertuples(index=False):
        part = summary[summary["experiment"] == row.experiment]
        if len(part):
            lines += [f"{experiment_title(row)}: complete runs, mean ± std over seeds (n seeds):",
                      format_summary(part).to_string(index=False), ""]
        paired = tests[tests["experiment"] == row.experiment] if tests is not None else []
        if len(paired):
            lines += ["Paired tests on the test predictions (docs/method.md):",
                      paired.drop(columns=["experiment", "data"]).to_string(index=False), ""]
    apart = set_apart_table(results, root)
    if len(apart):
        lines += ["Runs not averaged in:", apart.to_string(index=False), ""]
    if problems:
        lines += ["Unreadable run folders:"] + problems + [""]
    if warnings:
        lines += ["Warnings:"] + warnings + [""]
    return "\n".join(lines)
