"""The results report of a log folder: report.md, results.csv and PNG plots.

`write_report(root, out)` collects the runs (helmholtz.results) and reports
each experiment on its own (its summary, noise bits, rate-accuracy curves and
train x test grid), after a table of what was run and the warnings of the
collection; runs of different experiments are never averaged together.
"""
import math
import re
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure  # no pyplot: files only, no display or global state
from matplotlib.ticker import MaxNLocator

from helmholtz import analysis
from helmholtz.analysis import format_level, sorted_levels
from helmholtz.cache import atomic_path, write_text
from helmholtz.errors import UsageError
from helmholtz.metrics import WINDOW
from helmholtz.results import (bits_text, collect, describe_settings, experiment_title, experiments,
                               format_summary, pm, set_apart_table, summarize, write_results)
from helmholtz.runs import read_history

PAPER_EPOCHS = 200  # both halves of the original trained 200 epochs
METRIC_TITLES = {
    "paper_accuracy": "paper accuracy (mean of the 10 best val. epochs, as the original's collector)",
    "best10_accuracy": "mean of the (up to) 10 best val. epochs",
    "test_accuracy": "test accuracy (best checkpoint)"}


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


def _what_was_run(results, found):
    if results.empty:
        return "_No readable run folders._"
    rows, short = [], []
    for exp in found.itertuples(index=False):
        runs = results[results["experiment"] == exp.experiment]
        epochs = pd.to_numeric(runs["num_epoch"], errors="coerce")
        subset = pd.to_numeric(runs["subset"], errors="coerce")
        models = sorted(runs["model"].unique(),
                        key=lambda m: (pd.to_numeric(runs.loc[runs["model"] == m, "setting"],
                                                     errors="coerce").min(), m))
        rows.append({
            "experiment": exp.experiment, "domain": exp.domain, "dataset": exp.dataset,
            "settings that differ": describe_settings(exp.differs) or "-",
            "models": ", ".join(models),
            "levels": ", ".join(format_level(v) for v in sorted_levels(runs["level"])),
            "seeds": _values(runs["seed"]), "epochs": _values(epochs.astype("Int64")),
            "precision": _values(runs["precision"]),
            "subset": _values(subset.astype("Int64")) if subset.notna().any() else "full",
            "quirks fixed": _values(runs["fixed"]),
            "runs complete": f"{int(runs['complete'].astype(bool).sum())} of {len(runs)}"})
        name = f"{exp.domain}/{exp.dataset} (experiment {exp.experiment})"
        if (epochs < PAPER_EPOCHS).any():
            short.append(f"{name} trains {_values(epochs.astype('Int64'))} epochs "
                         f"(the paper: {PAPER_EPOCHS})")
        if subset.notna().any():
            short.append(f"{name} trains on a subset of {_values(subset.astype('Int64'))} samples")
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
    summary = summary[summary["paper_convergence_index0_mean"].notna()]
    if summary.empty:
        return None
    levels = sorted_levels(summary["level"])
    position = {level: i for i, level in enumerate(levels)}
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for model, curve in summary.groupby("model", sort=False):
        ax.errorbar([position[v] for v in curve["level"]], curve["paper_convergence_index0_mean"],
                    yerr=curve["paper_convergence_index0_std"].fillna(0), marker="o", capsize=3,
                    label=model)
    ax.set_xticks(range(len(levels)), [format_level(v) for v in levels])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=_level_label(runs), ylabel="convergence (0-based epoch index)",
           title="Convergence vs compression level (converged seeds)")
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


# ---------------------------------------------------------------- tables

def _noise_table(noise):
    return pd.DataFrame({
        "model": noise["model"], "reference": noise["reference"].map(format_level),
        "bits b(R)": noise["bits_reference"].map(bits_text),
        "acc. a(R) %": [pm(a, math.nan, 100) for a in noise["accuracy_reference"]],
        "cheapest level within eps": noise["level"].map(format_level),
        "its bits": noise["bits_level"].map(bits_text),
        "noise bits": noise["noise_bits"].map(bits_text),
        "of b(R)": [f"{f:.1%}" if pd.notna(f) else "-" for f in noise["noise_fraction"]],
        "95% interval": [f"{bits_text(lo)} to {bits_text(hi)}"
                         for lo, hi in zip(noise["ci_low"], noise["ci_high"])],
        "seeds/level": [str(a) if a == b else f"{a}-{b}"
                        for a, b in zip(noise["min_seeds"], noise["max_seeds"])],
        "note": noise["note"]})


def _rate_table(rate):
    return pd.DataFrame({
        "model": rate["model"], "level": rate["level"].map(format_level),
        "bits/sample": rate["bits_per_sample"].map(bits_text),
        "accuracy %": [pm(m, s, 100) for m, s in zip(rate["accuracy_mean"], rate["accuracy_std"])],
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
                **{c: bits_text(np.mean(bits[c])) if c in bits else "-" for c in table.columns[1:]}}
    return pd.concat([pd.DataFrame([bits_row]), table], ignore_index=True)


# ---------------------------------------------------------------- report

def _experiment_section(exp, name, complete, summary, rate, noise, grids, out, metric, eps, n_boot):
    """The markdown of one experiment: summary, noise bits, curves and plots, grids."""
    md = [f"## {experiment_title(exp)}", ""]
    runs = complete[complete["experiment"] == exp.experiment]
    part = summary[summary["experiment"] == exp.experiment]
    md += ["### Summary", "", "Complete runs only; mean ± std over seeds (n seeds); convergence "
           "as the paper printed it (the 0-based index of the first epoch of the window), over "
           "the seeds that converged.", ""]
    md += [markdown_table(format_summary(part)) if len(part) else "_No complete runs yet._", ""]

    md += [f"### Noise bits (eps = {eps:g}, {metric.replace('_', ' ')})", "",
           "noise bits = b(R) - min{ b(L) : a(L) >= a(R) - eps }, with b in bits per sample "
           f"and R the reference level; 95% percentile bootstrap interval over seeds "
           f"(B = {n_boot}).", ""]
    part_noise = noise[noise["experiment"] == exp.experiment]
    md += [markdown_table(_noise_table(part_noise)) if len(part_noise) else
           "_No model has complete runs at two or more levels: noise bits need a "
           "rate-accuracy curve._", ""]

    md += ["### Rate-accuracy and plots", ""]
    part_rate = rate[rate["experiment"] == exp.experiment]
    if part_rate.empty:
        md += [f"_No complete run has a {metric.replace('_', ' ')}: nothing to plot._", ""]
    else:
        model = _default_model(runs)
        too_short = f"no seed has {WINDOW} epochs" if (part["estimable"] == 0).all() else "no run converged"
        plots = [
            (_plot_accuracy_vs_level(part_rate, runs, out / f"accuracy_vs_level_{name}.png", metric),
             "accuracy vs level", ""),
            (_plot_accuracy_vs_bits(part_rate, out / f"accuracy_vs_bits_{name}.png", metric),
             "accuracy vs bits per sample", "no level has a known size in bits"),
            (_plot_convergence(part, runs, out / f"convergence_vs_level_{name}.png"),
             "convergence vs level", too_short),
            (_plot_learning_curves(runs, model, out / f"learning_curves_{name}.png"),
             f"learning curves of {model}", "no history.csv rows"),
        ]
        md += [markdown_table(_rate_table(part_rate)), ""]
        md += [line for path, caption, skipped in plots for line in
               (_image(out, path, caption, skipped), "")]

    md += ["### Train level x test level", "",
           "Test accuracy (%) of each run's best checkpoint on test data compressed at "
           "another level, mean over seeds.", ""]
    keys = [k for k in analysis.model_groups(runs) if k in grids]
    if not keys:
        md += ["_No plot: no run was tested at other levels._", ""]
    for key in keys:
        model_runs = analysis.select(runs, key)
        path = _plot_grid(grids[key], key[3], model_runs, out / f"grid_{name}_{_slug(key[3])}.png")
        md += [f"#### {key[3]}", "", markdown_table(_grid_table(grids[key], model_runs)), "",
               _image(out, path, f"train x test grid of {key[3]}", ""), ""]
    return md


def write_report(root, out, eps=0.01, metric="paper_accuracy", n_boot=1000):
    """Write report.md, results.csv and PNG plots to `out`; return the report's path.
    Warnings of the collection also go to stderr, one line each."""
    analysis.check_options(eps, metric)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the report")
    results, problems, warnings = collect(root)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    write_results(results, out / "results.csv")

    summary = summarize(results)
    rate = analysis.rate_accuracy(results, metric)
    noise = analysis.noise_bits_table(results, eps, metric, n_boot)
    grids = analysis.test_grid(results)
    complete = analysis.complete_runs(results)
    found = experiments(results)

    md = [f"# Results: {out.name}", "",
          f"Collected from `{root}`: {len(results)} readable run folders in {len(found)} experiment(s), "
          f"{len(complete)} complete runs averaged. Accuracy in the rate-accuracy tables, plots "
          f"and noise bits is the {METRIC_TITLES[metric]}. Only runs of one experiment (the same "
          "settings but model, level and seed) are averaged together. Method and caveats: "
          "docs/method.md.", ""]
    short = complete[pd.to_numeric(complete["epochs_done"]) < WINDOW]
    if metric == "paper_accuracy" and len(short):
        md += [f"**{len(short)} run(s) have fewer than {WINDOW} epochs.** Their paper accuracy is "
               "what the original's collector gives there: the CSV header is averaged in as a "
               "zero, sum / (n + 1). `--metric best10` averages their epochs instead.", ""]
    if warnings:
        md += ["## Warnings", ""] + [f"- {line}" for line in warnings] + [""]
    md += ["## What was run", "", _what_was_run(results, found), ""]

    # Plot names keep the domain and dataset; the key is added where several experiments share them.
    shared = found.groupby(["domain", "dataset"])["experiment"].transform("size").gt(1) if len(found) else []
    for exp, several in zip(found.itertuples(index=False), shared):
        name = _slug(exp.domain, exp.dataset) + (f"_{exp.experiment}" if several else "")
        md += _experiment_section(exp, name, complete, summary, rate, noise, grids, out, metric,
                                  eps, n_boot)

    md += ["## Runs not averaged in", "", "Unfinished runs, and runs left out (with the reason).", ""]
    apart = set_apart_table(results, root)
    md += [markdown_table(apart) if len(apart) else "None.", ""]
    if problems:
        md += ["## Unreadable run folders", ""] + [f"- {p}" for p in problems] + [""]

    report = out / "report.md"
    write_text(report, "\n".join(md))
    return report
