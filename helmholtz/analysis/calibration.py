"""The calibration suite: every test and interval of helmholtz.analysis.stats on simulations with known answers.

Each check simulates paired predictions (or validation curves) whose true
accuracies are known, runs the report's own code on them many times and
measures how often it errs: the type-I error of non-inferiority at the
margin, each side's miss rate of the 90% intervals (the difference, the
bits where the rate-accuracy curve crosses a(R) - margin, the convergence
area), and the power at 0 and at -margin/4 against helmholtz.analysis.planner's
prediction; with 3, 5 and 10 seeds, heavy-tailed seed effects, clustered
examples and one diverged seed. Negative controls run deliberately broken
variants (no seed resampling; groups ignored under clustering; no t
widening) that the suite must flag.

A simulated run answers example i right when a latent score is below the
run's threshold Phi^-1(accuracy + seed effect). The score mixes what all runs
share (an example's easiness, part of it shared by its group: intra-group
correlation `icc`), what the runs of a compressed level share in a group
(`level_icc`: the codec hurts some notes more than others) and the run's own
noise; each part keeps the score standard normal, so the level's true
accuracy is exactly its nominal one.
"""
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.stats import norm

from helmholtz.analysis import planner, stats

REFERENCE_ACCURACY = 0.85
CURVE_ACCURACIES = (0.85, 0.85, 0.84, 0.80, 0.70)   # a sweep from the reference down
CURVE_BITS = (24_000, 12_000, 6_000, 3_000, 1_500)
TOLERANCE = 0.015                                   # 1.5 points, or 2.5 Monte-Carlo errors if more


@dataclass(frozen=True)
class Scenario:
    seeds: int = 3
    examples: int = 2000
    group_size: int = 1
    icc: float = 0.0           # share of an example's easiness shared by its group
    level_icc: float = 0.0     # share of a compressed level's run noise shared by a group
    seed_sd: float = 0.01      # seed-to-seed SD of a run's accuracy
    heavy: bool = False        # seed effects from t with 3 degrees of freedom
    diverged: bool = False     # seed 0 of the first compressed level at chance
    agreement: float = 0.8     # share of the score all runs share


def simulate(rng, accuracies, sc):
    """(correct L x S x N, groups N) with the true accuracies of `accuracies`."""
    levels, n = len(accuracies), sc.examples
    group = np.repeat(np.arange(n // sc.group_size + 1), sc.group_size)[:n]
    n_groups = group.max() + 1
    easiness = (math.sqrt(sc.icc) * rng.standard_normal(n_groups)[group]
                + math.sqrt(1 - sc.icc) * rng.standard_normal(n))
    shape = (levels, sc.seeds)
    effects = rng.standard_t(3, shape) / math.sqrt(3) if sc.heavy else rng.standard_normal(shape)
    threshold = norm.ppf(np.clip(np.asarray(accuracies)[:, None] + sc.seed_sd * effects, 1e-3, 1 - 1e-3))
    shared = np.zeros((levels, 1, n))
    shared[1:, 0] = rng.standard_normal((levels - 1, n_groups))[:, group]
    c = np.full((levels, 1, 1), math.sqrt(sc.level_icc))
    c[0] = 0  # the reference has no codec to hurt some groups more
    noise = np.sqrt(1 - c * c) * rng.standard_normal((levels, sc.seeds, n)) + c * shared
    correct = math.sqrt(sc.agreement) * easiness + math.sqrt(1 - sc.agreement) * noise < threshold[..., None]
    if sc.diverged:
        correct[1, 0] = rng.random(n) < 0.1
    return correct, (group if sc.group_size > 1 else None)


# ---------------------------------------------------------------- one cell

def _difference_runs(sc, accuracies, sims, n_boot, seed, groups=True, resample_seeds=True, widen=True):
    """(low, high) bounds of level 1 - reference over `sims` simulations, (sims x 2)."""
    rng = np.random.default_rng(seed)
    bounds = np.empty((sims, 2))
    for k in range(sims):
        correct, group = simulate(rng, accuracies, sc)
        boot = stats.Bootstrap(correct, n_boot, seed=k, groups=group if groups else None,
                               resample_seeds=resample_seeds)
        _, low, high = stats.level_intervals(boot, widen=widen)
        bounds[k] = low[1], high[1]
    return bounds


def _crossing_runs(sc, sims, n_boot, seed):
    rng = np.random.default_rng(seed)
    log_bits = np.log(CURVE_BITS)
    bounds = np.empty((sims, 2))
    for k in range(sims):
        correct, group = simulate(rng, CURVE_ACCURACIES, sc)
        boot = stats.Bootstrap(correct, n_boot, seed=k, groups=group)
        at, _ = stats.crossing(log_bits, boot.accuracy, stats.MARGIN)
        replicates, _ = stats.crossing(log_bits, boot.replicates, stats.MARGIN)
        per_seed, _ = stats.crossing(log_bits, boot.per_seed.T, stats.MARGIN)
        bounds[k] = stats.crossing_interval(at, replicates, per_seed)
    return bounds


def _curves(rng, rises, seeds, heavy, epochs=30):
    """Val curves (levels x seeds x epochs): plateau x (1 - exp(-t / rise)), the rise and
    the plateau varying by seed, plus epoch-to-epoch noise."""
    shape = (len(rises), seeds, 1)
    draw = (lambda: rng.standard_t(3, shape) / math.sqrt(3)) if heavy else (lambda: rng.standard_normal(shape))
    rise = np.asarray(rises, float)[:, None, None] * np.exp(0.25 * draw())
    plateau = 0.85 + 0.01 * draw()
    t = np.arange(1, epochs + 1)
    return plateau * (1 - np.exp(-t / rise)) + 0.005 * rng.standard_normal((len(rises), seeds, epochs))


def _convergence_runs(seeds, heavy, sims, seed, rises=(8.0, 6.0)):
    rng = np.random.default_rng(seed)
    truth = _curves(np.random.default_rng(seed + 1), rises, 200_000, heavy).mean(axis=2)
    true_difference = (truth[1] - truth[0]).mean()
    bounds = np.empty((sims, 2))
    for k in range(sims):
        curves = _curves(rng, rises, seeds, heavy)
        out = stats.convergence([list(map(list, level)) for level in curves])
        bounds[k] = out["auc_low"][1], out["auc_high"][1]
    return bounds, true_difference


def _rate(hits):
    hits = np.asarray(hits, bool)
    return hits.mean(), math.sqrt(max(hits.mean() * (1 - hits.mean()), 1e-4) / len(hits))


def _row(check, nominal, hits, kind="at most"):
    """A check's row: nominal, measured, its Monte-Carlo error and ok (kind "at most": an
    error rate no more than nominal + tolerance; "near": within it)."""
    measured, error = _rate(hits)
    tolerance = max(TOLERANCE, 2.5 * error)
    ok = measured <= nominal + tolerance if kind == "at most" else abs(measured - nominal) <= max(tolerance, 0.05)
    return dict(check=check, nominal=round(float(nominal), 4), measured=round(float(measured), 4),
                mc_error=round(float(error), 4), ok=bool(ok))


# ---------------------------------------------------------------- the suite

def scenarios():
    """(name, scenario) of the difference checks."""
    base = Scenario()
    clustered = dict(examples=1200, group_size=12, seed_sd=0.005, agreement=0.5)
    return [("3 seeds", base), ("5 seeds", replace(base, seeds=5)), ("10 seeds", replace(base, seeds=10)),
            ("3 seeds, heavy-tailed seed effects", replace(base, heavy=True, seed_sd=0.015)),
            ("clustered, icc 0.1", replace(base, icc=0.1, level_icc=0.1, **clustered)),
            ("clustered, icc 0.3", replace(base, icc=0.3, level_icc=0.3, **clustered))]


def predicted_power(sc, delta, seed=0):
    """helmholtz.analysis.planner's power for `sc`, from a large pilot of 30 seeds simulated alike."""
    pilot, group = simulate(np.random.default_rng(seed), [REFERENCE_ACCURACY, REFERENCE_ACCURACY],
                            replace(sc, seeds=30))
    parts = planner.components(pilot, group)
    return planner.power(delta, stats.MARGIN, sc.seeds, sc.examples, parts)


def run(sims=2000, n_boot=500, progress=None):
    """{"rows": [...], "negative_controls": [...]}: every check, and every broken variant
    with whether the suite flags it."""
    m, alpha = stats.MARGIN, stats.ALPHA
    at_margin = [REFERENCE_ACCURACY, REFERENCE_ACCURACY - m]
    rows, say = [], progress or (lambda text: None)
    for i, (name, sc) in enumerate(scenarios()):
        bounds = _difference_runs(sc, at_margin, sims, n_boot, seed=100 + i)
        rows += [_row(f"type-I error of non-inferiority at the margin, {name}", alpha, bounds[:, 0] > -m),
                 _row(f"difference interval misses above, {name}", alpha, bounds[:, 1] < -m)]
        say(rows[-1]["check"])
    base = Scenario()
    for j, delta in enumerate((0.0, -m / 4)):
        bounds = _difference_runs(base, [REFERENCE_ACCURACY, REFERENCE_ACCURACY + delta], sims, n_boot,
                                  seed=200 + j)
        rows.append(_row(f"power at {100 * delta:+.1f} points, 3 seeds x 2,000 (planner's prediction)",
                         predicted_power(base, delta), bounds[:, 0] > -m, kind="near"))
        say(rows[-1]["check"])
    diverged = _difference_runs(replace(base, diverged=True), [REFERENCE_ACCURACY] * 2, sims, n_boot, seed=300)
    rows.append(_row("a level with one diverged seed (at chance) shown non-inferior", alpha,
                     diverged[:, 0] > -m))
    true_at, _ = stats.crossing(np.log(CURVE_BITS), np.array(CURVE_ACCURACIES), m)
    for k, seeds in enumerate((3, 10)):
        bounds = _crossing_runs(replace(base, seeds=seeds), sims, n_boot, seed=400 + k)
        rows += [_row(f"noise-bits interval misses (crossing below), {seeds} seeds", alpha,
                      bounds[:, 0] > true_at),
                 _row(f"noise-bits interval misses (crossing above), {seeds} seeds", alpha,
                      bounds[:, 1] < true_at)]
        say(rows[-1]["check"])
    for k, (seeds, heavy) in enumerate(((3, False), (10, False), (3, True))):
        bounds, truth = _convergence_runs(seeds, heavy, sims, seed=500 + k)
        name = f"{seeds} seeds" + (", heavy-tailed" if heavy else "")
        rows += [_row(f"convergence area interval misses below, {name}", alpha, bounds[:, 0] > truth),
                 _row(f"convergence area interval misses above, {name}", alpha, bounds[:, 1] < truth)]
        say(rows[-1]["check"])

    controls = []
    broken = [("no seed resampling", replace(base, seed_sd=0.02), dict(resample_seeds=False)),
              ("groups ignored under clustering (icc 0.3, 10 seeds)", replace(scenarios()[-1][1], seeds=10),
               dict(groups=False)),
              ("no t widening (3 seeds)", replace(base, seed_sd=0.02), dict(widen=False))]
    for k, (name, sc, variant) in enumerate(broken):
        bounds = _difference_runs(sc, at_margin, sims, n_boot, seed=600 + k, **variant)
        row = _row(f"negative control: {name}: type-I error at the margin", alpha, bounds[:, 0] > -m)
        controls.append(dict(name=name, detected=not row["ok"], measured=row["measured"]))
        say(f"negative control: {name}")
    return {"rows": rows, "negative_controls": controls}


def table(result):
    """The suite's result as text: one line per check, then the negative controls."""
    lines = [f"{'check':<92} {'nominal':>7} {'measured':>8} {'MC err':>6}  ok"]
    lines += [f"{r['check']:<92} {r['nominal']:>7.3f} {r['measured']:>8.3f} {r['mc_error']:>6.3f}  "
              f"{'yes' if r['ok'] else 'NO'}" for r in result["rows"]]
    lines += ["", "negative controls (broken variants; each must be flagged):"]
    lines += [f"  {c['name']:<60} type-I {c['measured']:.3f}: {'detected' if c['detected'] else 'NOT DETECTED'}"
              for c in result["negative_controls"]]
    return "\n".join(lines)
