"""The verdict on each of the paper's claims, as sentences, and the tables of the paired tests.

Input: one model's row and its level rows from helmholtz.analysis.tests_table.
Differences are in percentage points with their 90% interval (each side a
one-sided 95% bound); a difference whose interval reaches 0 is never stated
as a finding.
"""
import pandas as pd

from helmholtz import stats
from helmholtz.analysis import format_level
from helmholtz.results import bits_text


# ---------------------------------------------------------------- numbers as text

def _points(d):
    """An accuracy difference in percentage points, signed."""
    return "-" if pd.isna(d) else f"{100 * d:+.1f}"


def _interval(low, high, scale=100, digits=1):
    if pd.isna(low) or pd.isna(high):
        return "-"
    return f"{scale * low:+.{digits}f} to {scale * high:+.{digits}f}"


def percent(a):
    return "-" if pd.isna(a) else f"{100 * a:.1f}%"


def _levels_text(levels):
    return ", ".join(format_level(v) for v in levels) or "none"


# ---------------------------------------------------------------- claims and verdicts

def no_loss(model, rows):
    """(a) No loss above q*, within the margin."""
    if rows.empty or not model.above_chance:
        return f"**Not estimable**: {model.reason}."
    margin = f"{100 * model.margin:.1f} points"
    first, ref = rows.iloc[1], format_level(model.reference)
    failed = rows[rows["decision"] == stats.NOT_SHOWN]
    if not model.estimable:
        passed = rows.loc[rows["decision"] == stats.NON_INFERIOR, "level"]
        return (f"**Not estimable**: {model.reason}. Levels shown non-inferior to {ref} within "
                f"{margin}: {_levels_text(passed)}.")
    if model.q_star == model.reference:
        return (f"**Not shown at any compressed level**: the first level tested, "
                f"{format_level(first.level)}, is not shown non-inferior to {ref} (difference "
                f"{_points(first.difference)} points, 90% interval "
                f"{_interval(first.difference_low, first.difference_high)}; margin {margin}), so "
                f"q\\* is the reference itself.")
    text = (f"**Supported down to q\\* = {format_level(model.q_star)}**: every level from "
            f"{format_level(first.level)} down to {format_level(model.q_star)} is non-inferior to "
            f"{ref} within {margin} (one-sided 95%, tested in order from high to low quality)")
    if len(failed):
        f = failed.iloc[0]
        text += (f"; {format_level(f.level)} is the first that is not (difference "
                 f"{_points(f.difference)} points, 90% interval "
                 f"{_interval(f.difference_low, f.difference_high)})")
    else:
        text += "; every compressed level passed, so the cutoff lies at or below the lowest level tried"
    return (text + f". Where the cutoff lies over the bootstrap replicates (5-95%): from "
            f"{format_level(model.q_high)} to {format_level(model.q_low)}.")


def loss_at_lowest(model, rows):
    """(b) A significant loss at the lowest level."""
    if rows.empty or not model.above_chance:
        return f"**Not estimable**: {model.reason}."
    low = rows.iloc[-1]
    numbers = (f"{format_level(low.level)}: {_points(low.difference)} points against "
               f"{format_level(model.reference)} (90% interval "
               f"{_interval(low.difference_low, low.difference_high)})")
    if low.worse:
        return f"**Significant loss** at the lowest level, {numbers}."
    return (f"**No significant loss** at the lowest level, {numbers}: the interval reaches 0, so "
            "no difference is claimed.")


def convergence(model, rows):
    """(c) Convergence: epochs to a common absolute target, paired within seeds."""
    if rows.empty:
        return f"**Not estimable**: {model.reason}."
    ref = rows.iloc[0]
    text = (f"Target: {percent(model.target)} val accuracy ({stats.TARGET_FRACTION:g} x the mean "
            f"best val accuracy of {format_level(model.reference)}), reached by {ref.reached} of "
            f"{ref.seeds} seeds there in {ref.epochs_to_target:.1f} epochs on average. ")
    at = rows[rows["level"] == model.q_star] if model.estimable and model.q_star != model.reference \
        else rows.iloc[0:0]
    if len(at):
        r = at.iloc[0]
        text += (f"At q\\* = {format_level(r.level)}: {r.epochs_to_target:.1f} epochs, difference "
                 f"{r.convergence_difference:+.1f} (90% interval "
                 f"{_interval(r.convergence_low, r.convergence_high, 1, 1)}): **{r.convergence}**. ")
    else:
        text += "**Not estimable at the cutoff**: no cutoff below the reference is identified. "
    by = {verdict: rows.loc[rows["convergence"] == verdict, "level"]
          for verdict in ("faster", "slower", "no difference resolved")}
    return text + (f"By level: faster at {_levels_text(by['faster'])}; slower at "
                   f"{_levels_text(by['slower'])}; no difference resolved at "
                   f"{_levels_text(by['no difference resolved'])}.")


def noise_bits(model):
    """(d) Noise bits b(R) - b(q*), payload and total, with their bootstrap range."""
    if not model.estimable:
        return f"**Not estimable**: {model.reason}."
    if model.q_star == model.reference:
        kind = "payload" if pd.notna(model.noise_payload) else "total"
        return (f"**None shown**: no compressed level is shown non-inferior, so no bits are shown "
                f"to be noise at these sizes; over the bootstrap replicates the cutoff would remove "
                f"up to {bits_text(getattr(model, f'noise_{kind}_high'))} {kind} bits per sample "
                f"(95th percentile) of b(R) = "
                f"{bits_text(getattr(model, f'bits_reference_{kind}'))}.")
    def one(kind, reference):
        point, low, high = (getattr(model, f"noise_{kind}{s}") for s in ("", "_low", "_high"))
        share = f", {point / reference:.1%} of b(R) = {bits_text(reference)}" if reference > 0 else ""
        return f"{bits_text(point)} (5-95% range {bits_text(low)} to {bits_text(high)}{share})"
    if pd.notna(model.noise_payload):
        text = (f"**{one('payload', model.bits_reference_payload)} payload bits per sample** "
                f"(the codec's coded data, headers and container left out); total bits of the "
                f"encoded files: {one('total', model.bits_reference_total)}.")
    else:
        text = (f"Payload bits were not recorded by these runs; total bits of the encoded files: "
                f"**{one('total', model.bits_reference_total)}**.")
    if model.q_star == model.lowest:
        text += " A lower bound: the cutoff may lie below the lowest level tried."
    return text


def architectures_table(models, levels, main):
    """(e) The same tests for the other models, one row per compressed level."""
    rows = []
    for model in models[models["model"] != main].itertuples(index=False):
        own = levels[levels["model"] == model.model]
        status = format_level(model.q_star) if model.estimable else "not estimable"
        if own.empty:
            rows.append({"model": model.model, "level": "-", "q*": status, "why": model.reason})
            continue
        ref = own.iloc[0]
        for r in own.iloc[1:].itertuples(index=False):
            rows.append({
                "model": model.model, "level": f"{format_level(r.level)} vs "
                                               f"{format_level(model.reference)}",
                "seeds": r.seeds, "acc. R": percent(ref.accuracy), "acc.": percent(r.accuracy),
                "difference, points (90%)": f"{_points(r.difference)} "
                                            f"({_interval(r.difference_low, r.difference_high)})",
                "within margin": "yes" if r.decision == stats.NON_INFERIOR else
                                 ("no" if r.decision == stats.NOT_SHOWN else "not tested"),
                "significant loss": "yes" if r.worse else "no",
                "epochs to target (90%)": f"{r.convergence_difference:+.1f} "
                                          f"({_interval(r.convergence_low, r.convergence_high, 1, 1)}): "
                                          f"{r.convergence}",
                "q*": status, "why": "" if model.estimable else model.reason})
    return pd.DataFrame(rows, columns=[
        "model", "level", "seeds", "acc. R", "acc.", "difference, points (90%)", "within margin",
        "significant loss", "epochs to target (90%)", "q*", "why"])


def level_table(rows, model):
    """The per-level tests of one model."""
    def bits(value):
        return bits_text(value) if pd.notna(value) else "-"
    return pd.DataFrame({
        "level": rows["level"].map(format_level),
        "payload bits": rows["bits_payload"].map(bits), "total bits": rows["bits_total"].map(bits),
        "test acc. % (90%)": [f"{100 * a:.2f} ({100 * lo:.2f} to {100 * hi:.2f})" for a, lo, hi in
                              zip(rows["accuracy"], rows["accuracy_low"], rows["accuracy_high"])],
        "difference, points (90%)": [
            "reference" if i == 0 else f"{_points(d)} ({_interval(lo, hi)})" for i, d, lo, hi in
            zip(rows["order"], rows["difference"], rows["difference_low"], rows["difference_high"])],
        f"within {100 * model.margin:.1f} points": rows["decision"],
        "significant loss": ["-" if i == 0 else ("yes" if w else "no")
                             for i, w in zip(rows["order"], rows["worse"])],
        # A run that never reached the target counts as its epochs + 1: a lower bound.
        "epochs to target (seeds reaching it)": [
            f"{'≥ ' if n < s else ''}{e:.1f} ({n}/{s})"
            for e, n, s in zip(rows["epochs_to_target"], rows["reached"], rows["seeds"])],
        "difference, epochs (90%)": [
            "reference" if i == 0 else f"{d:+.1f} ({_interval(lo, hi, 1, 1)}): {v}" for i, d, lo, hi, v in
            zip(rows["order"], rows["convergence_difference"], rows["convergence_low"],
                rows["convergence_high"], rows["convergence"])]})


def tests_summary(models):
    """One display row per model: the cutoff, noise bits and the lowest level's difference
    (scripts/collect.py prints it under each experiment's summary)."""
    def noise(model, kind):
        point = getattr(model, f"noise_{kind}")
        if not model.estimable or pd.isna(point):
            return "-"
        low, high = getattr(model, f"noise_{kind}_low"), getattr(model, f"noise_{kind}_high")
        if model.q_star == model.reference:
            return f"none shown (up to {bits_text(high)})"
        return f"{bits_text(point)} ({bits_text(low)} to {bits_text(high)})"
    return pd.DataFrame({
        "experiment": models["experiment"],
        "data": [f"{m.domain} / {m.dataset}" for m in models.itertuples(index=False)],
        "model": models["model"], "reference": models["reference"].map(format_level),
        "q*": [format_level(m.q_star) if m.estimable else "not estimable"
               for m in models.itertuples(index=False)],
        "q* range": [f"{format_level(m.q_high)} to {format_level(m.q_low)}" if m.estimable else "-"
                     for m in models.itertuples(index=False)],
        "noise bits, payload (5-95%)": [noise(m, "payload") for m in models.itertuples(index=False)],
        "noise bits, total (5-95%)": [noise(m, "total") for m in models.itertuples(index=False)],
        "lowest level, points (90%)": [
            "-" if pd.isna(m.lowest_difference) else
            f"{format_level(m.lowest)}: {_points(m.lowest_difference)} "
            f"({_interval(m.lowest_low, m.lowest_high)})" for m in models.itertuples(index=False)],
        "why not estimable": models["reason"].fillna("")})
