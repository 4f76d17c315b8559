"""The verdict on each of the paper's claims, as sentences, and the tables of the paired tests.

Input: one model's row and its level rows from helmholtz.analysis.paired.tests_table.
Differences are in percentage points with their 90% interval (each side a
one-sided 95% bound). Each level's verdict is three-way (non-inferior,
inferior beyond the margin, inconclusive) with its resolution beside it; a
difference whose interval reaches 0 is never stated as a finding, and a bound
is printed with the digits that show on which side of 0 it lies.
"""
import pandas as pd

from helmholtz.analysis import stats
from helmholtz.analysis.paired import TARGETS, format_level
from helmholtz.analysis.results import bits_text


# ---------------------------------------------------------------- numbers as text

def _digits(*values):
    """One decimal, more where a value that is not 0 would print as 0."""
    small = [abs(v) for v in values if pd.notna(v) and v != 0]
    return 1 if not small or min(small) >= 0.05 else 2


def _points(d):
    """An accuracy difference in percentage points, signed."""
    return "-" if pd.isna(d) else f"{100 * d:+.{_digits(100 * d)}f}"


def _interval(low, high, scale=100, digits=None):
    if pd.isna(low) or pd.isna(high):
        return "-"
    digits = _digits(scale * low, scale * high) if digits is None else digits
    return f"{scale * low:+.{digits}f} to {scale * high:+.{digits}f}"


def percent(a):
    return "-" if pd.isna(a) else f"{100 * a:.1f}%"


def _levels_text(levels):
    return ", ".join(format_level(v) for v in levels) or "none"


def _numbers(row):
    """"difference -1.2 points, 90% interval -2.0 to -0.4" of a level row."""
    return (f"difference {_points(row.difference)} points, 90% interval "
            f"{_interval(row.difference_low, row.difference_high)}")


def verdict_text(row, margin):
    """A level's three-way verdict in words, with a significant loss inside the margin named."""
    if row.verdict == stats.NON_INFERIOR and row.worse:
        return "non-inferior, with a significant loss within the margin"
    if row.verdict == stats.INFERIOR:
        return f"inferior beyond the {100 * margin:.1f}-point margin"
    if row.verdict == stats.INCONCLUSIVE:
        loss = ", a significant loss of unresolved size" if row.worse else ""
        return (f"inconclusive{loss}: the data resolve {100 * row.resolution:.1f} points, the margin "
                f"is {100 * margin:g}")
    return row.verdict


# ---------------------------------------------------------------- claims and verdicts

def no_loss(model, rows):
    """(a) No loss above q*, within the margin."""
    if rows.empty or not model.above_chance:
        return f"**Not estimable**: {model.reason}."
    margin, ref = model.margin, format_level(model.reference)
    first = rows.iloc[1]
    if model.q_star == model.reference:
        if first.verdict == stats.INCONCLUSIVE:
            return (f"**Inconclusive: the data resolve {100 * first.resolution:.1f} points, the margin "
                    f"is {100 * margin:g}.** The first level tested, {format_level(first.level)}, is "
                    f"neither shown non-inferior to {ref} nor inferior beyond the margin "
                    f"({_numbers(first)}); no cutoff is identified. More seeds or test examples "
                    "would decide it (see the planner, docs/method.md).")
        return (f"**Not supported at any compressed level**: the first level tested, "
                f"{format_level(first.level)}, is inferior to {ref} beyond the "
                f"{100 * margin:.1f}-point margin ({_numbers(first)}).")
    passed = rows[(rows["decision"] == stats.NON_INFERIOR)]
    shown = (f"level {format_level(model.q_star)} is" if len(passed) == 1 else
             f"every level from {format_level(first.level)} down to {format_level(model.q_star)} is")
    text = (f"**Supported down to q\\* = {format_level(model.q_star)}**: {shown} non-inferior to "
            f"{ref} within {100 * margin:.1f} points (one-sided 95%, tested in order from high to "
            f"low quality)")
    close = passed.loc[passed["difference_low"].idxmin()]
    text += (f"; the closest call is {format_level(close.level)}, its lower bound "
             f"{_points(close.difference_low)} points, {100 * (close.difference_low + margin):.1f} "
             "inside the margin")
    losses = passed[passed["worse"]]
    if len(losses):
        text += ("; a significant loss within the margin at " +
                 ", ".join(f"{format_level(r.level)} ({_points(r.difference)} points, "
                           f"{_interval(r.difference_low, r.difference_high)})"
                           for r in losses.itertuples(index=False)))
    after = rows[rows["decision"] == stats.NOT_SHOWN]
    if len(after):
        f = after.iloc[0]
        text += f". The next level, {format_level(f.level)}, is {verdict_text(f, margin)} ({_numbers(f)})"
    else:
        text += ". Every compressed level passed, so the cutoff lies at or below the lowest level tried"
    return text + "."


def loss_at_lowest(model, rows):
    """(b) A significant loss at the lowest level."""
    if rows.empty or not model.above_chance:
        return f"**Not estimable**: {model.reason}."
    low = rows.iloc[-1]
    numbers = (f"{format_level(low.level)}: {_points(low.difference)} points against "
               f"{format_level(model.reference)} (90% interval "
               f"{_interval(low.difference_low, low.difference_high)}; {verdict_text(low, model.margin)})")
    if low.worse:
        return f"**Significant loss** at the lowest level, {numbers}."
    return (f"**No significant loss** at the lowest level, {numbers}: the interval reaches 0, so "
            "no difference is claimed.")


def _target_text(model, row, k):
    return (f"{getattr(model, f'target_{k}_name')} ({percent(getattr(model, f'target_{k}'))}): "
            f"{getattr(row, f'epochs_{k}_difference'):+.1f} epochs "
            f"({_interval(getattr(row, f'epochs_{k}_low'), getattr(row, f'epochs_{k}_high'), 1, 1)}), "
            f"{getattr(row, f'epochs_{k}_verdict')}")


def convergence(model, rows):
    """(c) Convergence on whole curves: the area under the val curve, paired within seeds,
    with epochs to several targets as its sensitivity."""
    if rows.empty:
        return f"**Not estimable**: {model.reason}."
    text = ("Primary: the paired difference in the area under the validation-accuracy curve (its "
            "mean over the epochs, in points; larger rises sooner), paired-t 90% interval over "
            "seeds; sensitivity: epochs to " + ", ".join(
                f"{getattr(model, f'target_{k}_name')} ({percent(getattr(model, f'target_{k}'))})"
                for k in range(TARGETS)) + ". A verdict only where all agree. ")
    focus = rows[rows["level"] == model.q_star] if model.q_star != model.reference else rows.iloc[0:0]
    row = focus.iloc[0] if len(focus) else rows.iloc[1]
    at = "q\\* = " if len(focus) else "the first level, "
    text += (f"At {at}{format_level(row.level)}: "
             f"area {_points(row.convergence_difference)} points "
             f"({_interval(row.convergence_low, row.convergence_high)}); "
             + "; ".join(_target_text(model, row, k) for k in range(TARGETS))
             + f": **{row.convergence}**. ")
    by = {v: rows.loc[rows["convergence"] == v, "level"]
          for v in (stats.FASTER, stats.SLOWER, stats.NO_DIFFERENCE, stats.DEPENDS)}
    return text + (f"By level: faster at {_levels_text(by[stats.FASTER])}; slower at "
                   f"{_levels_text(by[stats.SLOWER])}; no difference resolved at "
                   f"{_levels_text(by[stats.NO_DIFFERENCE])}; depends on the target at "
                   f"{_levels_text(by[stats.DEPENDS])}.")


def _noise(model, kind):
    """"2,600 (90% interval 1,900 to 3,100)" of a kind of noise bits, "at least" when censored."""
    point, low, high = (getattr(model, f"noise_{kind}{s}") for s in ("", "_low", "_high"))
    if getattr(model, f"noise_{kind}_censored"):
        return f"at least {bits_text(point)} (90% lower bound {bits_text(low)})"
    return f"{bits_text(point)} (90% interval {bits_text(low)} to {bits_text(high)})"


def noise_bits(model):
    """(d) Noise bits: b(R) minus the bits where the rate-accuracy curve crosses a(R) - margin."""
    if not model.estimable:
        return f"**Not estimable**: {model.reason}."
    kinds = [k for k in ("payload", "total") if pd.notna(getattr(model, f"noise_{k}"))]
    if not kinds:
        return "**Not estimable**: no level has a known size in bits."
    kind = kinds[0]
    reference = getattr(model, f"bits_reference_{kind}")
    text = (f"**{_noise(model, kind)} {kind} bits per sample** of b(R) = {bits_text(reference)}: "
            f"where the rate-accuracy curve (linear in log bits between levels) crosses a(R) - "
            f"{100 * model.margin:g} points, bootstrapped.")
    if "total" in kinds and kind != "total":
        text += f" Total bits of the encoded files: {_noise(model, 'total')}."
    if getattr(model, f"noise_{kind}_censored"):
        text += " The curve stays above the threshold down to the lowest level tried: a lower bound."
    shown = getattr(model, f"shown_{kind}")
    if model.q_star == model.reference:
        text += " No compressed level is shown non-inferior, so no bits are shown removable."
    else:
        text += (f" Shown removable by the tests (b(R) - b(q\\*), q\\* = {format_level(model.q_star)}): "
                 f"{bits_text(shown)}.")
    return text


def cutoff_text(model):
    """q* in words for the tables: a level, a bound, or why there is none."""
    if not model.estimable:
        return "not estimable"
    if model.q_star == model.reference:
        return ("inconclusive" if model.first_verdict == stats.INCONCLUSIVE else "none shown")
    return f"{'≤ ' if model.bound else ''}{format_level(model.q_star)}"


def architectures_table(models, levels, main):
    """(e) The same tests for the other models, one row per compressed level."""
    rows = []
    for model in models[models["model"] != main].itertuples(index=False):
        own = levels[levels["model"] == model.model]
        if own.empty:
            rows.append({"model": model.model, "level": "-", "q*": cutoff_text(model),
                         "why": model.reason})
            continue
        ref = own.iloc[0]
        for r in own.iloc[1:].itertuples(index=False):
            rows.append({
                "model": model.model, "level": f"{format_level(r.level)} vs "
                                               f"{format_level(model.reference)}",
                "seeds": r.seeds, "acc. R": percent(ref.accuracy), "acc.": percent(r.accuracy),
                "difference, points (90%)": f"{_points(r.difference)} "
                                            f"({_interval(r.difference_low, r.difference_high)})",
                "verdict": verdict_text(r, model.margin),
                "significant loss": "yes" if r.worse else "no",
                "convergence: area, points (90%)": f"{_points(r.convergence_difference)} "
                                                   f"({_interval(r.convergence_low, r.convergence_high)})"
                                                   f": {r.convergence}",
                "q*": cutoff_text(model), "why": "" if model.estimable else model.reason})
    return pd.DataFrame(rows, columns=[
        "model", "level", "seeds", "acc. R", "acc.", "difference, points (90%)", "verdict",
        "significant loss", "convergence: area, points (90%)", "q*", "why"])


def level_table(rows, model, tost=False):
    """The per-level tests of one model (tost: with the equivalence test's answer)."""
    def bits(value):
        return bits_text(value) if pd.notna(value) else "-"
    first = [i == 0 for i in rows["order"]]
    table = pd.DataFrame({
        "level": rows["level"].map(format_level),
        "payload bits": rows["bits_payload"].map(bits), "total bits": rows["bits_total"].map(bits),
        "test acc. % (90%)": [f"{100 * a:.2f} ({100 * lo:.2f} to {100 * hi:.2f})" for a, lo, hi in
                              zip(rows["accuracy"], rows["accuracy_low"], rows["accuracy_high"])],
        "difference, points (90%)": [
            "reference" if f else f"{_points(d)} ({_interval(lo, hi)})" for f, d, lo, hi in
            zip(first, rows["difference"], rows["difference_low"], rows["difference_high"])],
        f"verdict (margin {100 * model.margin:g} points)": [
            "-" if f else verdict_text(r, model.margin) for f, r in zip(first, rows.itertuples(index=False))],
        "toward q*": rows["decision"],
        "convergence: area, points (90%)": [
            "reference" if f else f"{_points(d)} ({_interval(lo, hi)}): {v}" for f, d, lo, hi, v in
            zip(first, rows["convergence_difference"], rows["convergence_low"],
                rows["convergence_high"], rows["convergence"])]})
    for k in range(TARGETS):
        # A run that never reached the target counts as its epochs + 1: a lower bound.
        table[f"epochs to {getattr(model, f'target_{k}_name')} (seeds reaching it)"] = [
            f"{'≥ ' if n < s else ''}{e:.1f} ({n}/{s})" for e, n, s in
            zip(rows[f"epochs_{k}"], rows[f"epochs_{k}_reached"], rows["seeds"])]
    if tost:
        table[f"equivalent within ±{100 * model.margin:g} (TOST)"] = [
            "-" if f else ("yes" if e else "no") for f, e in zip(first, rows["equivalent"])]
    return table


def tests_summary(models):
    """One display row per model: the cutoff, the first level's verdict, noise bits and the
    lowest level's difference (scripts/collect.py prints it under each experiment's summary)."""
    def noise(model, kind):
        if not model.estimable or pd.isna(getattr(model, f"noise_{kind}")):
            return "-"
        return _noise(model, kind)

    def first(model):
        if pd.isna(model.first_verdict) or not model.estimable:
            return "-"
        if model.first_verdict == stats.INCONCLUSIVE:
            return (f"inconclusive: the data resolve {100 * model.resolution:.1f} points, the "
                    f"margin is {100 * model.margin:g}")
        return model.first_verdict
    return pd.DataFrame({
        "experiment": models["experiment"],
        "data": [f"{m.domain} / {m.dataset}" for m in models.itertuples(index=False)],
        "model": models["model"], "reference": models["reference"].map(format_level),
        "first level": [first(m) for m in models.itertuples(index=False)],
        "q*": [cutoff_text(m) for m in models.itertuples(index=False)],
        "noise bits, payload (90%)": [noise(m, "payload") for m in models.itertuples(index=False)],
        "noise bits, total (90%)": [noise(m, "total") for m in models.itertuples(index=False)],
        "lowest level, points (90%)": [
            "-" if pd.isna(m.lowest_difference) else
            f"{format_level(m.lowest)}: {_points(m.lowest_difference)} "
            f"({_interval(m.lowest_low, m.lowest_high)})" for m in models.itertuples(index=False)],
        "why not estimable": models["reason"].fillna("")})


def headline(model, rows):
    """The verdicts of one model in a few words each, for the report's first screen."""
    if rows.empty or not model.estimable:
        return f"**{model.model}**: not estimable: {model.reason}."
    first, low = rows.iloc[1], rows.iloc[-1]
    if model.q_star != model.reference:
        cutoff = (f"no loss beyond the margin down to q\\* = {format_level(model.q_star)}"
                  + (" (every level tried: the cutoff may lie lower)" if model.bound else ""))
    else:
        cutoff = (f"no compressed level shown non-inferior; {format_level(first.level)} is "
                  f"{verdict_text(first, model.margin)}")
    conv = rows[rows["level"] == model.q_star] if model.q_star != model.reference else rows.iloc[1:2]
    kind = "payload" if pd.notna(model.noise_payload) else "total"
    noise = (f"noise bits {_noise(model, kind)} {kind} bits per sample"
             if pd.notna(getattr(model, f"noise_{kind}")) else "noise bits not estimable")
    return (f"**{model.model}** ({int(model.seeds)} seeds x {int(model.examples)} test examples in "
            f"{int(model.groups)} groups, margin {100 * model.margin:g} points): {cutoff}; lowest "
            f"level {format_level(low.level)}: {_points(low.difference)} points "
            f"({_interval(low.difference_low, low.difference_high)}), {verdict_text(low, model.margin)}; "
            f"convergence at {format_level(conv.iloc[0].level)}: {conv.iloc[0].convergence}; {noise}.")
