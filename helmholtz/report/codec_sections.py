"""The report's sections across codecs and against known sensor noise (helmholtz.report.write).

Runs of one model on one data set that differ only in their codec (config.json's
`codec`; none recorded is the domain's default) form a *codec family*; those that
differ only in `sensor_noise` form a *noise family*. Each member is still its own
experiment: nothing is averaged across codecs or noise levels.

- Across codecs: every codec's rate-accuracy curve on one plot, with the paired
  tests' 90% interval as a band, and per codec the cutoff q*, its noise bits
  (b(R) less the bits where the curve crosses a(R) - margin, as in the main
  report) and content bits (the bits at that crossing) with their 90% intervals
  (helmholtz.analysis.paired.tests_table). Lossless data are the same for every codec
  (PNG, FLAC), so a codec without lossless runs of its own is tested against the
  default codec's (the same seeds, paired example by example).
- Train x test across codecs (--test_codec): at each level, what a model trained on
  one codec's data does on the same test examples coded with another, with 90%
  intervals and the paired difference from its own codec's test data, judged
  three ways against the margin (helmholtz.analysis.stats.three_way).
- Known sensor noise: at each injected noise level the lossless bits, the
  estimated noise and content bits with their intervals, and the injected noise's
  own bits (config.json's `sensor_noise_bits`, its entropy: docs/method.md);
  whether the estimate grows with the injected noise, and what share of the
  added bits it recovers.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd

from helmholtz import domain as domains
from helmholtz.analysis import paired, stats
from helmholtz.analysis.paired import LOSSLESS, format_level
from helmholtz.analysis.results import bits_text
from helmholtz.data import codecs
from helmholtz.report import plots
from helmholtz.run.layout import CONFIG, read_json

FAMILY = ["domain", "dataset", "model"]


def _codec_of(row):
    """(codec name, sensor noise) of a results row, the domain's default codec where none is
    recorded."""
    settings = json.loads(row["experiment_settings"])
    named = (settings.get("codec") or {}).get("name")
    if named is None:
        try:
            named = codecs.default_codec(domains.load(row["domain"]))
        except Exception:  # a domain not importable here, or without codecs
            named = "default"
    return named, float(settings.get("sensor_noise", 0.0))


def _family_key(row, leave_out):
    settings = json.loads(row["experiment_settings"])
    for name in leave_out:
        settings.pop(name, None)
    return json.dumps(settings, sort_keys=True, default=str)


def _tag(runs, leave_out):
    runs = runs.copy()
    coded = [_codec_of(row) for _, row in runs.iterrows()]
    runs["codec"] = [c for c, _ in coded]
    runs["sensor_noise"] = [n for _, n in coded]
    runs["family"] = [_family_key(row, leave_out) for _, row in runs.iterrows()]
    return runs


def _with_shared_lossless(runs):
    """The runs plus, for every experiment without lossless runs of a model, the lossless
    runs of its family's other experiments, relabelled as its own."""
    extra = []
    for _, family in runs.groupby(FAMILY + ["family"], sort=False):
        lossless = family[family["level"] == LOSSLESS]
        if lossless.empty:
            continue
        source = lossless[lossless["experiment"] == lossless["experiment"].iloc[0]]
        for experiment, part in family.groupby("experiment", sort=False):
            if not (part["level"] == LOSSLESS).any():
                extra.append(source.assign(experiment=experiment, codec=part["codec"].iloc[0]))
    return pd.concat([runs, *extra], ignore_index=True) if extra else runs


def _bits_range(point, low, high, censored=False):
    if pd.isna(point):
        return "-"
    if censored:  # the curve never crossed: the noise bits are a lower bound
        return f"at least {bits_text(point)} (90% lower bound {bits_text(low)})"
    return f"{bits_text(point)} ({bits_text(low)} to {bits_text(high)})"


def _content(model):
    """Content bits as text: the reference's bits less the noise bits, with the interval;
    an upper bound where the noise bits are a lower bound (the curve never crossed)."""
    kind = model.bits_kind
    ref = getattr(model, f"bits_reference_{kind}")
    point, low, high = (ref - getattr(model, f"noise_{kind}{s}") for s in ("", "_high", "_low"))
    if getattr(model, f"noise_{kind}_censored", False):
        return f"at most {bits_text(point)} (90% upper bound {bits_text(high)})"
    return _bits_range(point, low, high)


def codec_section(complete, out, margin, alpha, n_boot, table):
    """Markdown lines of the cross-codec section; none where no family has two codecs."""
    runs = _tag(complete, ("codec",))
    lines = []
    for key, family in runs.groupby(FAMILY + ["family", "sensor_noise"], sort=True):
        if family["codec"].nunique() < 2:
            continue
        domain, dataset, model, _, noise = key
        models, levels = paired.tests_table(_with_shared_lossless(family), margin, alpha, n_boot)
        codec_of = dict(zip(family["experiment"], family["codec"]))
        if not lines:
            lines = ["## Across codecs", "",
                     "Each codec's runs are their own experiment; the lossless reference (PNG / "
                     "FLAC, the same data for every codec) is shared. Bits are payload bits per "
                     "sample (docs/method.md defines each codec's payload); accuracy is the test "
                     "accuracy of the best checkpoint with its 90% paired-bootstrap interval "
                     "(the band). Noise bits are b(R) less the bits where the curve crosses "
                     "a(R) - margin (linear in log bits, as in the main report), content bits "
                     "the bits at that crossing, with their 90% intervals; \"at least\" where "
                     "the curve stays above the threshold down to the lowest level. The "
                     "resolution is what the data resolve at the first level, in points (the "
                     "distance from its difference to its lower bound).", ""]
        name = "_".join(str(p) for p in (domain, dataset, model)) + (f"_noise{noise:g}" if noise else "")
        title = f"{domain} / {dataset}, {model}" + (f", sensor noise {noise:g}" if noise else "")
        path = plots.codec_curves(levels, codec_of, Path(out) / f"codecs_{name}.png",
                           f"Rate-accuracy by codec: {title}")
        lines += [f"### {title}", "", f"![rate-accuracy by codec]({Path(path).name})", ""]
        rows = []
        for m in models.itertuples(index=False):
            kind = m.bits_kind if isinstance(m.bits_kind, str) else "total"
            rows.append({"codec": codec_of.get(m.experiment, "?"),
                         "levels": m.levels, "q*": format_level(m.q_star) if m.estimable else
                         "not estimable", f"b(R), {kind}": bits_text(getattr(m, f"bits_reference_{kind}")),
                         "noise bits (90%)": _bits_range(getattr(m, f"noise_{kind}", np.nan),
                                                           getattr(m, f"noise_{kind}_low", np.nan),
                                                           getattr(m, f"noise_{kind}_high", np.nan),
                                                           getattr(m, f"noise_{kind}_censored", False))
                         if m.estimable else "-",
                         "content bits (90%)": _content(m) if m.estimable else "-",
                         "resolution, points": f"{100 * m.resolution:.1f}" if pd.notna(m.resolution)
                         else "-",
                         "note": m.reason if not m.estimable else (m.note or "")})
        lines += [table(pd.DataFrame(rows)), ""]
        points = levels.assign(codec=levels["experiment"].map(codec_of))
        points = points[["codec", "level", "bits_payload", "bits_total", "accuracy", "accuracy_low",
                         "accuracy_high"]]
        lines += [table(pd.DataFrame({
            "codec": points["codec"], "level": points["level"].map(format_level),
            "payload bits": points["bits_payload"].map(bits_text),
            "total bits": points["bits_total"].map(bits_text),
            "accuracy % (90%)": [f"{100 * a:.1f} ({100 * lo:.1f} to {100 * hi:.1f})"
                                 for a, lo, hi in zip(points["accuracy"], points["accuracy_low"],
                                                      points["accuracy_high"])]})), ""]
    return lines


def _cross_row(runs, level, alpha, n_boot):
    """The runs of one codec at one level (a seed each) on every codec's test data:
    ({test codec: (accuracy, low, high, difference, low, high)}, {test codec: payload
    bits}, the number of seeds); the difference is paired with the runs' own codec's
    test data (seeds and groups of examples drawn together). None without tests
    across codecs, or when the runs' test examples differ."""
    read = []
    for row in runs.itertuples(index=False):
        try:
            read.append((row, paired.read_predictions(row.run), read_json(Path(row.run) / CONFIG)))
        except (OSError, ValueError):
            continue
    suffix = f":{format_level(level)}"
    shared = set.intersection(*[{k[len("pred@"):-len(suffix)] for k in saved
                                 if k.startswith("pred@") and k.endswith(suffix)}
                                for _, saved, _ in read]) if read else set()
    if not shared or any(not np.array_equal(saved["labels"], read[0][1]["labels"])
                         for _, saved, _ in read):
        return None
    others = sorted(shared)
    own_key = f"pred@{format_level(level)}"
    labels = read[0][1]["labels"]
    correct = np.array([[saved[own_key] == saved["labels"]] +
                        [saved[f"pred@{c}{suffix}"] == saved["labels"] for c in others]
                        for _, saved, _ in read]).transpose(1, 0, 2)  # tests x seeds x examples
    boot = stats.Bootstrap(correct, n_boot, 0, read[0][1].get("group", np.arange(len(labels))))
    diff, diff_low, diff_high = stats.level_intervals(boot, alpha)
    codec = read[0][0].codec
    cells, bits = {}, {}
    for i, name in enumerate([codec] + others):
        low, high = stats.interval(boot.accuracy[i], boot.replicates[:, i], boot.per_seed[i], alpha)
        cells[name] = (boot.accuracy[i], low, high, diff[i], diff_low[i], diff_high[i])
        values = [(config.get("payload_bits_per_sample_across") or {}).get(name, {}).get(format_level(level))
                  for _, _, config in read]
        values = [float(v) for v in values if isinstance(v, (int, float))]
        bits[name] = float(np.mean(values)) if values else np.nan
    return cells, bits, len(read)


def cross_section(complete, out, margin, alpha, n_boot, table):
    """Markdown lines of the train x test grid across codecs; none where no run was tested
    on another codec's data (--test_codec)."""
    runs = _tag(complete, ("codec",))
    runs = runs[runs["level"] != LOSSLESS]
    lines = []
    for key, family in runs.groupby(FAMILY + ["family", "sensor_noise"], sort=True):
        domain, dataset, model, _, noise = key
        for level in paired.sorted_levels(family["level"])[::-1]:
            rows = {}
            for codec, part in family[family["level"] == level].groupby("codec", sort=True):
                got = _cross_row(part, level, alpha, n_boot)
                if got:
                    rows[codec] = got
            if not rows:
                continue
            if not lines:
                lines = ["## Train x test across codecs", "",
                         "Each model trained on one codec's data at a level, tested on the same "
                         "test examples coded with every codec at that level (`--test_codec`). "
                         "Accuracy with its 90% interval (seeds and groups of examples "
                         "resampled); the difference is paired with the model's own codec's test "
                         f"data, judged against the margin of {100 * margin:g} points: "
                         "non-inferior, inferior beyond it, or inconclusive. Test bits are the "
                         "test data's payload bits per sample.", ""]
            tested = sorted({c for cells, _, _ in rows.values() for c in cells})
            title = f"{domain} / {dataset}, {model}, level {format_level(level)}" + \
                (f", sensor noise {noise:g}" if noise else "")
            bits = {c: np.nanmean([b.get(c, np.nan) for _, b, _ in rows.values()]) for c in tested}
            acc = [{"train \\ test": "test bits/sample", **{c: bits_text(bits[c]) for c in tested},
                    "seeds": ""}]
            diff = []
            for codec, (cells, _, n) in rows.items():
                acc.append({"train \\ test": codec, "seeds": n, **{
                    c: (f"{100 * cells[c][0]:.1f} ({100 * cells[c][1]:.1f} to {100 * cells[c][2]:.1f})"
                        if c in cells else "-") for c in tested}})
                diff.append({"train \\ test": codec, **{
                    c: ("own" if c == codec else
                        f"{100 * cells[c][3]:+.1f} ({100 * cells[c][4]:+.1f} to {100 * cells[c][5]:+.1f}) "
                        f"{stats.three_way(cells[c][4], cells[c][5], margin)}" if c in cells else "-")
                    for c in tested}})
            heat = pd.DataFrame([[cells[c][0] if c in cells else np.nan for c in tested]
                                 for cells, _, _ in rows.values()], index=list(rows), columns=tested)
            name = "_".join(str(p) for p in (domain, dataset, model)) + \
                f"_{format_level(level)}" + (f"_noise{noise:g}" if noise else "")
            path = plots.grid(heat, model, family, Path(out) / f"codec_grid_{name}.png",
                              axes=("test codec", "train codec"))
            lines += [f"### {title}", "", "Test accuracy % (90%):", "", table(pd.DataFrame(acc)), "",
                      "Against the model's own codec, points (90%):", "", table(pd.DataFrame(diff)), "",
                      f"![train x test across codecs]({Path(path).name})", ""]
    return lines


def _injected_bits(family):
    """{sensor noise: mean injected noise bits per sample over the runs} (0 without noise)."""
    bits = {}
    for noise, part in family.groupby("sensor_noise"):
        values = []
        for folder in part["run"]:
            try:
                values.append(float(read_json(Path(folder) / CONFIG).get("sensor_noise_bits", 0.0)))
            except (OSError, ValueError):
                pass
        bits[noise] = float(np.mean(values)) if values else np.nan
    return bits


def noise_section(complete, margin, alpha, n_boot, table):
    """Markdown lines of the known-noise section; none where no family has two noise levels."""
    runs = _tag(complete, ("sensor_noise", "sensor_noise_bits"))
    lines = []
    for key, family in runs.groupby(FAMILY + ["family", "codec"], sort=True):
        if family["sensor_noise"].nunique() < 2:
            continue
        domain, dataset, model, _, codec = key
        models, _ = paired.tests_table(family, margin, alpha, n_boot)
        noise_of = dict(zip(family["experiment"], family["sensor_noise"]))
        injected = _injected_bits(family)
        if not lines:
            lines = ["## Known sensor noise", "",
                     "Noise of known size added to the sources before coding (docs/method.md): "
                     "the injected bits are its entropy after rounding and clipping, per sample. "
                     "The estimate is the noise bits of the main report at each noise level (b(R) "
                     "less the bits where the curve crosses a(R) - margin), with its 90% "
                     "interval. The estimator tracks the injected noise when the estimate grows "
                     "with it; the share is the estimate's growth over the injected bits' "
                     "growth from the lowest noise level.", ""]
        rows = []
        for m in sorted(models.itertuples(index=False), key=lambda m: noise_of[m.experiment]):
            kind = m.bits_kind if isinstance(m.bits_kind, str) else "total"
            point = getattr(m, f"noise_{kind}") if m.estimable else np.nan
            rows.append(dict(noise=noise_of[m.experiment], injected=injected[noise_of[m.experiment]],
                             reference=getattr(m, f"bits_reference_{kind}"), kind=kind, estimate=point,
                             low=getattr(m, f"noise_{kind}_low"), high=getattr(m, f"noise_{kind}_high"),
                             censored=getattr(m, f"noise_{kind}_censored", False),
                             content=_content(m) if m.estimable else "-",
                             q=format_level(m.q_star) if m.estimable else "not estimable",
                             reason="" if m.estimable else m.reason))
        base = rows[0]
        frame = pd.DataFrame({
            "sensor noise": [f"{r['noise']:g}" for r in rows],
            "injected noise bits": [bits_text(r["injected"]) for r in rows],
            "lossless bits": [f"{bits_text(r['reference'])} ({r['kind']})" for r in rows],
            "q*": [r["q"] for r in rows],
            "estimated noise bits (90%)": [_bits_range(r["estimate"], r["low"], r["high"], r["censored"]) for r in rows],
            "content bits (90%)": [r["content"] for r in rows],
            "estimate's growth / injected growth": [
                "-" if r is base or pd.isna(r["estimate"]) or pd.isna(base["estimate"])
                or r["injected"] == base["injected"] else
                f"{(r['estimate'] - base['estimate']) / (r['injected'] - base['injected']):.2f}"
                for r in rows],
            "note": [r["reason"] for r in rows]})
        estimates = [r["estimate"] for r in rows]
        known = [e for e in estimates if pd.notna(e)]
        if len(known) < 2:
            verdict = "fewer than two noise levels have an estimate: whether it tracks is not known"
        else:
            rises = all(b >= a for a, b in zip(known, known[1:]))
            # A step counts only where the intervals of the two levels do not overlap.
            ranged = [(r["low"], r["high"]) for r in rows if pd.notna(r["estimate"])]
            resolved = all(lo2 > hi1 for (_, hi1), (lo2, _) in zip(ranged, ranged[1:]))
            verdict = (("the estimate grows with the injected noise" if rises else
                        "the estimate does not grow with the injected noise")
                       + (" (each step beyond its intervals)" if resolved else
                          " (the steps lie within the estimates' intervals: inconclusive)"))
        lines += [f"### {domain} / {dataset}, {model}, codec {codec}", "", table(frame), "",
                  f"Monotone? {verdict}.", ""]
    return lines


def sections(complete, out, margin, alpha, n_boot, table):
    """Both sections' markdown lines (empty when there is nothing to compare); `table`
    renders a DataFrame as markdown (helmholtz.report.write.markdown_table)."""
    if complete.empty or "experiment_settings" not in complete:
        return []
    return codec_section(complete, out, margin, alpha, n_boot, table) + \
        cross_section(complete, out, margin, alpha, n_boot, table) + \
        noise_section(complete, margin, alpha, n_boot, table)
