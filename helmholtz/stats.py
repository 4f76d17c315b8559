"""Paired statistics of accuracy across compression levels, on per-example predictions.

All runs of one model in one experiment predict the same test examples in the
same order, and every level is run with the same seeds, so the data of a
model is an array `correct[level, seed, example]` (True where the run's best
checkpoint classified the example right). Level 0 is the reference (lossless,
or the level with the most bits); the others follow from high to low quality.

- `Bootstrap`: a paired bootstrap over seeds AND test examples. Each replicate
  draws seeds (shared by all levels) and test examples (shared by all levels
  and seeds), jointly: the two-way ("pigeonhole", Owen 2007) bootstrap, which
  errs on the wide side. The seed draws are widened so that their spread is
  the unbiased seed variance, and `interval` widens the percentile interval
  by a t quantile with the degrees of freedom the few seeds leave
  (Welch-Satterthwaite), so three seeds do not pass for thirty.
- `cutoff`: non-inferiority within a margin fixed before the runs, tested
  level by level from high to low quality at one-sided alpha (fixed
  sequence: stop at the first level not shown non-inferior), giving the
  cutoff q*, its bootstrap range, and the noise bits b(R) - b(q*); or why the
  data do not identify a cutoff.
- `convergence`: epochs to a common absolute accuracy target, paired within
  seeds, with an interval from the same seed draws.

docs/method.md states the rules and their measured behaviour.
"""
import math

import numpy as np
from scipy import stats as sp

MARGIN = 0.02            # the default non-inferiority margin (absolute accuracy); docs/method.md
ALPHA = 0.05             # one-sided level of every test; intervals are two-sided 1 - 2 alpha
N_BOOT = 2000
TARGET_FRACTION = 0.95   # convergence target: this fraction of the reference's mean best val accuracy
_CHUNK = 256             # replicates per matrix product (bounds memory at 10,000 examples)

NON_INFERIOR, NOT_SHOWN, NOT_TESTED, REFERENCE = "non-inferior", "not shown", "not tested", "reference"


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


class Bootstrap:
    """Replicate accuracies of every level of `correct` (L x S x N, bool).

    accuracy: (L,) mean over seeds and examples; per_seed: (L, S);
    weights: (B, S) seed draws; replicates: (B, L), from the same seed and
    example draws for every level, so differences between levels are paired."""

    def __init__(self, correct, n_boot=N_BOOT, seed=0):
        correct = np.asarray(correct, dtype=bool)
        if correct.ndim != 3 or 0 in correct.shape:
            raise ValueError(f"correct must be levels x seeds x examples, got shape {correct.shape}")
        n_levels, n_seeds, n = correct.shape
        rng = np.random.default_rng(seed)
        self.n_seeds, self.n_examples = n_seeds, n
        self.accuracy = correct.mean(axis=(1, 2))
        self.per_seed = correct.mean(axis=2)
        self.weights = seed_weights(rng, n_boot, n_seeds)
        runs = correct.reshape(n_levels * n_seeds, n).T.astype(np.float64)  # examples x runs
        self.replicates = np.empty((n_boot, n_levels))
        for start in range(0, n_boot, _CHUNK):
            stop = min(start + _CHUNK, n_boot)
            examples = resample_counts(rng, stop - start, n).astype(np.float64)
            hits = (examples @ runs).reshape(stop - start, n_levels, n_seeds)
            self.replicates[start:stop] = np.einsum("bls,bs->bl", hits, self.weights[start:stop])
        self.replicates /= n_seeds * n

    def differences(self):
        """Replicates of accuracy(level) - accuracy(reference), (B, L)."""
        return self.replicates - self.replicates[:, [0]]


def interval(point, replicates, per_seed, alpha=ALPHA):
    """(low, high): the 1 - 2 alpha percentile interval of `replicates` about `point`,
    each side widened by t(1 - alpha, df) / z(1 - alpha).

    df (Welch-Satterthwaite) weighs the seed part of the replicates' variance,
    var(per_seed) / S with S - 1 degrees of freedom, against the rest (many
    examples: unlimited): with seed noise dominant and 3 seeds, df -> 2 and the
    interval widens by 1.8; with example noise dominant it stays as it is."""
    replicates, per_seed = np.asarray(replicates, float), np.asarray(per_seed, float)
    low, high = np.percentile(replicates, [100 * alpha, 100 * (1 - alpha)])
    widen = 1.0
    n_seeds = len(per_seed)
    seed_var = per_seed.var(ddof=1) / n_seeds if n_seeds > 1 else 0.0
    if seed_var > 0:
        rest = max(replicates.var() - seed_var, 0.0)
        df = (seed_var + rest) ** 2 / (seed_var ** 2 / (n_seeds - 1))
        widen = sp.t.ppf(1 - alpha, df) / sp.norm.ppf(1 - alpha)
    return point - widen * (point - low), point + widen * (high - point)


# ---------------------------------------------------------------- non-inferiority and q*

def chance_level(labels):
    """The accuracy of always answering the commonest class (1 / classes for a
    balanced test set)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64))
    return counts.max() / counts.sum()


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


def plug_in_cutoffs(differences, margin):
    """Per replicate (row of B x L differences), the index of the last level before the
    first whose difference is -margin or lower: where the cutoff lies in that replicate."""
    fails = differences[:, 1:] <= -margin
    return np.where(fails.any(axis=1), fails.argmax(axis=1), differences.shape[1] - 1)


def _quantiles(values, alpha):
    """The alpha and 1 - alpha quantiles, each a value that occurs (levels and their bits
    are discrete)."""
    return tuple(np.quantile(values, [alpha, 1 - alpha], method="inverted_cdf"))


def cutoff(correct, labels, bits=None, margin=MARGIN, alpha=ALPHA, n_boot=N_BOOT, seed=0):
    """The fixed-sequence non-inferiority tests of one model and its cutoff q*.

    correct: L x S x N (level 0 the reference, then high to low quality);
    labels: the test labels (for chance); bits: {kind: (L,) bits per sample}
    (e.g. payload and total). Returns a dict:
      accuracy, accuracy_low, accuracy_high, difference, difference_low,
      difference_high (L,): point and 1 - 2 alpha interval; decisions (L,);
      worse (L,): the level is significantly worse than the reference;
      q: index of q* or None, q_range: (high-quality end, low-quality end) of
      the plug-in cutoff over the replicates; noise_bits: {kind: (point, low,
      high)} or {} ; estimable, reason; resolution: the median distance from
      a difference to its lower bound (differences below it are not resolved);
      chance, above_chance (the reference's lower bound above chance + margin);
      boot: the Bootstrap (its seed draws serve the convergence).
    """
    boot = Bootstrap(correct, n_boot, seed)
    diffs = boot.differences()
    per_seed_diff = boot.per_seed - boot.per_seed[[0]]
    n_levels = len(boot.accuracy)
    acc_ci = [interval(boot.accuracy[i], boot.replicates[:, i], boot.per_seed[i], alpha)
              for i in range(n_levels)]
    point = boot.accuracy - boot.accuracy[0]
    diff_ci = [(0.0, 0.0)] + [interval(point[i], diffs[:, i], per_seed_diff[i], alpha)
                              for i in range(1, n_levels)]
    low, high = np.array([c[0] for c in diff_ci]), np.array([c[1] for c in diff_ci])
    q, decisions = fixed_sequence(low, margin)
    q_boot = plug_in_cutoffs(diffs, margin)
    chance = chance_level(labels)
    out = dict(accuracy=boot.accuracy, accuracy_low=np.array([c[0] for c in acc_ci]),
               accuracy_high=np.array([c[1] for c in acc_ci]), difference=point,
               difference_low=low, difference_high=high, decisions=decisions, worse=high < 0,
               q=q, q_range=_quantiles(q_boot, alpha), noise_bits={}, chance=chance,
               resolution=float(np.median(point[1:] - low[1:])) if n_levels > 1 else math.nan,
               estimable=True, reason="", boot=boot)
    out["above_chance"] = bool(out["accuracy_low"][0] > chance + margin)
    reason = ""
    if n_levels < 2:
        reason = "one level only: nothing to compare with the reference"
    elif not out["above_chance"]:
        reason = (f"the reference is not clearly above chance: its accuracy's lower bound, "
                  f"{out['accuracy_low'][0]:.1%}, is not above chance ({chance:.1%}) + the margin "
                  f"({100 * margin:.1f} points)")
    elif not out["worse"][-1]:
        reason = (f"the lowest level is not significantly worse than the reference (difference "
                  f"{100 * point[-1]:+.1f} points, 90% interval {100 * low[-1]:+.1f} to "
                  f"{100 * high[-1]:+.1f}): the data do not identify a cutoff")
    if reason:
        out.update(estimable=False, reason=reason, q=None)
        return out
    for kind, values in (bits or {}).items():
        values = np.asarray(values, dtype=float)
        if np.isfinite(values).all():
            saved = values[0] - values[q_boot]
            out["noise_bits"][kind] = (values[0] - values[q], *_quantiles(saved, alpha))
    return out


# ---------------------------------------------------------------- convergence

def epochs_to_target(val_acc, target):
    """The first epoch (from 1) whose val accuracy reaches `target`, or None."""
    for epoch, acc in enumerate(val_acc, 1):
        if acc >= target:
            return epoch
    return None


def convergence(epochs, num_epochs, weights, alpha=ALPHA):
    """Epochs to the target of each level minus the reference's, paired within seeds.

    epochs: L x S, nan where a run never reached the target (counted as its
    number of epochs + 1, a lower bound); num_epochs: L x S; weights: the
    bootstrap's seed draws (B x S). Returns a dict of (L,) arrays: mean epochs,
    difference, low, high, reached (seeds that reached the target), and
    verdict ("faster", "slower", "no difference resolved", or why not
    estimable)."""
    epochs, num_epochs = np.asarray(epochs, float), np.asarray(num_epochs, float)
    reached = np.isfinite(epochs)
    value = np.where(reached, epochs, num_epochs + 1)
    per_seed = value - value[[0]]
    n_seeds = value.shape[1]
    replicates = np.asarray(weights, float) @ per_seed.T / n_seeds
    diff = per_seed.mean(axis=1)
    out = dict(epochs=value.mean(axis=1), difference=diff, low=np.full(len(diff), np.nan),
               high=np.full(len(diff), np.nan), reached=reached.sum(axis=1), verdict=[REFERENCE])
    for i in range(1, len(diff)):
        if n_seeds < 2:
            out["verdict"].append("not estimable (1 seed: no seed-to-seed spread)")
            continue
        out["low"][i], out["high"][i] = interval(diff[i], replicates[:, i], per_seed[i], alpha)
        # A run that never reached the target counts as epochs + 1, a lower bound on its
        # epochs: it cannot make its level look faster, nor the reference look slower.
        if out["high"][i] < 0 and reached[i].all():
            verdict = "faster"
        elif out["low"][i] > 0 and reached[0].all():
            verdict = "slower"
        elif out["high"][i] < 0 or out["low"][i] > 0:
            verdict = "not estimable (some runs never reached the target)"
        else:
            verdict = "no difference resolved"
        out["verdict"].append(verdict)
    return out
