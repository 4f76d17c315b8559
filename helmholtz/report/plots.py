"""The report's plots, as PNG files (matplotlib's Figure: no display, no global state).

Each function takes the tables of helmholtz.analysis.results / helmholtz.analysis.paired /
helmholtz.analysis.grids for one experiment, writes one file atomically and returns its
path, or None when there is nothing to plot.
"""
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from helmholtz import domain
from helmholtz.analysis.paired import format_level, sorted_levels
from helmholtz.data.cache import atomic_path
from helmholtz.run.layout import read_history


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def level_label(runs):
    """The label of the runs' levels, from their domain's spec (helmholtz.domain)."""
    names = runs[["domain", "level_name"]].dropna().drop_duplicates()
    return domain.level_label(*names.iloc[0]) if len(names) == 1 else "compression level"


def accuracy_vs_level(rate, runs, path, metric):
    levels = sorted_levels(rate["level"])
    position = {level: i for i, level in enumerate(levels)}
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for model, curve in rate.groupby("model", sort=False):
        ax.errorbar([position[v] for v in curve["level"]], 100 * curve["accuracy_mean"],
                    yerr=100 * curve["accuracy_std"].fillna(0), marker="o", capsize=3, label=model)
    ax.set_xticks(range(len(levels)), [format_level(v) for v in levels])
    ax.set(xlabel=level_label(runs), ylabel=f"{metric.replace('_', ' ')} (%)",
           title="Accuracy vs compression level (error bars: std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def accuracy_vs_bits(rate, path, metric):
    """Payload bits where every point has them, else total bits (the axis says which)."""
    payload = rate["payload_bits_per_sample"].notna().all() and len(rate)
    column = "payload_bits_per_sample" if payload else "bits_per_sample"
    rate = rate[rate[column] > 0]
    if rate.empty:
        return None
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for model, curve in rate.groupby("model", sort=False):
        curve = curve.sort_values(column)
        ax.errorbar(curve[column], 100 * curve["accuracy_mean"],
                    yerr=100 * curve["accuracy_std"].fillna(0), marker="o", capsize=3, label=model)
        for bits, acc, level in zip(curve[column], curve["accuracy_mean"], curve["level"]):
            ax.annotate(format_level(level), (bits, 100 * acc), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    what = "payload bits per sample (without headers)" if payload else "bits per sample (encoded bytes x 8)"
    ax.set(xlabel=what, ylabel=f"{metric.replace('_', ' ')} (%)", title="Rate-accuracy curve")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def rate_accuracy_bands(levels, models, path):
    """The first screen's plot of one data set: each model's test accuracy against bits
    per sample (payload where every level has them), with its 90% interval as a
    band, a(R) - margin as a dashed line, and each level marked by its verdict
    (filled: non-inferior, cross: inferior, open: inconclusive)."""
    payload = levels["bits_payload"].notna().all() and len(levels)
    column = "bits_payload" if payload else "bits_total"
    levels = levels[levels[column] > 0]
    if levels.empty:
        return None
    marks = {"non-inferior": dict(marker="o"), "inferior": dict(marker="x"),
             "inconclusive": dict(marker="o", markerfacecolor="none"), "reference": dict(marker="s")}
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    several = levels.groupby("model")["experiment"].nunique()
    for (experiment, model), curve in levels.groupby(["experiment", "model"], sort=False):
        curve = curve.sort_values(column)
        label = f"{model} (experiment {experiment})" if several[model] > 1 else model
        line, = ax.plot(curve[column], 100 * curve["accuracy"], label=label)
        ax.fill_between(curve[column], 100 * curve["accuracy_low"], 100 * curve["accuracy_high"],
                        color=line.get_color(), alpha=0.15, linewidth=0)
        for r in curve.itertuples(index=False):
            at = (getattr(r, column), 100 * r.accuracy)
            ax.plot(*at, color=line.get_color(), linestyle="none", **marks.get(r.verdict, {}))
            ax.annotate(format_level(r.level), at, fontsize=7, xytext=(3, 3), textcoords="offset points")
        margin = models.loc[(models["experiment"] == experiment) & (models["model"] == model), "margin"]
        reference = curve.loc[curve["order"] == 0, "accuracy"]
        if len(margin) and len(reference):
            ax.axhline(100 * (reference.iloc[0] - margin.iloc[0]), color=line.get_color(),
                       linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    what = "payload bits per sample (without headers)" if payload else "bits per sample (encoded bytes x 8)"
    ax.set(xlabel=what, ylabel="test accuracy (%)",
           title="Test accuracy vs bits (band: 90% interval; dashed: reference - margin)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return _save(fig, path)


def convergence_vs_level(summary, runs, path):
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
    ax.set(xlabel=level_label(runs), ylabel="convergence (0-based epoch index)",
           title="Convergence vs compression level (converged seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def learning_curves(runs, model, path):
    """Val accuracy per epoch by level: the mean over seeds, and a band from the lowest
    to the highest seed."""
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
        by_epoch = pd.concat(curves).assign(val_accuracy=lambda c: 100 * c["val_accuracy"]) \
            .groupby("epoch")["val_accuracy"]
        mean = by_epoch.mean()
        ax.plot(mean.index, mean.to_numpy(), color=color, label=format_level(level))
        if len(curves) > 1:
            ax.fill_between(mean.index, by_epoch.min().to_numpy(), by_epoch.max().to_numpy(),
                            color=color, alpha=0.15, linewidth=0)
        plotted = True
    if not plotted:
        return None
    ax.set(xlabel="epoch", ylabel="val accuracy (%)",
           title=f"Learning curves of {model} by {level_label(runs)} (mean; band: seed range)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def grid(table, model, runs, path, axes=None):
    """A train x test heatmap of accuracies (a fraction); rows and columns are levels, or
    with `axes` = (x label, y label) anything else (codecs), labelled as they are."""
    fig = Figure(figsize=(1.0 + 0.7 * table.shape[1], 1.0 + 0.5 * table.shape[0]))
    ax = fig.subplots()
    values = 100 * table.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    middle = (np.nanmin(values) + np.nanmax(values)) / 2
    for (i, j), value in np.ndenumerate(values):
        if not np.isnan(value):  # dark text on the light (high) end of viridis
            ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                    color="black" if value > middle else "white")
    tick = format_level if axes is None else str
    ax.set_xticks(range(table.shape[1]), [tick(v) for v in table.columns])
    ax.set_yticks(range(table.shape[0]), [tick(v) for v in table.index])
    if axes is None:
        label = level_label(runs)
        axes = (f"test {label}", f"train {label}")
    ax.set(xlabel=axes[0], ylabel=axes[1], title=f"{model}: test accuracy (%)")
    fig.colorbar(image, ax=ax)
    return _save(fig, path)


def confusions(matrices, classes, model, label, path):
    """One panel per level: {level: counts (true x predicted)}, shown as % of each true
    class, summed over seeds."""
    fig = Figure(figsize=(4.6 * len(matrices), 4.4))
    axes = np.atleast_1d(fig.subplots(1, len(matrices)))
    names = classes or [str(i) for i in range(next(iter(matrices.values())).shape[0])]
    for ax, (level, counts) in zip(axes, matrices.items()):
        share = 100 * counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=100)
        if len(names) <= 12:
            for (i, j), value in np.ndenumerate(share):
                if value >= 0.5:
                    ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=6,
                            color="white" if value > 50 else "black")
        ticks = range(len(names))
        ax.set_xticks(ticks, names, rotation=90, fontsize=6)
        ax.set_yticks(ticks, names, fontsize=6)
        accuracy = np.trace(counts) / max(counts.sum(), 1)
        ax.set(xlabel="predicted class", ylabel="true class",
               title=f"{label} {format_level(level)}: {accuracy:.1%} correct")
    fig.suptitle(f"{model}: confusion matrices on the test set (% of each true class, all seeds)",
                 fontsize=9)
    return _save(fig, path)


def codec_curves(levels, codec_of, path, title):
    """Every codec's test accuracy against payload bits, one curve each with its 90% band."""
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for experiment, curve in levels.groupby("experiment", sort=False):
        column = "bits_payload" if curve["bits_payload"].notna().all() else "bits_total"
        curve = curve[curve[column] > 0].sort_values(column)
        if curve.empty:
            continue
        x = curve[column].to_numpy(float)
        line, = ax.plot(x, 100 * curve["accuracy"], marker="o", label=codec_of[experiment])
        ax.fill_between(x, 100 * curve["accuracy_low"], 100 * curve["accuracy_high"],
                        color=line.get_color(), alpha=0.2)
    ax.set_xscale("log")
    ax.set(xlabel="payload bits per sample (without headers)", ylabel="test accuracy (%)",
           title=title)
    ax.grid(alpha=0.3, which="both")
    if ax.lines:  # no codec with a curve of its own: nothing to name
        ax.legend(fontsize=8)
    return _save(fig, path)
