"""Collect run folders into a results table, summarise it, and write the report.

`collect(root)` reads every run folder below `root` (see helmholtz.runs) into
one row per run; the paper's metrics are recomputed from history.csv, so
unfinished runs have them too. Summaries average complete runs only.
`write_report(root, out)` writes report.md, results.csv and the PNG plots.
"""
import json
import math
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # no pyplot: files only, no display or global state
from matplotlib.ticker import MaxNLocator

from helmholtz import analysis
from helmholtz.analysis import GROUP, format_level, level_key, parse_level, sorted_levels
from helmholtz.cache import atomic_path, write_text
from helmholtz.errors import UsageError
from helmholtz.metrics import convergence_epoch, paper_accuracy
from helmholtz.runs import CONFIG, RESULT, find_runs, read_history, read_json

PAPER_EPOCHS = 200  # both halves of the original trained 200 epochs
REQUIRED = ("domain", "dataset", "model", "level", "seed")
COLUMNS = ["domain", "dataset", "model", "setting", "params", "level_name", "level", "seed",
           "bits_per_sample", "epochs_done", "num_epoch", "complete", "best_val_accuracy",
           "paper_accuracy", "convergence_epoch", "test_accuracy", "seconds_per_epoch",
           "fixed", "precision", "subset", "batch_size", "test_accuracy_at",
           "bits_per_sample_at", "git_commit", "run"]
METRIC_TITLES = {"paper_accuracy": "paper accuracy (mean of 10 best val. epochs)",
                 "test_accuracy": "test accuracy (best checkpoint)"}


# ---------------------------------------------------------------- collection

def _read_json_file(folder, name):
    try:
        return read_json(Path(folder) / name)
    except json.JSONDecodeError as e:
        raise ValueError(f"{name} is not valid JSON ({e})") from None


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def read_run(folder):
    """One results row from a run folder; ValueError/OSError says what is wrong with it."""
    config = _read_json_file(folder, CONFIG)
    if not isinstance(config, dict):
        raise ValueError(f"{CONFIG} does not hold an object")
    missing = [k for k in REQUIRED if k not in config]
    if missing:
        raise ValueError(f"{CONFIG} lacks {', '.join(missing)}")
    try:
        history = read_history(folder)
    except ValueError as e:
        raise ValueError(f"history.csv is malformed ({e})") from None
    if any("val_accuracy" not in row for row in history):
        raise ValueError("history.csv has a row without val_accuracy")
    result = _read_json_file(folder, RESULT) if (Path(folder) / RESULT).exists() else {}
    if not isinstance(result, dict):
        raise ValueError(f"{RESULT} does not hold an object")
    complete = result.get("complete") is True

    val_acc = [row["val_accuracy"] for row in history]
    seconds = [row["seconds"] for row in history if "seconds" in row]
    converged = convergence_epoch(val_acc)
    return dict(
        domain=config["domain"], dataset=config["dataset"], model=config["model"],
        setting=config.get("setting"), params=config.get("params"),
        level_name=config.get("level_name", "level"), level=parse_level(config["level"]),
        seed=int(config["seed"]), bits_per_sample=_number(config.get("bits_per_sample")),
        epochs_done=len(history), num_epoch=config.get("num_epoch"), complete=complete,
        best_val_accuracy=max(val_acc) if val_acc else math.nan,
        paper_accuracy=paper_accuracy(val_acc),
        convergence_epoch=math.nan if converged is None else converged,
        test_accuracy=_number(result.get("test_accuracy")) if complete else math.nan,
        seconds_per_epoch=float(np.mean(seconds)) if seconds else math.nan,
        fixed=config.get("fixed"), precision=config.get("precision"), subset=config.get("subset"),
        batch_size=config.get("batch_size"),
        test_accuracy_at=json.dumps(result.get("test_accuracy_at", {}) if complete else {},
                                    sort_keys=True),
        bits_per_sample_at=json.dumps(config.get("bits_per_sample_at", {}), sort_keys=True),
        git_commit=config.get("git_commit"), run=str(folder))


def collect(root):
    """(results DataFrame, problems): one row per readable run folder below `root`,
    and one line per folder that could not be read."""
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
        except (ValueError, OSError, TypeError) as e:
            problems.append(f"{folder}: {e}; fix or delete the folder (training again rebuilds it)")
    rows.sort(key=lambda r: (r["domain"], r["dataset"], _number(r["setting"]), r["model"],
                             level_key(r["level"]), r["seed"]))
    results = pd.DataFrame(rows, columns=COLUMNS)
    results["convergence_epoch"] = results["convergence_epoch"].astype("Int64")
    return results, problems


def write_results(results, path):
    with atomic_path(path) as tmp:
        results.to_csv(tmp, index=False)
    return Path(path)


def read_results(path):
    """results.csv back as a DataFrame the analysis functions accept."""
    return pd.read_csv(path, dtype={"level": str, "test_accuracy_at": str, "bits_per_sample_at": str},
                       keep_default_na=True)


# ---------------------------------------------------------------- summaries

def _mean_std(values):
    values = pd.to_numeric(pd.Series(values), errors="coerce").dropna().astype(float)
    return (values.mean(), values.std(ddof=1)) if len(values) else (math.nan, math.nan)


def summarize(results):
    """Complete runs by (domain, dataset, model, level): n seeds, bits, and mean/std
    (sample std, nan with one seed) of paper accuracy, convergence epoch, test accuracy."""
    runs = analysis.complete_runs(results)
    rows = []
    for key in analysis.model_groups(runs):
        model_runs = analysis.select(runs, key)
        for level in sorted_levels(model_runs["level"]):
            at = model_runs[model_runs["level"] == level]
            row = dict(zip(GROUP, key), setting=at["setting"].iloc[0], level=level, n=len(at),
                       seeds=" ".join(str(s) for s in sorted(at["seed"])),
                       bits_per_sample=pd.to_numeric(at["bits_per_sample"]).mean(),
                       converged=int(pd.to_numeric(at["convergence_epoch"]).notna().sum()))
            for metric in ("paper_accuracy", "convergence_epoch", "test_accuracy"):
                row[f"{metric}_mean"], row[f"{metric}_std"] = _mean_std(at[metric])
            rows.append(row)
    columns = GROUP + ["setting", "level", "n", "seeds", "bits_per_sample", "converged",
                       "paper_accuracy_mean", "paper_accuracy_std", "convergence_epoch_mean",
                       "convergence_epoch_std", "test_accuracy_mean", "test_accuracy_std"]
    return pd.DataFrame(rows, columns=columns)


def _pm(mean, std, scale=1.0, digits=2):
    """`mean ± std`, just the mean when std is undefined, "-" when there is nothing."""
    if pd.isna(mean):
        return "-"
    if pd.isna(std):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def _bits(value):
    return "-" if pd.isna(value) else f"{value:,.0f}"


def _convergence(row):
    if row.converged == 0:
        return "never"
    text = _pm(row.convergence_epoch_mean, row.convergence_epoch_std, digits=1)
    return text if row.converged == row.n else f"{text} ({row.converged}/{row.n} converged)"


def format_summary(summary):
    """The summary as display strings (accuracies in %)."""
    return pd.DataFrame({
        "domain": summary["domain"], "dataset": summary["dataset"], "model": summary["model"],
        "level": summary["level"].map(format_level), "n": summary["n"],
        "bits/sample": summary["bits_per_sample"].map(_bits),
        "paper acc. %": [_pm(m, s, 100) for m, s in zip(summary["paper_accuracy_mean"],
                                                        summary["paper_accuracy_std"])],
        "convergence epoch": [_convergence(r) for r in summary.itertuples(index=False)],
        "test acc. %": [_pm(m, s, 100) for m, s in zip(summary["test_accuracy_mean"],
                                                       summary["test_accuracy_std"])],
    }, columns=["domain", "dataset", "model", "level", "n", "bits/sample", "paper acc. %",
                "convergence epoch", "test acc. %"])


def _relative(path, root):
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def incomplete_table(results, root):
    runs = results[~results["complete"].astype(bool)]
    return pd.DataFrame({
        "run": [_relative(p, root) for p in runs["run"]],
        "epochs": [f"{d} of {'?' if pd.isna(n) else int(n)}"
                   for d, n in zip(runs["epochs_done"], runs["num_epoch"])],
        "best val acc. %": [_pm(a, math.nan, 100) for a in runs["best_val_accuracy"]],
    }, columns=["run", "epochs", "best val acc. %"])


def summary_text(results, problems, root):
    """What scripts/collect.py prints: the summary, incomplete runs, unreadable folders."""
    summary = summarize(results)
    lines = [f"{len(results)} runs under {root}: {int(results['complete'].astype(bool).sum())} "
             f"complete, {int((~results['complete'].astype(bool)).sum())} incomplete, "
             f"{len(problems)} unreadable", ""]
    if len(summary):
        lines += ["Complete runs, mean ± std over seeds (n seeds):",
                  format_summary(summary).to_string(index=False), ""]
    else:
        lines += ["No complete runs yet.", ""]
    incomplete = incomplete_table(results, root)
    if len(incomplete):
        lines += ["Incomplete runs (not averaged in):", incomplete.to_string(index=False), ""]
    if problems:
        lines += ["Unreadable run folders:"] + problems + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------- markdown

def markdown_table(frame):
    """A GitHub markdown table of `frame` (its columns; the index is ignored)."""
    def cell(value):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return str(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |",
             "|" + "|".join("---" for _ in frame.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _values(series):
    """Distinct values of a column, in a readable order, as text."""
    values = [str(bool(v)) if isinstance(v, (bool, np.bool_)) else v for v in series.dropna().unique()]
    return ", ".join(format_level(v) for v in sorted_levels(values)) or "-"


def _what_was_run(results):
    if results.empty:
        return "_No readable run folders._"
    rows, short = [], []
    for (domain, dataset), runs in results.groupby(["domain", "dataset"], sort=True):
        epochs = pd.to_numeric(runs["num_epoch"], errors="coerce")
        subset = pd.to_numeric(runs["subset"], errors="coerce")
        models = sorted(runs["model"].unique(),
                        key=lambda m: (pd.to_numeric(runs.loc[runs["model"] == m, "setting"],
                                                     errors="coerce").min(), m))
        rows.append({
            "domain": domain, "dataset": dataset, "models": ", ".join(models),
            "levels": ", ".join(format_level(v) for v in sorted_levels(runs["level"])),
            "seeds": _values(runs["seed"]), "epochs": _values(epochs.astype("Int64")),
            "precision": _values(runs["precision"]),
            "subset": _values(subset.astype("Int64")) if subset.notna().any() else "full",
            "quirks fixed": _values(runs["fixed"]),
            "runs complete": f"{int(runs['complete'].astype(bool).sum())} of {len(runs)}"})
        if (epochs < PAPER_EPOCHS).any():
            short.append(f"{domain}/{dataset} trains {_values(epochs.astype('Int64'))} epochs "
                         f"(the paper: {PAPER_EPOCHS})")
        if subset.notna().any():
            short.append(f"{domain}/{dataset} trains on a subset of "
                         f"{_values(subset.astype('Int64'))} samples")
    text = markdown_table(pd.DataFrame(rows))
    commits = sorted({str(c)[:12] + (" (with uncommitted changes)" if str(c).endswith("+dirty") else "")
                      for c in results["git_commit"].dropna().unique()})
    if commits:
        text += f"\n\nCode: git commit {', '.join(commits)}."
    if short:
        text += ("\n\n**Shortened run.** " + "; ".join(short) + ". These numbers show that the "
                 "pipeline works; they are illustrative only and do not reproduce the paper's.")
    return text


# ---------------------------------------------------------------- plots

def _slug(*parts):
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", str(p)).strip("-") for p in parts)


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def _level_label(runs):
    names = runs["level_name"].dropna().unique()
    return {"quality": "JPEG quality", "bitrate": "MP3 bitrate (kbps)"}.get(
        names[0] if len(names) == 1 else "", "compression level")


def _plot_accuracy_vs_level(rate, runs, path, metric):
    levels = sorted_levels(rate["level"])
    position = {level: i for i, level in enumerate(levels)}
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for model, curve in rate.groupby("model", sort=False):
        ax.errorbar([position[v] for v in curve["level"]], 100 * curve["accuracy_mean"],
                    yerr=100 * curve["accuracy_std"].fillna(0), marker="o", capsize=3, label=model)
    ax.set_xticks(range(len(levels)), [format_level(v) for v in levels])
    ax.set(xlabel=_level_label(runs), ylabel=f"{metric.replace('_', ' ')} (%)",
           title="Accuracy vs compression level (error bars: std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _plot_accuracy_vs_bits(rate, path, metric):
    rate = rate[rate["bits_per_sample"] > 0]
    if rate.empty:
        return None
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for model, curve in rate.groupby("model", sort=False):
        curve = curve.sort_values("bits_per_sample")
        ax.errorbar(curve["bits_per_sample"], 100 * curve["accuracy_mean"],
                    yerr=100 * curve["accuracy_std"].fillna(0), marker="o", capsize=3, label=model)
        for bits, acc, level in zip(curve["bits_per_sample"], curve["accuracy_mean"], curve["level"]):
            ax.annotate(format_level(level), (bits, 100 * acc), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set(xlabel="bits per sample (encoded bytes x 8)", ylabel=f"{metric.replace('_', ' ')} (%)",
           title="Rate-accuracy curve")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _plot_convergence(summary, runs, path):
    summary = summary[summary["convergence_epoch_mean"].notna()]
    if summary.empty:
        return None
    levels = sorted_levels(summary["level"])
    position = {level: i for i, level in enumerate(levels)}
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for model, curve in summary.groupby("model", sort=False):
        ax.errorbar([position[v] for v in curve["level"]], curve["convergence_epoch_mean"],
                    yerr=curve["convergence_epoch_std"].fillna(0), marker="o", capsize=3, label=model)
    ax.set_xticks(range(len(levels)), [format_level(v) for v in levels])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=_level_label(runs), ylabel="convergence epoch",
           title="Convergence epoch vs compression level (converged seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _default_model(runs):
    """The model with the most levels (the original swept its default model), then lowest setting."""
    counts = runs.groupby("model")["level"].nunique()
    settings = pd.to_numeric(runs.groupby("model")["setting"].min(), errors="coerce")
    return min(counts.index, key=lambda m: (-counts[m], settings[m], m))


def _plot_learning_curves(runs, model, path):
    runs = runs[runs["model"] == model]
    levels = sorted_levels(runs["level"])
    colors = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(levels)))
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    plotted = False
    for level, color in zip(levels, colors):
        curves = [pd.DataFrame(read_history(run)) for run in runs.loc[runs["level"] == level, "run"]]
        curves = [c for c in curves if len(c)]
        if not curves:
            continue
        mean = pd.concat(curves).groupby("epoch")["val_accuracy"].mean()
        ax.plot(mean.index, 100 * mean.to_numpy(), color=color, label=format_level(level))
        plotted = True
    if not plotted:
        return None
    ax.set(xlabel="epoch", ylabel="val accuracy (%)",
           title=f"Learning curves of {model} (mean over seeds), by {_level_label(runs)}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def _plot_grid(grid, model, runs, path):
    fig = Figure(figsize=(1.0 + 0.7 * grid.shape[1], 1.0 + 0.5 * grid.shape[0]))
    ax = fig.subplots()
    values = 100 * grid.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    middle = (np.nanmin(values) + np.nanmax(values)) / 2
    for (i, j), value in np.ndenumerate(values):
        if not np.isnan(value):  # dark text on the light (high) end of viridis
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                    color="black" if value > middle else "white")
    ax.set_xticks(range(grid.shape[1]), [format_level(v) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [format_level(v) for v in grid.index])
    label = _level_label(runs)
    ax.set(xlabel=f"test {label}", ylabel=f"train {label}", title=f"{model}: test accuracy (%)")
    fig.colorbar(image, ax=ax)
    return _save(fig, path)


def _image(out, path, caption, skipped):
    if path is None:
        return f"_No plot of {caption}: {skipped}._"
    return f"![{caption}]({Path(path).relative_to(out).as_posix()})"


# ---------------------------------------------------------------- report

def _noise_table(noise):
    return pd.DataFrame({
        "model": noise["model"], "reference": noise["reference"].map(format_level),
        "bits b(R)": noise["bits_reference"].map(_bits),
        "acc. a(R) %": [_pm(a, math.nan, 100) for a in noise["accuracy_reference"]],
        "cheapest level within eps": noise["level"].map(format_level),
        "its bits": noise["bits_level"].map(_bits),
        "noise bits": noise["noise_bits"].map(_bits),
        "of b(R)": [f"{f:.1%}" if pd.notna(f) else "-" for f in noise["noise_fraction"]],
        "95% interval": [f"{_bits(lo)} to {_bits(hi)}" for lo, hi in zip(noise["ci_low"], noise["ci_high"])],
        "seeds/level": [str(a) if a == b else f"{a}-{b}"
                        for a, b in zip(noise["min_seeds"], noise["max_seeds"])],
        "note": noise["note"]})


def _rate_table(rate):
    return pd.DataFrame({
        "model": rate["model"], "level": rate["level"].map(format_level),
        "bits/sample": rate["bits_per_sample"].map(_bits),
        "accuracy %": [_pm(m, s, 100) for m, s in zip(rate["accuracy_mean"], rate["accuracy_std"])],
        "n": rate["n"]})


def _grid_table(grid, runs):
    """Grid in % with the test sets' bits per sample (bits_per_sample_at) as a first row."""
    table = grid.map(lambda v: "-" if pd.isna(v) else f"{100 * v:.2f}")
    table.columns = [format_level(c) for c in grid.columns]
    bits = {}
    for text in runs["bits_per_sample_at"].dropna():
        for level, b in analysis.level_dict(text).items():
            bits.setdefault(format_level(level), []).append(float(b))
    table.insert(0, "train \\ test", [format_level(v) for v in grid.index])
    bits_row = {"train \\ test": "test bits/sample",
                **{c: _bits(np.mean(bits[c])) if c in bits else "-" for c in table.columns[1:]}}
    return pd.concat([pd.DataFrame([bits_row]), table], ignore_index=True)


def write_report(root, out, eps=0.01, metric="paper_accuracy", n_boot=1000):
    """Write report.md, results.csv and PNG plots to `out`; return the report's path."""
    analysis.check_options(eps, metric)
    results, problems = collect(root)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_results(results, out / "results.csv")

    summary = summarize(results)
    rate = analysis.rate_accuracy(results, metric)
    noise = analysis.noise_bits_table(results, eps, metric, n_boot)
    grids = analysis.test_grid(results)
    complete = analysis.complete_runs(results)

    md = [f"# Results: {out.name}", "",
          f"Collected from `{root}`: {len(results)} run folders, "
          f"{len(complete)} complete. Accuracy in the rate-accuracy tables, plots and "
          f"noise bits is the {METRIC_TITLES[metric]}. Method and caveats: docs/method.md.", "",
          "## What was run", "", _what_was_run(results), ""]

    md += ["## Summary", "", "Complete runs only; mean ± std over seeds (n seeds); "
           "convergence epoch over the seeds that converged.", ""]
    if summary.empty:
        md += ["_No complete runs yet._", ""]
    for (domain, dataset), part in summary.groupby(["domain", "dataset"], sort=True):
        table = format_summary(part).drop(columns=["domain", "dataset"])
        md += [f"### {domain} / {dataset}", "", markdown_table(table), ""]

    md += [f"## Noise bits (eps = {eps:g}, {metric.replace('_', ' ')})", "",
           "noise bits = b(R) - min{ b(L) : a(L) >= a(R) - eps }, with b in bits per sample "
           f"and R the reference level; 95% percentile bootstrap interval over seeds "
           f"(B = {n_boot}).", ""]
    if noise.empty:
        md += ["_No model has complete runs at two or more levels: noise bits need a "
               "rate-accuracy curve._", ""]
    for (domain, dataset), part in noise.groupby(["domain", "dataset"], sort=True):
        md += [f"### {domain} / {dataset}", "", markdown_table(_noise_table(part)), ""]

    md += ["## Rate-accuracy and plots", ""]
    for (domain, dataset), runs in complete.groupby(["domain", "dataset"], sort=True):
        part = rate[(rate["domain"] == domain) & (rate["dataset"] == dataset)]
        part_summary = summary[(summary["domain"] == domain) & (summary["dataset"] == dataset)]
        name = _slug(domain, dataset)
        md += [f"### {domain} / {dataset}", ""]
        if part.empty:
            md += [f"_No complete run has a {metric.replace('_', ' ')}: nothing to plot._", ""]
            continue
        model = _default_model(runs)
        plots = [
            (_plot_accuracy_vs_level(part, runs, out / f"accuracy_vs_level_{name}.png", metric),
             "accuracy vs level", ""),
            (_plot_accuracy_vs_bits(part, out / f"accuracy_vs_bits_{name}.png", metric),
             "accuracy vs bits per sample", "no level has a known size in bits"),
            (_plot_convergence(part_summary, runs, out / f"convergence_vs_level_{name}.png"),
             "convergence epoch vs level", "no run converged"),
            (_plot_learning_curves(runs, model, out / f"learning_curves_{name}.png"),
             f"learning curves of {model}", "no history.csv rows"),
        ]
        md += [markdown_table(_rate_table(part)), ""]
        for path, caption, skipped in plots:
            md += [_image(out, path, caption, skipped), ""]

    md += ["## Train level x test level", "",
           "Test accuracy (%) of each run's best checkpoint on test data compressed at "
           "another level, mean over seeds.", ""]
    keys = [k for k in analysis.model_groups(complete) if k in grids]
    if not keys:
        md += ["_No plot: no run was tested at other levels._", ""]
    for key in keys:
        runs = analysis.select(complete, key)
        path = _plot_grid(grids[key], key[2], runs, out / f"grid_{_slug(*key)}.png")
        md += [f"### {' / '.join(key)}", "", markdown_table(_grid_table(grids[key], runs)), "",
               _image(out, path, f"train x test grid of {key[2]}", ""), ""]

    md += ["## Incomplete runs", "", "Not averaged into any table above.", ""]
    incomplete = incomplete_table(results, root)
    md += [markdown_table(incomplete) if len(incomplete) else "None.", ""]
    if problems:
        md += ["## Unreadable run folders", ""] + [f"- {p}" for p in problems] + [""]

    report = out / "report.md"
    write_text(report, "\n".join(md))
    return report
