"""Paired statistics of accuracy across compression levels, on per-example predictions.

All runs of one model in one experiment predict the same test examples in the
same order, and every level is run with the same seeds, so the data of a
model is an array `correct[level, seed, example]` (True where the run's best
checkpoint classified the example right). Level 0 is the reference (lossless,
or the level with the most bits); the others follow from high to low quality.

- `Bootstrap`: a paired bootstrap over seeds AND groups of test examples.
  Each replicate draws seeds (shared by all levels) and groups of test
  examples (shared by all levels and seeds), jointly: the two-way
  ("pigeonhole", Owen 2007) bootstrap, which errs on the wide side. A group
  is the unit of dependent examples (the effect versions of one note); where
  the data name none, each example is its own. The seed draws are widened so
  that their spread is the unbiased seed variance, and `interval` widens the
  percentile interval by a t quantile with the degrees of freedom the few
  seeds leave (Welch-Satterthwaite), so three seeds do not pass for thirty.
- `cutoff`: per level a three-way verdict against the reference within a
  margin fixed before the runs (non-inferior, inferior beyond the margin, or
  inconclusive, with the resolution: how far the data can tell); the cutoff
  q* from the fixed sequence of levels shown non-inferior (from high to low
  quality, stopping at the first that is not); and the bits at which the
  rate-accuracy curve, interpolated in log bits, crosses a(R) - margin, with
  a bootstrap interval that holds its point estimate: the noise bits.
- `convergence`: on whole validation curves: the paired difference in the
  area under the validation-accuracy curve (primary) and epochs to several
  targets (sensitivity), with paired-t intervals over seeds.

helmholtz/analysis/calibration.py measures every interval and test here on
simulations with known answers; docs/method.md states the rules and their
measured behaviour.
"""
import math

import numpy as np
from scipy import stats as sp

MARGIN = 0.02            # the default non-inferiority margin (absolute accuracy); docs/method.md
ALPHA = 0.05             # one-sided level of every test; intervals are two-sided 1 - 2 alpha
N_BOOT = 2000
TARGET_FRACTIONS = (0.90, 0.95)  # convergence targets: these fractions of the reference's mean best
                                 # val accuracy, besides the highest accuracy every run reaches
_CHUNK = 256             # replicates per matrix product (bounds memory at 10,000 examples)

REFERENCE = "reference"
# The fixed sequence's gate: which levels count toward q*.
NON_INFERIOR, NOT_SHOWN, NOT_TESTED = "non-inferior", "not shown", "not tested"
# Each level's own three-way verdict against the reference.
INFERIOR, INCONCLUSIVE = "inferior", "inconclusive"
FASTER, SLOWER, NO_DIFFERENCE, DEPENDS = "faster", "slower", "no difference resolved", "depends on the target"


# ---------------------------------------------------------------- resampling

def resample_counts(rng, n_boot, n):
    """How often each of n items is drawn in each of n_boot resamples of size n (n_boot x n)."""
    draws = rng.integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n)


def seed_weights(rng, n_boot, n_seeds):
    """Seed draws (n_boot x S, each row summing to S), widened about 1 by sqrt(S / (S - 1)):
    a plain resample of S seeds spreads by the variance with divisor S; the
    widened one by the unbiased variance. One seed: all ones (no seed spread)."""
    counts = resample_counts(rng, n_boot, n_seeds).astype(float)
    if n_seeds < 2:
        return counts
    return 1 + math.sqrt(n_seeds / (n_seeds - 1)) * (counts - 1)


def group_index(groups, n):
    """groups as 0..G-1 (each example its own group when None)."""
    if groups is None:
        return np.arange(n)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise ValueError(f"groups must name the group of each of the {n} examples, got shape "
                         f"{groups.shape}")
    return np.unique(groups, return_inverse=True)[1]


class Bootstrap:
    """Replicate accuracies of every level of `correct` (L x S x N, bool).

    accuracy: (L,) mean over seeds and examples; per_seed: (L, S);
    weights: (B, S) seed draws; replicates: (B, L), from the same seed and
    group draws for every level, so differences between levels are paired.
    groups: (N,) the group of each example (None: each its own); a replicate
    draws G groups with replacement and takes every example of each drawn.
    resample_seeds=False holds the seeds fixed (a broken variant, for the
    calibration's negative controls only)."""

    def __init__(self, correct, n_boot=N_BOOT, seed=0, groups=None, resample_seeds=True):
        correct = np.asarray(correct, dtype=bool)
        if correct.ndim != 3 or 0 in correct.shape:
            raise ValueError(f"correct must be levels x seeds x examples, got shape {correct.shape}")
        n_levels, n_seeds, n = correct.shape
        rng = np.random.default_rng(seed)
        group = group_index(groups, n)
        n_groups = group.max() + 1
        self.n_seeds, self.n_examples, self.n_groups = n_seeds, n, n_groups
        self.accuracy = correct.mean(axis=(1, 2))
        self.per_seed = correct.mean(axis=2)
        self.weights = seed_weights(rng, n_boot, n_seeds)
        if not resample_seeds:
            self.weights = np.ones_like(self.weights)
        runs = correct.reshape(n_levels * n_seeds, n).T.astype(np.float64)  # examples x runs
        # Hits of each group (groups x runs): a replicate's draw of groups then weighs them.
        hits_by_group = np.zeros((n_groups, runs.shape[1]))
        np.add.at(hits_by_group, group, runs)
        sizes = np.bincount(group, minlength=n_groups).astype(np.float64)
        self.replicates = np.empty((n_boot, n_levels))
        for start in range(0, n_boot, _CHUNK):
            stop = min(start + _CHUNK, n_boot)
            drawn = resample_counts(rng, stop - start, n_groups).astype(np.float64)
            hits = (drawn @ hits_by_group).reshape(stop - start, n_levels, n_seeds)
            # Groups differ in size: a replicate's accuracy is its hits over its examples.
            self.replicates[start:stop] = (np.einsum("bls,bs->bl", hits, self.weights[start:stop])
                                           / (n_seeds * (drawn @ sizes))[:, None])

    def differences(self):
        """Replicates of accuracy(level) - accuracy(reference), (B, L)."""
        return self.replicates - self.replicates[:, [0]]


def interval(point, replicates, per_seed, alpha=ALPHA, widen=True):
    """(low, high): the 1 - 2 alpha percentile interval of `replicates` about `point`,
    each side widened by t(1 - alpha, df) / z(1 - alpha).

    df (Welch-Satterthwaite) weighs the seed part of the replicates' variance,
    var(per_seed) / S with S - 1 degrees of freedom, against the rest (many
    examples: unlimited): with seed noise dominant and 3 seeds, df -> 2 and the
    interval widens by 1.8; with example noise dominant it stays as it is.
    widen=False: the plain percentile interval (a broken variant, for the
    calibration's negative controls only)."""
    replicates, per_seed = np.asarray(replicates, float), np.asarray(per_seed, float)
    low, high = np.percentile(replicates, [100 * alpha, 100 * (1 - alpha)])
    factor = 1.0
    n_seeds = len(per_seed)
    seed_var = per_seed.var(ddof=1) / n_seeds if n_seeds > 1 else 0.0
    if seed_var > 0 and widen:
        rest = max(replicates.var() - seed_var, 0.0)
        df = (seed_var + rest) ** 2 / (seed_var ** 2 / (n_seeds - 1))
        factor = sp.t.ppf(1 - alpha, df) / sp.norm.ppf(1 - alpha)
    return point - factor * (point - low), point + factor * (high - point)


def paired_t(per_seed, alpha=ALPHA):
    """(mean, low, high): the 1 - 2 alpha paired-t interval of per-seed differences
    (nan bounds with one seed or none)."""
    values = np.asarray(per_seed, float)
    values = values[np.isfinite(values)]
    mean = values.mean() if len(values) else math.nan
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = sp.t.ppf(1 - alpha, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return mean, mean - half, mean + half


# ---------------------------------------------------------------- verdicts, q* and the crossing

def chance_level(labels):
    """The accuracy of always answering the commonest class (1 / classes for a
    balanced test set)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    return counts.max() / counts.sum()


def three_way(low, high, margin):
    """A level's verdict from its interval of accuracy - reference: non-inferior (the lower
    bound above -margin), inferior (the upper bound below -margin) or inconclusive."""
    if low > -margin:
        return NON_INFERIOR
    if high < -margin:
        return INFERIOR
    return INCONCLUSIVE


def equivalent(low, high, margin):
    """Two one-sided tests (TOST): the interval lies within (-margin, +margin)."""
    return bool(-margin < low and high < margin)


def fixed_sequence(lower_bounds, margin):
    """Test levels 1.. in order (index 0 is the reference): a level is non-inferior
    when its lower bound of accuracy - reference accuracy is above -margin;
    testing stops at the first that is not. Returns (q, decisions): q the index
    of the last non-inferior level before the first failure (0: none)."""
    decisions, q, failed = [REFERENCE], 0, False
    for i, bound in enumerate(lower_bounds[1:], 1):
        if failed:
            decisions.append(NOT_TESTED)
        elif bound > -margin:
            decisions.append(NON_INFERIOR)
            q = i
        else:
            decisions.append(NOT_SHOWN)
            failed = True
    return q, decisions


def crossing(log_bits, accuracy, margin):
    """Where the rate-accuracy curve, from the reference down and linear in log bits
    between levels, first falls to accuracy[0] - margin.

    log_bits: (L,) from the reference down; accuracy: (L,) or (B, L). Returns
    (log bits at the crossing, censored): censored where the curve stays above
    the threshold down to the lowest level (the crossing lies at or below its bits)."""
    acc = np.atleast_2d(np.asarray(accuracy, float))
    x = np.asarray(log_bits, float)
    threshold = acc[:, :1] - margin
    below = acc[:, 1:] <= threshold
    censored = ~below.any(axis=1)
    i = np.where(censored, acc.shape[1] - 1, below.argmax(axis=1) + 1)
    rows = np.arange(len(acc))
    a0, a1 = acc[rows, i - 1], acc[rows, i]
    step = np.where(a0 > a1, (a0 - threshold[:, 0]) / np.where(a0 > a1, a0 - a1, 1), 1.0)
    at = np.where(censored, x[-1], x[i - 1] + np.clip(step, 0, 1) * (x[i] - x[i - 1]))
    return (at, censored) if np.ndim(accuracy) == 2 else (float(at[0]), bool(censored[0]))


def crossing_interval(point, replicates, per_seed, alpha=ALPHA, widen=True):
    """(low, high) of log-bit crossings: the percentile interval of the replicates, widened
    by t for the few seeds as `interval` (per_seed: each seed's own crossing), stretched
    to hold the point estimate."""
    low, high = interval(point, replicates, per_seed, alpha, widen)
    return min(low, point), max(high, point)


def level_intervals(boot, alpha=ALPHA, widen=True):
    """(difference, low, high) of every level against the reference (index 0: zeros)."""
    diffs = boot.differences()
    per_seed_diff = boot.per_seed - boot.per_seed[[0]]
    point = boot.accuracy - boot.accuracy[0]
    bounds = [(0.0, 0.0)] + [interval(point[i], diffs[:, i], per_seed_diff[i], alpha, widen)
                             for i in range(1, len(point))]
    return point, np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])


def cutoff(correct, labels, bits=None, margin=MARGIN, alpha=ALPHA, n_boot=N_BOOT, seed=0,
           groups=None):
    """The verdicts of one model's levels against the reference, its cutoff q* and noise bits.

    correct: L x S x N (level 0 the reference, then high to low quality);
    labels: the test labels (for chance); bits: {kind: (L,) bits per sample}
    (e.g. payload and total); groups: (N,) each example's group. Returns a dict:
      accuracy, accuracy_low, accuracy_high, difference, difference_low,
      difference_high (L,): point and 1 - 2 alpha interval; verdicts (L,):
      three-way; resolution (L,): how far the data tell a difference (point to
      one-sided bound); decisions (L,): the fixed sequence toward q*; worse
      (L,): significantly worse than the reference; q: index of q* (0: no
      compressed level shown non-inferior) or None when not estimable;
      bound: q* is the lowest level tried (the cutoff may lie below it);
      noise_bits: {kind: (point, low, high, censored)}: b(R) minus the bits at
      which the curve crosses a(R) - margin, with its interval (censored: the
      curve stays above down to the lowest level, so these are lower bounds);
      shown_bits: {kind: b(R) - b(q*)}; estimable, reason; chance,
      above_chance; boot: the Bootstrap (its seed draws serve the convergence).
    """
    boot = Bootstrap(correct, n_boot, seed, groups)
    n_levels = len(boot.accuracy)
    acc_ci = [interval(boot.accuracy[i], boot.replicates[:, i], boot.per_seed[i], alpha)
              for i in range(n_levels)]
    point, low, high = level_intervals(boot, alpha)
    q, decisions = fixed_sequence(low, margin)
    chance = chance_level(labels)
    resolution = point - low
    out = dict(accuracy=boot.accuracy, accuracy_low=np.array([c[0] for c in acc_ci]),
               accuracy_high=np.array([c[1] for c in acc_ci]), difference=point,
               difference_low=low, difference_high=high, decisions=decisions, worse=high < 0,
               verdicts=[REFERENCE] + [three_way(low[i], high[i], margin) for i in range(1, n_levels)],
               resolution=resolution, q=q, bound=n_levels > 1 and q == n_levels - 1,
               noise_bits={}, shown_bits={}, chance=chance, estimable=True, reason="", boot=boot)
    out["above_chance"] = bool(out["accuracy_low"][0] > chance + margin)
    reason = ""
    if n_levels < 2:
        reason = "one level only: nothing to compare with the reference"
    elif not out["above_chance"]:
        reason = (f"the reference is not clearly above chance: its accuracy's lower bound, "
                  f"{out['accuracy_low'][0]:.1%}, is not above chance ({chance:.1%}) + the margin "
                  f"({100 * margin:.1f} points)")
    if reason:
        out.update(estimable=False, reason=reason, q=None, bound=False)
        return out
    for kind, values in (bits or {}).items():
        values = np.asarray(values, dtype=float)
        if not (np.isfinite(values).all() and (values > 0).all()):
            continue
        log_bits = np.log(values)
        at, censored = crossing(log_bits, boot.accuracy, margin)
        replicate_at, _ = crossing(log_bits, boot.replicates, margin)
        per_seed_at, _ = crossing(log_bits, boot.per_seed.T, margin)
        lo, hi = crossing_interval(at, replicate_at, per_seed_at, alpha)
        # Fewer bits at the crossing remove more: the interval's ends swap.
        out["noise_bits"][kind] = (values[0] - math.exp(at), values[0] - math.exp(hi),
                                   values[0] - math.exp(lo), censored)
        out["shown_bits"][kind] = values[0] - values[q]
    return out


# ---------------------------------------------------------------- convergence

def epochs_to_target(val_acc, target):
    """The first epoch (from 1) whose val accuracy reaches `target`, or None."""
    for epoch, acc in enumerate(val_acc, 1):
        if acc >= target:
            return epoch
    return None


def _direction(low, high, lower_is_faster):
    if not (np.isfinite(low) and np.isfinite(high)):
        return None
    if high < 0:
        return FASTER if lower_is_faster else SLOWER
    if low > 0:
        return SLOWER if lower_is_faster else FASTER
    return NO_DIFFERENCE


def convergence(curves, alpha=ALPHA, fractions=TARGET_FRACTIONS):
    """Convergence of each level against the reference, paired within seeds.

    curves: L x S lists of per-epoch val accuracies (level 0 the reference).
    Primary: the area under each run's val-accuracy curve over the epochs every
    run has, as its mean val accuracy over them (a level whose curve rises
    sooner has the larger area); its per-seed difference to the reference with
    a paired-t interval. Sensitivity: epochs to each target (the fractions of
    the reference's mean best val accuracy, and the highest accuracy every run
    reaches), paired-t too; a run that never reaches a target counts as its
    epochs + 1, a lower bound. The verdict is the primary's where every target
    gives the same answer (faster, slower, no difference resolved), else
    "depends on the target".

    Returns a dict: auc (L,), auc_difference, auc_low, auc_high; targets
    [(name, value)]; epochs, epochs_difference, epochs_low, epochs_high,
    reached: (T, L); verdict (L,)."""
    n_levels, n_seeds = len(curves), len(curves[0])
    length = min(len(c) for row in curves for c in row)
    auc = np.array([[np.mean(c[:length]) for c in row] for row in curves])
    best_ref = np.mean([max(c) for c in curves[0]])
    targets = [(f"{f:g} x reference best", f * best_ref) for f in fractions]
    targets.append(("reached by every run", min(max(c) for row in curves for c in row)))
    out = dict(auc=auc.mean(axis=1), targets=targets, verdict=[REFERENCE],
               auc_difference=np.zeros(n_levels), auc_low=np.full(n_levels, np.nan),
               auc_high=np.full(n_levels, np.nan))
    shape = (len(targets), n_levels)
    out.update(epochs=np.zeros(shape), epochs_difference=np.zeros(shape),
               epochs_low=np.full(shape, np.nan), epochs_high=np.full(shape, np.nan),
               reached=np.zeros(shape, int), target_verdicts=[[REFERENCE] for _ in targets])
    epochs = np.empty((len(targets), n_levels, n_seeds))
    for t, (_, target) in enumerate(targets):
        for lv in range(n_levels):
            for s, c in enumerate(curves[lv]):
                e = epochs_to_target(c, target)
                epochs[t, lv, s] = len(c) + 1 if e is None else e
                out["reached"][t, lv] += e is not None
    out["epochs"] = epochs.mean(axis=2)
    for lv in range(1, n_levels):
        d, lo, hi = paired_t(auc[lv] - auc[0], alpha)
        out["auc_difference"][lv], out["auc_low"][lv], out["auc_high"][lv] = d, lo, hi
        primary = _direction(lo, hi, lower_is_faster=False)
        sensitivity = []
        for t in range(len(targets)):
            d, lo, hi = paired_t(epochs[t, lv] - epochs[t, 0], alpha)
            out["epochs_difference"][t, lv], out["epochs_low"][t, lv], out["epochs_high"][t, lv] = d, lo, hi
            direction = _direction(lo, hi, lower_is_faster=True)
            # A run that never reached a target counts as a lower bound on its epochs: it
            # cannot make its level look faster, nor the reference look slower.
            if (direction == FASTER and out["reached"][t, lv] < n_seeds) or \
                    (direction == SLOWER and out["reached"][t, 0] < n_seeds):
                direction = None
            sensitivity.append(direction)
            out["target_verdicts"][t].append(direction or "not estimable (runs never reached it)")
        shown = [v for v in sensitivity if v is not None]
        if primary is None:
            out["verdict"].append("not estimable (1 seed: no seed-to-seed spread)")
        elif all(v == primary for v in shown):
            out["verdict"].append(primary)
        else:
            out["verdict"].append(DEPENDS)
    return out
