"""The paired tests on synthetic predictions with known answers (helmholtz.stats)."""
import numpy as np
import pytest
from scipy.stats import norm, t

from helmholtz import stats

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
    assert out["q"] == 3
    assert out["noise_bits"]["payload"][0] == 20_000 - 3_000
    assert out["noise_bits"]["total"][0] == 24_000 - 6_000
    low, high = out["q_range"]
    assert low <= 3 <= high and high <= 4  # the plug-in cutoff never passes the clear drop
    for point, low_bits, high_bits in out["noise_bits"].values():
        assert low_bits <= point <= high_bits
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


def test_a_lowest_level_no_worse_than_the_reference_is_not_estimable():
    rng = np.random.default_rng(3)
    correct = simulate(rng, [0.85, 0.85, 0.85])
    out = stats.cutoff(correct, LABELS, {"total": [3, 2, 1]}, n_boot=300)
    assert not out["estimable"] and out["q"] is None
    assert "lowest level is not significantly worse" in out["reason"]
    assert out["decisions"][1:] == [stats.NON_INFERIOR] * 2  # the tests themselves still stand


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


def weights(n_seeds, n_boot=2000):
    return stats.seed_weights(np.random.default_rng(0), n_boot, n_seeds)


def test_a_level_that_reaches_the_target_sooner_in_every_seed_is_faster():
    epochs = np.array([[10, 12, 11, 13, 12], [6, 7, 6, 8, 7], [10, 13, 11, 12, 12]], dtype=float)
    out = stats.convergence(epochs, np.full(epochs.shape, 30), weights(5))
    assert out["verdict"] == [stats.REFERENCE, "faster", "no difference resolved"]
    assert out["difference"][1] == pytest.approx(-4.8)
    assert out["low"][1] < -4.8 < out["high"][1] < 0
    assert out["low"][2] < 0 < out["high"][2]


def test_convergence_with_runs_that_never_reach_the_target():
    nan = np.nan
    slow = stats.convergence(np.array([[5, 6, 5], [nan, nan, nan]]), np.full((2, 3), 20), weights(3))
    assert slow["epochs"][1] == 21 and slow["reached"].tolist() == [3, 0]
    assert slow["verdict"][1] == "slower"
    # a run that never arrives counts as 21 epochs, a lower bound: its level is never called
    # faster on it, however fast the other seeds were
    epochs = np.array([[18, 19, 19, 18, 19], [2, 2, 2, 2, nan]])
    partly = stats.convergence(epochs, np.full((2, 5), 20), weights(5))
    assert partly["high"][1] < 0
    assert partly["verdict"][1] == "not estimable (some runs never reached the target)"
    one = stats.convergence(np.array([[5.0], [3.0]]), np.full((2, 1), 20), weights(1))
    assert one["verdict"][1].startswith("not estimable (1 seed")
