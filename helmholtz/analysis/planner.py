"""How many seeds and test examples a study needs: the power to show a level non-inferior.

A pilot's paired predictions (correct[level, seed, example], with the
examples' groups) give the variance components of a level's accuracy
difference to the reference:

- seed: the variance of a run's difference that another seed brings (a
  seed's draw of initial weights and batches), beyond what its test examples
  explain;
- shared: the variance, across groups of examples, of the difference that
  every seed shares (some examples are harder at the compressed level);
- run: the rest of a group's difference in one run (which examples one run
  happens to get right).

With S seeds and G groups of examples, the estimated difference has variance

    seed / S + (shared + run / S) / G

(groups of the size the pilot had; each example its own group where the data
name none). The lower bound of its 1 - 2 alpha interval, as helmholtz.analysis.stats
computes it (the two-way bootstrap's spread, which adds run / (S G), widened
by t with the degrees of freedom its seed part leaves), is compared with
-margin; the power averages over the spread the few seeds happen to show.
helmholtz/analysis/calibration.py checks these predictions against simulation.
"""
from dataclasses import dataclass

import numpy as np
from scipy import stats as sp

from helmholtz.analysis import stats


@dataclass
class Components:
    """Variance components of one level's difference (accuracy units squared), and the
    group size they were measured at."""
    seed: float
    shared: float
    run: float
    group_size: float = 1.0


def components(correct, groups=None):
    """Components of the difference between level 1 and level 0 of a pilot's correct
    (2 x S x N, S >= 2), examples summed within their groups."""
    correct = np.asarray(correct, float)
    n_seeds, n = correct.shape[1:]
    if n_seeds < 2:
        raise ValueError("a pilot needs at least 2 seeds to tell seed noise from test noise")
    group = stats.group_index(groups, n)
    n_groups = group.max() + 1
    size = n / n_groups
    # Per seed and group, the mean difference of the group's examples (S x G).
    d = np.zeros((n_seeds, n_groups))
    np.add.at(d.T, group, (correct[1] - correct[0]).T)
    d /= np.bincount(group, minlength=n_groups)
    # Two-way ANOVA of d = mean + seed effect + group effect + rest.
    by_seed, by_group = d.mean(axis=1), d.mean(axis=0)
    rest = d - by_seed[:, None] - by_group[None, :] + d.mean()
    run = (rest ** 2).sum() / max((n_seeds - 1) * (n_groups - 1), 1)
    seed = max(by_seed.var(ddof=1) - run / n_groups, 0.0)
    shared = max(by_group.var(ddof=1) - run / n_seeds, 0.0) if n_groups > 1 else 0.0
    return Components(seed=seed, shared=shared, run=run, group_size=size)


def power(delta, margin, n_seeds, n_examples, parts, alpha=stats.ALPHA, points=400):
    """The probability that a level truly `delta` from the reference is shown non-inferior
    within `margin` with n_seeds seeds and n_examples test examples (in groups of the
    pilot's size), by helmholtz.analysis.stats' interval: the two-way bootstrap's spread (its
    seed part as the seeds show it, a chi-square draw; the group part, which counts
    the seed x group part again), widened by t with the Welch-Satterthwaite degrees of
    freedom of the seed part. The seeds' spread is independent of their mean, so the
    power averages the normal probability over `points` quantiles of that draw."""
    n_groups = max(n_examples / parts.group_size, 1.0)
    seed_part = (parts.seed + parts.run / n_groups) / n_seeds   # the variance of the seeds' mean
    true_sd = np.sqrt(seed_part + parts.shared / n_groups)
    rest = parts.shared / n_groups + parts.run / (n_seeds * n_groups)
    if true_sd == 0:
        return float(delta > -margin)
    if n_seeds < 2 or seed_part == 0:
        width = sp.norm.ppf(1 - alpha) * np.sqrt(seed_part + rest)
        return float(sp.norm.cdf((delta + margin - width) / true_sd))
    shown = seed_part * sp.chi2.ppf((np.arange(points) + 0.5) / points, n_seeds - 1) / (n_seeds - 1)
    df = (shown + rest) ** 2 / (shown ** 2 / (n_seeds - 1))
    width = sp.t.ppf(1 - alpha, df) * np.sqrt(shown + rest)
    return float(sp.norm.cdf((delta + margin - width) / true_sd).mean())


def grid(parts, margin, delta, seeds=(3, 5, 10, 20), examples=(500, 2000, 10000), alpha=stats.ALPHA):
    """{(seeds, examples): power} over a grid of designs."""
    return {(s, n): power(delta, margin, s, n, parts, alpha) for s in seeds for n in examples}


def cheapest(powers, target, cost=lambda seeds, examples: seeds):
    """The design of `powers` that reaches `target` at the least cost (default: fewest
    seeds, then fewest examples), or None."""
    reaching = [design for design, p in powers.items() if p >= target]
    return min(reaching, key=lambda d: (cost(*d), d[1])) if reaching else None
