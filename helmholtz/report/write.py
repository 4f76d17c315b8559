"""The results report of a log folder: report.md, results.csv and PNG plots.

`write_report(root, out)` collects the runs (helmholtz.analysis.results) and reports
each experiment on its own, after a table of what was run and the warnings of
the collection: first the paper's claims and their verdicts on this data
(from the paired tests of helmholtz.analysis.paired / helmholtz.analysis.stats on the runs'
per-example predictions), then the per-level tests, the summary over seeds,
rate-accuracy curves and plots (helmholtz.report.plots), confusion matrices and the
train x test grid (helmholtz.analysis.grids). Runs of different experiments are never
averaged together.
"""
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from helmholtz.analysis import contrasts, grids, paired, stats, verdicts
from helmholtz.analysis.paired import format_level, sorted_levels
from helmholtz.analysis.results import (bits_text, collect, describe_settings, experiment_title,
                                        experiments, format_summary, pm, set_apart_table, summarize,
                                        write_results)
from helmholtz.cli import positive_float, positive_int
from helmholtz.data.cache import write_text
from helmholtz.errors import UsageError
from helmholtz.report import baselines, codec_sections, plots
from helmholtz.report.tidy import write_long
from helmholtz.run.layout import CONFIG, read_json
from helmholtz.run.metrics import WINDOW
from helmholtz.run.outputs import claim, first_line, writing

# What write_report may write in its folder (the examples command draws examples_*.png there).
REPORT_FILES = ("report.md", "*.csv", "*.png", "!examples_*.png")
PAPER_EPOCHS = 200  # both halves of the original trained 200 epochs
METRIC_TITLES = {
    "paper_accuracy": "paper accuracy (mean of the 10 best val. epochs, as the original's collector)",
    "best10_accuracy": "mean of the (up to) 10 best val. epochs",
    "test_accuracy": "test accuracy (best checkpoint)"}


def add_test_flags(parser):
    """--margin and --n_boot, the flags of the paired tests (scripts/report.py, collect.py)."""
    parser.add_argument("--margin", type=positive_float, default=stats.MARGIN,
                        help="non-inferiority margin in absolute accuracy, fixed before the runs "
                             f"(default {stats.MARGIN}; docs/method.md says why)")
    parser.add_argument("--n_boot", type=positive_int, default=stats.N_BOOT,
                        help=f"bootstrap replicates (default {stats.N_BOOT})")
    parser.add_argument("--tost", action="store_true",
                        help="add the equivalence test (TOST within +-margin) to the tables by level")


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
        text += ("\n\n**Shortened run.** " + "; ".join(short) + ". Their numbers are not the paper's "
                 "and are not meant to reproduce them; the claims below are tested at these sizes, "
                 "and the intervals say how far the data can tell.")
    return text



def _slug(*parts):
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", str(p)).strip("-") for p in parts)


def _image(out, path, caption, skipped):
    if path is None:
        return f"_No plot of {caption}: {skipped}._"
    return f"![{caption}]({Path(path).relative_to(out).as_posix()})"


def _default_model(runs):
    """The model with the most levels (the original swept its default model), then lowest setting."""
    counts = runs.groupby("model")["level"].nunique()
    settings = pd.to_numeric(runs.groupby("model")["setting"].min(), errors="coerce")
    return min(counts.index, key=lambda m: (-counts[m], settings[m], m))


def _claims(models, levels, main, n_boot, alpha, other_models_in=(), tost=False):
    """The paper's claims and their verdicts, for the main model and across architectures.
    other_models_in: titles of experiments on the same data that ran other models."""
    md = ["### The paper's claims on this data", ""]
    found = models[models["model"] == main]
    if found.empty:
        return md + ["_No model with complete runs._", ""]
    model = found.iloc[0]
    rows = levels[levels["model"] == main].sort_values("order")
    if len(rows):
        md += [f"{main}: {int(model.seeds)} seed(s) x {int(model.examples)} test examples per level, "
               f"paired by seed and example. Accuracy here is each run's best checkpoint on the "
               f"test set (its predictions.npz); chance (the commonest class) is "
               f"{verdicts.percent(model.chance)}. 90% intervals from {n_boot} bootstrap replicates over "
               f"seeds and the {int(model.groups)} groups of test examples jointly (a group: examples "
               f"that depend on each other, such as the effect versions of one note; else one "
               f"example), widened by t for the few seeds; each test is one-sided at {alpha:g}; "
               f"the margin of {100 * model.margin:.1f} points was fixed before the runs "
               "(`--margin`). Each level is non-inferior (its lower bound above -margin), inferior "
               "(its upper bound below -margin) or inconclusive, with the resolution beside it; "
               "a difference whose interval reaches 0 is reported as no difference. Runs on other "
               "hardware give other numbers within the seed-to-seed noise that the intervals "
               "include. docs/method.md shows the intervals' measured coverage.", ""]
        if model.resolution >= model.margin:
            md += [f"**The margin is within the noise.** At these sizes a difference is known to "
                   f"about {100 * model.resolution:.1f} points (median distance from a difference to "
                   "its one-sided bound), no less than the margin: a level truly equal to the "
                   "reference usually fails the test. More seeds or test examples would resolve it.",
                   ""]
        else:
            md += [f"At these sizes a difference is known to about {100 * model.resolution:.1f} "
                   "points (median distance from a difference to its one-sided bound).", ""]
    md += [f"- **(a) At the right quality, compression costs no accuracy.** {verdicts.no_loss(model, rows)}",
           f"- **(b) Below it, accuracy drops.** {verdicts.loss_at_lowest(model, rows)}",
           f"- **(c) Compression speeds convergence.** {verdicts.convergence(model, rows)} The paper's "
           "own metric (the first 10-epoch window above 0.99 x the run's own best) is in the "
           "appendix; it favours levels that plateau lower, so the verdict uses whole curves.",
           f"- **(d) The bits removed measure noise.** {verdicts.noise_bits(model)}"]
    others = verdicts.architectures_table(models, levels, main)
    elsewhere = "".join(f" Other models ran on this data in {title}: see its section." for title in
                        other_models_in)
    md += ["- **(e) Across architectures.** " + (
        "The same tests for the other models, at the levels they ran:" if len(others) else
        "No other model was run in this experiment." + elsewhere), ""]
    if len(others):
        md += [markdown_table(others), ""]
    if model.note:
        md += [f"Notes: {model.note}.", ""]
    if len(rows):
        md += [f"#### Tests by level: {main}", "",
               markdown_table(verdicts.level_table(rows, model, tost)), ""]
    return md


# ---------------------------------------------------------------- tables

def _rate_table(rate):
    return pd.DataFrame({
        "model": rate["model"], "level": rate["level"].map(format_level),
        "payload bits/sample": rate["payload_bits_per_sample"].map(bits_text),
        "total bits/sample": rate["bits_per_sample"].map(bits_text),
        "accuracy %": [pm(m, s, 100) for m, s in zip(rate["accuracy_mean"], rate["accuracy_std"])],
        "n": rate["n"]})


def _grid_table(grid, runs):
    """Grid in % with the test sets' bits per sample (bits_per_sample_at) as a first row."""
    table = grid.map(lambda v: "-" if pd.isna(v) else f"{100 * v:.2f}")
    table.columns = [format_level(c) for c in grid.columns]
    bits = {}
    for text in runs["bits_per_sample_at"].dropna():
        for level, b in grids.level_dict(text).items():
            bits.setdefault(format_level(level), []).append(float(b))
    table.insert(0, "train \\ test", [format_level(v) for v in grid.index])
    bits_row = {"train \\ test": "test bits/sample",
                **{c: bits_text(np.mean(bits[c])) if c in bits else "-" for c in table.columns[1:]}}
    return pd.concat([pd.DataFrame([bits_row]), table], ignore_index=True)


def _class_names(model_runs):
    try:
        classes = read_json(Path(model_runs["run"].iloc[0]) / CONFIG).get("classes")
    except (OSError, ValueError):
        return None
    return [str(c) for c in classes] if isinstance(classes, list) else None


def _confusion_section(runs, models, name, out):
    md = ["### Confusion matrices", "",
          "Each model's runs on the test set at the reference and the lowest level, summed over "
          "seeds, as % of each true class.", ""]
    shown = False
    for model in models.itertuples(index=False):
        model_runs = runs[runs["model"] == model.model]
        levels = sorted_levels(model_runs["level"])
        wanted = [model.reference] + ([levels[0]] if levels[0] != model.reference else [])
        names = _class_names(model_runs)
        matrices = grids.confusions(model_runs, wanted, len(names) if names else None)
        if not matrices:
            continue
        if names and len(names) < next(iter(matrices.values())).shape[0]:
            names = None  # a class beyond the names: number them
        path = plots.confusions(matrices, names, model.model, plots.level_label(model_runs),
                                out / f"confusion_{name}_{_slug(model.model)}.png")
        md += [_image(out, path, f"confusion matrices of {model.model}", ""), ""]
        shown = True
    return md if shown else md + ["_No run has predictions.npz (runs of older code)._", ""]


# ---------------------------------------------------------------- report

def _other_models_in(exp, found, complete):
    """Titles of the other experiments on exp's domain and dataset that ran models exp did not."""
    own = set(complete.loc[complete["experiment"] == exp.experiment, "model"])
    return [experiment_title(other) for other in found.itertuples(index=False)
            if (other.domain, other.dataset) == (exp.domain, exp.dataset)
            and other.experiment != exp.experiment
            and set(complete.loc[complete["experiment"] == other.experiment, "model"]) - own]


def _experiment_section(exp, name, complete, summary, rate, models, levels, grid_tables, out, metric,
                        n_boot, alpha, other_models_in=(), tost=False):
    """The markdown of one experiment: claims, curves and plots, confusions, grids."""
    md = [f"## {experiment_title(exp)}", ""]
    runs = complete[complete["experiment"] == exp.experiment]
    part = summary[summary["experiment"] == exp.experiment]
    part_models = models[models["experiment"] == exp.experiment]
    if len(runs):
        md += _claims(part_models, levels[levels["experiment"] == exp.experiment],
                      _default_model(runs), n_boot, alpha, other_models_in, tost)

    md += ["### Rate-accuracy and plots", ""]
    part_rate = rate[rate["experiment"] == exp.experiment]
    if part_rate.empty:
        md += [f"_No complete run has a {metric.replace('_', ' ')}: nothing to plot._", ""]
    else:
        model = _default_model(runs)
        made = [
            (plots.accuracy_vs_level(part_rate, runs, out / f"accuracy_vs_level_{name}.png", metric),
             "accuracy vs level", ""),
            (plots.accuracy_vs_bits(part_rate, out / f"accuracy_vs_bits_{name}.png", metric),
             "accuracy vs bits per sample", "no level has a known size in bits"),
            (plots.learning_curves(runs, model, out / f"learning_curves_{name}.png"),
             f"learning curves of {model}", "no history.csv rows"),
        ]
        md += [markdown_table(_rate_table(part_rate)), ""]
        md += [line for path, caption, skipped in made for line in
               (_image(out, path, caption, skipped), "")]
    if len(part_models):
        md += _confusion_section(runs, part_models, name, out)

    md += ["### Train level x test level", "",
           "Test accuracy (%) of each run's best checkpoint on test data compressed at "
           "another level, mean over seeds; the lossless row is the \"train clean, test "
           "compressed\" control.", ""]
    keys = [k for k in paired.model_groups(runs) if k in grid_tables]
    if not keys:
        md += ["_No plot: no run was tested at other levels._", ""]
    for key in keys:
        model_runs = paired.select(runs, key)
        path = plots.grid(grid_tables[key], key[3], model_runs, out / f"grid_{name}_{_slug(key[3])}.png")
        md += [f"#### {key[3]}", "", markdown_table(_grid_table(grid_tables[key], model_runs)), "",
               _image(out, path, f"train x test grid of {key[3]}", ""), ""]
    return md


def _run_notes(results):
    """Lines on how the runs ran: those that diverged, and experiments whose seeds ran
    on different CPU models or thread counts (their losses then differ in the last digits)."""
    notes = []
    diverged = results[results["diverged"].fillna(False).astype(bool)]
    if len(diverged):
        notes.append(f"{len(diverged)} run(s) diverged (the loss became non-finite): they stopped, "
                     "are not complete and are in no average (Runs not averaged in).")
    runs = paired.complete_runs(results).dropna(subset=["cpu", "threads"])
    for experiment, part in runs.groupby("experiment", sort=True):
        machines = part.groupby(["cpu", "threads"])["seed"]
        if machines.ngroups > 1:
            on = "; ".join(f"{cpu} with {int(threads)} thread(s): seed(s) "
                           f"{' '.join(str(s) for s in sorted(set(seeds)))}"
                           for (cpu, threads), seeds in machines)
            notes.append(f"Experiment {experiment}: its seeds ran on different CPUs or thread counts "
                         f"({on}); their losses differ in the 5th-6th digit for that alone.")
    return ["## How the runs ran", ""] + [f"- {line}" for line in notes] + [""] if notes else []


def _original_metrics(named, summary, complete, out, short):
    """The appendix: what the original code printed, with its quirks, per experiment."""
    md = ["## Appendix: what the original code printed", "",
          "Not used by any verdict above. The original's collector printed, per run, the mean of "
          "its 10 best validation epochs (\"paper acc.\"; for a run under 10 epochs it averages "
          "the CSV header in as a zero, sum / (n + 1)) and its convergence index (the 0-based "
          "first epoch of a 10-epoch window above 0.99 x the run's own best). Mean ± std over "
          "seeds (n seeds), complete runs only; the selected checkpoint's test accuracy, used "
          "everywhere above, beside them.", ""]
    if len(short):
        md += [f"{len(short)} run(s) have fewer than {WINDOW} epochs: their paper accuracy is the "
               "quirk's, not an accuracy.", ""]
    for exp, name in named:
        part = summary[summary["experiment"] == exp.experiment]
        md += [f"### {experiment_title(exp)}", "",
               markdown_table(format_summary(part)) if len(part) else "_No complete runs yet._", ""]
        if len(part):
            too_short = f"no seed has {WINDOW} epochs" if (part["estimable"] == 0).all() else "no run converged"
            runs = complete[complete["experiment"] == exp.experiment]
            path = plots.convergence_vs_level(part, runs, out / f"convergence_vs_level_{name}.png")
            md += [_image(out, path, "convergence vs level", too_short), ""]
    return md


def _shown_path(path):
    """A path as the report names it: relative to the working folder when inside it, so a
    committed report does not carry the folder of the machine that wrote it."""
    path = Path(path).absolute()
    return path.relative_to(Path.cwd()).as_posix() if path.is_relative_to(Path.cwd()) else str(path)


def _answer(found, complete, models, levels, out):
    """The first screen: per data set, the rate-accuracy plot of each experiment's main
    model with interval bands, and its verdicts in words."""
    md = ["## The answer, per data set", "",
          "Does compression cost accuracy, and how many bits are noise? The selected "
          "checkpoint's test accuracy against bits per sample with its 90% interval as a band; "
          "each level marked by its verdict against the reference (filled: non-inferior within "
          "the margin, cross: inferior beyond it, open: inconclusive); the dashed line is the "
          "reference minus the margin. The sections below give the detail.", ""]
    for (domain_name, dataset), part in found.groupby(["domain", "dataset"], sort=False):
        lines, shown = [], []
        for exp in part.itertuples(index=False):
            runs = complete[complete["experiment"] == exp.experiment]
            if runs.empty:
                continue
            main = _default_model(runs)
            model = models[(models["experiment"] == exp.experiment) & (models["model"] == main)]
            own = levels[(levels["experiment"] == exp.experiment) & (levels["model"] == main)]
            if len(model):
                lines.append(f"- {experiment_title(exp)}: "
                             f"{verdicts.headline(model.iloc[0], own.sort_values('order'))}")
                shown.append(own)
        rows = pd.concat(shown) if shown else levels.iloc[0:0]
        path = plots.rate_accuracy_bands(rows, models, out / f"answer_{_slug(domain_name, dataset)}.png") \
            if len(rows) else None
        md += [f"### {domain_name} / {dataset}", "",
               _image(out, path, f"test accuracy vs bits, {domain_name} / {dataset}",
                      "no model could be paired"), ""] + lines + [""]
    return md


def write_report(root, out, margin=stats.MARGIN, metric="test_accuracy", n_boot=stats.N_BOOT,
                 alpha=stats.ALPHA, tost=False):
    """Write report.md, results.csv, tests.csv (the paired tests by level) and PNG plots
    to `out`; return the report's path. Warnings of the collection also go to stderr,
    one line each."""
    paired.check_options(margin, metric)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the report")
    with writing(out, REPORT_FILES, recognise=_older_report):  # checked before collecting
        return _write_report(root, out, margin, metric, n_boot, alpha, tost)


def check_report_folder(out):
    """Refuse, before any work, a report folder holding files write_report may not replace
    (for the commands that run for hours before they report: demo, study)."""
    claim(out, REPORT_FILES, recognise=_older_report)


def _older_report(path):
    """Whether `path` is in a report folder an older version wrote (no manifest):
    its report.md begins as write_report begins one."""
    return first_line(Path(path).parent / "report.md") == f"# Results: {Path(path).parent.name}"


def _write_report(root, out, margin, metric, n_boot, alpha, tost):
    results, problems, warnings = collect(root)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    write_results(results, out / "results.csv")
    write_long(results, out / "results_long.csv")

    summary = summarize(results)
    rate = paired.rate_accuracy(results, metric)
    models, levels = paired.tests_table(results, margin, alpha, n_boot)
    write_results(models.merge(levels, on=paired.GROUP, how="left", suffixes=("", "_level")),
                  out / "tests.csv")
    grid_tables = grids.test_grid(results)
    complete = paired.complete_runs(results)
    found = experiments(results)

    md = [f"# Results: {out.name}", "",
          f"Collected from `{_shown_path(root)}`: {len(results)} readable run folders in "
          f"{len(found)} experiment(s), "
          f"{len(complete)} complete runs averaged. The claims are tested on each run's "
          f"per-example test predictions (margin {margin:g}); the rate-accuracy tables and plots "
          f"use the {METRIC_TITLES[metric]}. Only runs of one experiment (the same "
          "settings but model, level and seed) are averaged together. Method and caveats: "
          "docs/method.md.", ""]
    short = complete[pd.to_numeric(complete["epochs_done"]) < WINDOW]
    if metric == "paper_accuracy" and len(short):
        md += [f"**{len(short)} run(s) have fewer than {WINDOW} epochs.** Their paper accuracy is "
               "what the original's collector gives there: the CSV header is averaged in as a "
               "zero, sum / (n + 1). `--metric best10` averages their epochs instead.", ""]
    if len(models):
        md += _answer(found, complete, models, levels, out)
    if warnings:
        md += ["## Warnings", ""] + [f"- {line}" for line in warnings] + [""]
    md += _run_notes(results)
    md += ["## What was run", "", _what_was_run(results, found), ""]
    if len(models):
        md += ["## Verdicts at a glance", "",
               "Every model of every experiment. First level: the verdict of the first compressed "
               f"level against the reference within {100 * margin:.1f} points (non-inferior, "
               "inferior beyond the margin, or inconclusive with the resolution of the data); "
               "q\\*: the lowest level shown non-inferior in the fixed sequence from high to low "
               "quality (≤: every level tried passed; \"none shown\": the first level is inferior; "
               "\"inconclusive\": it is neither); noise bits: b(R) minus the bits at which the "
               "rate-accuracy curve crosses a(R) - margin, with a 90% bootstrap interval; the "
               "lowest level's difference with its 90% interval (significant when it excludes "
               "0). Each experiment's section below gives the tests behind these, and "
               "convergence.", "",
               markdown_table(verdicts.tests_summary(models)), ""]
    figures = baselines.example_figures(out)  # drawn from the data caches by the study
    if figures:
        md += ["## Examples at each level", "",
               "The same test examples at each level, as the caches the runs read hold them.", ""]
        md += [f"![{name}]({name})" for name in figures] + [""]

    # Plot names keep the domain and dataset; the key is added where several experiments share them.
    shared = found.groupby(["domain", "dataset"])["experiment"].transform("size").gt(1) if len(found) else []
    named = []
    for exp, several in zip(found.itertuples(index=False), shared):
        name = _slug(exp.domain, exp.dataset) + (f"_{exp.experiment}" if several else "")
        named.append((exp, name))
        md += _experiment_section(exp, name, complete, summary, rate, models, levels, grid_tables, out,
                                  metric, n_boot, alpha, _other_models_in(exp, found, complete), tost)

    md += contrasts.contrast_section(complete, margin, alpha, n_boot)
    md += codec_sections.sections(complete, out, margin, alpha, n_boot, markdown_table)
    md += baselines.baseline_section(out)
    md += ["## Runs not averaged in", "", "Unfinished runs, and runs left out (with the reason).", ""]
    apart = set_apart_table(results, root)
    md += [markdown_table(apart) if len(apart) else "None.", ""]
    if problems:
        md += ["## Unreadable run folders", ""] + [f"- {p}" for p in problems] + [""]
    md += _original_metrics(named, summary, complete, out, short)

    report = out / "report.md"
    write_text(report, "\n".join(md))
    return report
