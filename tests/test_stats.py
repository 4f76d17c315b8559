"""The paired tests on synthetic predictions with known answers (helmholtz.analysis.stats)."""
import numpy as np
import pytest
from scipy.stats import norm, t

from helmholtz.analysis import stats

SEEDS, EXAMPLES = 3, 2000   # the sizes docs/method.md states the rates for
LABELS = np.arange(EXAMPLES) % 10


def simulate(rng, accuracies, seeds=SEEDS, examples=EXAMPLES, agreement=0.8, seed_sd=0.003):
    """correct[level, seed, example] with known accuracies: every run answers example i
    right when a latent score, shared in part by all runs (agreement: runs of
    equal accuracy disagree on ~12% of examples at 0.85), is below the run's
    threshold; each run's accuracy varies around its level's by seed_sd."""
    easiness = rng.standard_normal(examples)
    out = np.empty((len(accuracies), seeds, examples), dtype=bool)
    for level, accuracy in enumerate(accuracies):
        for seed in range(seeds):
            threshold = norm.ppf(accuracy + seed_sd * rng.standard_normal())
            latent = np.sqrt(agreement) * easiness + np.sqrt(1 - agreement) * rng.standard_normal(examples)
            out[level, seed] = latent < threshold
    return out


def acceptance_rate(difference, sims=100, **options):
    """How often the first level after the reference is found non-inferior, when it is
    truly `difference` from the reference's 0.85."""
    rng = np.random.default_rng(7)
    accepted = 0
    for k in range(sims):
        correct = simulate(rng, [0.85, 0.85 + difference], **options)
        out = stats.cutoff(correct, LABELS, n_boot=400, seed=k)
        accepted += out["decisions"][1] == stats.NON_INFERIOR
    return accepted / sims


def test_a_level_truly_equal_to_the_reference_is_accepted_at_the_stated_rate():
    # docs/method.md: 0.82 at 3 seeds x 2,000 examples, seed SD 0.3 points (400 simulations);
    # 100 simulations have a standard error of 0.04.
    assert acceptance_rate(0.0) >= 0.82 - 3 * 0.04


def test_a_level_worse_by_the_margin_is_accepted_at_most_at_alpha():
    # the edge of the null hypothesis: wrongly accepted at most alpha (0.05), within three
    # standard errors of 100 simulations (0.022); seed noise large (1 point) and small
    for seed_sd in (0.003, 0.01):
        assert acceptance_rate(-stats.MARGIN, seed_sd=seed_sd) <= stats.ALPHA + 3 * 0.022


def test_a_level_worse_by_twice_the_margin_is_rejected():
    assert acceptance_rate(-2 * stats.MARGIN) <= stats.ALPHA


def test_a_sweep_that_drops_below_a_level_gives_that_level_as_the_cutoff():
    # lossless, 100, 50, 25 equal; 10 four points down; 1 twenty points down
    rng = np.random.default_rng(1)
    correct = simulate(rng, [0.85, 0.85, 0.85, 0.85, 0.81, 0.65], examples=5000)
    bits = {"payload": [20_000, 9_000, 5_000, 3_000, 2_000, 1_000],
            "total": [24_000, 12_000, 8_000, 6_000, 5_000, 4_000]}
    out = stats.cutoff(correct, np.arange(5000) % 10, bits, n_boot=1000)
    assert out["estimable"] and out["reason"] == ""
    assert out["decisions"] == [stats.REFERENCE, stats.NON_INFERIOR, stats.NON_INFERIOR,
                                stats.NON_INFERIOR, stats.NOT_SHOWN, stats.NOT_TESTED]
    assert out["q"] == 3 and not out["bound"]
    assert out["verdicts"] == [stats.REFERENCE, stats.NON_INFERIOR, stats.NON_INFERIOR,
                               stats.NON_INFERIOR, stats.INFERIOR, stats.INFERIOR]
    assert out["shown_bits"] == {"payload": 20_000 - 3_000, "total": 24_000 - 6_000}
    # The curve crosses a(R) - 2 points between 25 (3,000 payload bits) and 10 (2,000), about
    # halfway in log bits: noise bits between the two levels', the point inside its interval.
    for kind, (point, low, high, censored) in out["noise_bits"].items():
        between = sorted(bits[kind][0] - np.array(bits[kind][3:5]))
        assert between[0] < point < between[1] and low <= point <= high and not censored
        assert between[0] <= low and high <= between[1] + 1e-9  # 4 points down at 10 is clear
    assert out["worse"][-1] and out["worse"][4] and not out["worse"][1:4].any()


def test_fixed_sequence_stops_at_the_first_failure():
    q, decisions = stats.fixed_sequence([0.0, -0.01, -0.03, -0.005, -0.001], margin=0.02)
    assert q == 1
    assert decisions == [stats.REFERENCE, stats.NON_INFERIOR, stats.NOT_SHOWN, stats.NOT_TESTED,
                         stats.NOT_TESTED]  # -0.005 later on does not count
    q, decisions = stats.fixed_sequence([0.0, -0.03, -0.001], margin=0.02)
    assert q == 0 and decisions[1:] == [stats.NOT_SHOWN, stats.NOT_TESTED]
    q, _ = stats.fixed_sequence([0.0, -0.001, -0.019], margin=0.02)
    assert q == 2


def test_a_reference_at_chance_is_not_estimable():
    rng = np.random.default_rng(2)
    correct = simulate(rng, [0.11, 0.10, 0.02])  # ten balanced classes: chance 0.10
    out = stats.cutoff(correct, LABELS, {"total": [3, 2, 1]}, n_boot=300)
    assert not out["estimable"] and out["q"] is None and out["noise_bits"] == {}
    assert "not clearly above chance" in out["reason"] and "10.0%" in out["reason"]


def test_a_lowest_level_non_inferior_bounds_the_cutoff_instead_of_hiding_it():
    # every level tried is shown non-inferior: q* is the lowest, as a bound, and the noise
    # bits are a lower bound (the curve never crosses a(R) - margin), not "not estimable"
    rng = np.random.default_rng(3)
    correct = simulate(rng, [0.85, 0.85, 0.85])
    out = stats.cutoff(correct, LABELS, {"total": [3, 2, 1]}, n_boot=300)
    assert out["estimable"] and out["q"] == 2 and out["bound"]
    assert out["decisions"][1:] == [stats.NON_INFERIOR] * 2
    point, low, high, censored = out["noise_bits"]["total"]
    assert censored and point == pytest.approx(2) and low <= point <= high


def test_an_unresolved_first_level_is_inconclusive_not_a_cutoff():
    # 300 examples, seed SD 1.5 points: the first level truly equal, the interval far wider
    # than the margin: neither non-inferior nor inferior, and q* is not "the reference"
    rng = np.random.default_rng(8)
    correct = simulate(rng, [0.85, 0.85, 0.60], examples=300, seed_sd=0.015)
    out = stats.cutoff(correct, LABELS[:300], n_boot=400)
    assert out["verdicts"][1] == stats.INCONCLUSIVE and out["q"] == 0
    assert out["resolution"][1] > stats.MARGIN
    assert out["verdicts"][2] == stats.INFERIOR


def test_three_way_verdicts_and_equivalence():
    assert stats.three_way(-0.01, 0.01, 0.02) == stats.NON_INFERIOR
    assert stats.three_way(-0.05, -0.03, 0.02) == stats.INFERIOR
    assert stats.three_way(-0.03, 0.01, 0.02) == stats.INCONCLUSIVE
    assert stats.equivalent(-0.01, 0.01, 0.02) and not stats.equivalent(-0.01, 0.03, 0.02)


def test_the_bootstrap_is_paired_and_seeded():
    rng = np.random.default_rng(4)
    same = simulate(rng, [0.8])
    correct = np.concatenate([same, same])  # a level identical to the reference, run by run
    out = stats.cutoff(correct, LABELS, n_boot=300)
    assert out["difference_low"][1] == out["difference_high"][1] == 0
    again = stats.Bootstrap(correct, 300, seed=0).replicates
    assert np.array_equal(out["boot"].replicates, again)
    assert not np.array_equal(again, stats.Bootstrap(correct, 300, seed=1).replicates)


def test_seed_draws_spread_by_the_unbiased_seed_variance():
    rng = np.random.default_rng(5)
    weights = stats.seed_weights(rng, 200_000, 3)
    values = np.array([0.80, 0.83, 0.86])
    means = weights @ values / 3
    assert weights.sum(axis=1) == pytest.approx(3)
    assert means.var() == pytest.approx(values.var(ddof=1) / 3, rel=0.02)
    assert (stats.seed_weights(rng, 10, 1) == 1).all()  # one seed: no seed spread


def test_the_interval_widens_by_t_when_seed_noise_dominates():
    per_seed = np.array([-0.02, 0.0, 0.02])
    rng = np.random.default_rng(6)
    replicates = rng.normal(0, per_seed.std(ddof=1) / np.sqrt(3), 100_000)  # seed noise only
    low, high = stats.interval(0.0, replicates, per_seed, alpha=0.05)
    plain = np.percentile(replicates, 95)
    assert high / plain == pytest.approx(t.ppf(0.95, 2) / norm.ppf(0.95), rel=0.03)  # 2 df
    assert low == pytest.approx(-high, rel=0.03)
    wide_examples = rng.normal(0, 10 * per_seed.std(ddof=1), 100_000)  # seed noise negligible
    low, high = stats.interval(0.0, wide_examples, per_seed, alpha=0.05)
    assert high / np.percentile(wide_examples, 95) == pytest.approx(1, abs=0.01)


def test_chance_is_the_commonest_class():
    assert stats.chance_level(np.arange(100) % 10) == pytest.approx(0.1)
    assert stats.chance_level([0, 0, 0, 1]) == pytest.approx(0.75)


# ---------------------------------------------------------------- convergence

def test_epochs_to_target_is_the_first_epoch_that_reaches_it():
    assert stats.epochs_to_target([0.5, 0.7, 0.69, 0.9], 0.7) == 2
    assert stats.epochs_to_target([0.5, 0.6], 0.7) is None


def curve(rise, plateau, epochs=30, noise=0.0, rng=None):
    """A val curve rising linearly to `plateau` over `rise` epochs, then flat (+ noise)."""
    values = np.minimum(np.arange(1, epochs + 1) / rise, 1.0) * plateau
    return list(values + (noise * rng.standard_normal(epochs) if rng is not None else 0))


def test_a_level_whose_curve_rises_sooner_in_every_seed_is_faster():
    rng = np.random.default_rng(0)
    ref = [curve(10 + s % 2, 0.8, noise=0.002, rng=rng) for s in range(5)]
    sooner = [curve(5 + s % 2, 0.8, noise=0.002, rng=rng) for s in range(5)]
    same = [curve(10 + s % 2, 0.8, noise=0.002, rng=rng) for s in range(5)]
    out = stats.convergence([ref, sooner, same])
    assert out["verdict"] == [stats.REFERENCE, stats.FASTER, stats.NO_DIFFERENCE]
    assert out["auc_low"][1] > 0 and out["auc_low"][2] < 0 < out["auc_high"][2]
    assert (out["epochs_difference"][:, 1] < 0).all()
    assert [v[1] for v in out["target_verdicts"]] == [stats.FASTER] * 3


def test_a_verdict_that_turns_with_the_target_says_so():
    # the level is at 0.76 by epoch 5 (sooner to 90% and 95% of the reference's 0.80) but
    # reaches 0.78, the highest accuracy every run reaches, only at epoch 30: later than 10
    rng = np.random.default_rng(1)
    ref = [curve(10, 0.8, noise=0.001, rng=rng) for _ in range(4)]
    early = np.minimum(np.arange(1, 31) / 5, 1.0) * 0.76 + np.linspace(0, 0.02, 30)
    level = [list(early + 0.001 * rng.standard_normal(30)) for _ in range(4)]
    out = stats.convergence([ref, level])
    assert out["target_verdicts"][0][1] == stats.FASTER and out["target_verdicts"][2][1] == stats.SLOWER
    assert out["verdict"][1] == stats.DEPENDS


def test_the_paired_t_interval_over_few_seeds():
    mean, low, high = stats.paired_t([1.0, 2.0, 3.0], alpha=0.05)
    assert mean == 2 and high - mean == pytest.approx(t.ppf(0.95, 2) * 1 / np.sqrt(3))
    assert np.isnan(stats.paired_t([1.0])[1])


def test_convergence_with_runs_that_never_reach_the_target():
    ref = [curve(5, 0.8) for _ in range(3)]
    never = [curve(5, 0.5) for _ in range(3)]  # below 90% of the reference's best
    out = stats.convergence([ref, never])
    assert out["reached"][0].tolist() == [3, 0] and out["epochs"][0, 1] == 31
    assert out["target_verdicts"][0][1] == stats.SLOWER  # a lower bound on a slower level holds
    one = stats.convergence([[curve(5, 0.8)], [curve(3, 0.8)]])
    assert one["verdict"][1].startswith("not estimable (1 seed")


# ---------------------------------------------------------------- groups

def test_the_bootstrap_draws_whole_groups():
    # 60 notes, each heard as 12 identical clips: drawn by note, the spread is that of the
    # 60 notes; drawn clip by clip it would pass for 720 independent examples
    rng = np.random.default_rng(9)
    notes = simulate(rng, [0.8, 0.75], seeds=1, examples=60)
    clips = np.repeat(notes, 12, axis=2)
    groups = np.repeat(np.arange(60), 12)
    spread = lambda boot: boot.differences()[:, 1].std()  # noqa: E731
    by_note = spread(stats.Bootstrap(notes, 4000))
    assert spread(stats.Bootstrap(clips, 4000, groups=groups)) == pytest.approx(by_note, rel=0.1)
    assert spread(stats.Bootstrap(clips, 4000)) == pytest.approx(by_note / np.sqrt(12), rel=0.1)
    own = stats.Bootstrap(notes, 300, seed=2, groups=np.arange(60)).replicates
    assert np.array_equal(own, stats.Bootstrap(notes, 300, seed=2).replicates)
