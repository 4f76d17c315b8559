"""Noise bits, rate-accuracy and the train x test grid on constructed curves."""
import json

import numpy as np
import pandas as pd
import pytest

from helmholtz import analysis
from helmholtz.errors import UsageError

BITS = {1: 1_000, 5: 2_000, 10: 3_000, 25: 5_000, 50: 7_000, 100: 12_000, "lossless": 24_000}


def results_of(curve, model="all-cnns", setting=0, complete=True, metric="paper_accuracy",
               experiment="1a2b3c4d5e6f", **extra):
    """Runs of one model: curve maps level -> per-seed accuracies (bits from BITS)."""
    rows = []
    for level, accs in curve.items():
        for seed, acc in enumerate(np.atleast_1d(accs)):
            rows.append(dict(experiment=experiment, domain="cifar", dataset="cifar10", model=model,
                             setting=setting, excluded="",
                             level=level, seed=seed, bits_per_sample=float(BITS[level]),
                             complete=complete, paper_accuracy=np.nan, test_accuracy=np.nan,
                             test_accuracy_at="{}", **extra) | {metric: float(acc)})
    return pd.DataFrame(rows)


def flat_then_dropping(last_flat):
    """0.80 at every level down to `last_flat`, then 0.10 lower per level below it."""
    levels = list(BITS)
    cut = levels.index(last_flat)
    return {level: 0.80 - 0.10 * max(0, cut - i) for i, level in enumerate(levels)}


def test_level_order_ints_ascending_lossless_last():
    assert analysis.sorted_levels(["lossless", "100", 5, 25, "1"]) == [1, 5, 25, 100, "lossless"]


@pytest.mark.parametrize("last_flat", [5, 25, 100])
def test_flat_curve_down_to_a_level_gives_the_bits_above_it(last_flat):
    table = analysis.noise_bits_table(results_of(flat_then_dropping(last_flat)))
    row = table.iloc[0]
    assert row["reference"] == "lossless"
    assert row["level"] == last_flat
    assert row["noise_bits"] == BITS["lossless"] - BITS[last_flat]
    assert row["noise_fraction"] == pytest.approx(1 - BITS[last_flat] / BITS["lossless"])


def test_eps_decides_which_levels_count():
    curve = {1: 0.5, 10: 0.785, 25: 0.795, 100: 0.80, "lossless": 0.80}
    strict = analysis.noise_bits_table(results_of(curve), eps=0.01).iloc[0]
    loose = analysis.noise_bits_table(results_of(curve), eps=0.02).iloc[0]
    exact = analysis.noise_bits_table(results_of(curve), eps=0.0).iloc[0]
    assert strict["level"] == 25 and loose["level"] == 10 and exact["level"] == 100
    assert loose["noise_bits"] > strict["noise_bits"] > exact["noise_bits"]


def test_a_level_exactly_eps_below_the_reference_counts():
    # mean(0.5, 0.5, 0.59) is 0.53 on paper but 0.5299999999999999 in floating point
    runs = results_of({25: [0.5, 0.5, 0.59], "lossless": [0.54] * 3})
    assert analysis.noise_bits_table(runs, eps=0.01).iloc[0]["level"] == 25


def test_curve_that_never_recovers_has_zero_noise_bits():
    curve = {1: 0.3, 5: 0.5, 25: 0.7, 100: 0.75, "lossless": 0.80}
    row = analysis.noise_bits_table(results_of(curve)).iloc[0]
    assert row["noise_bits"] == 0 and row["level"] == "lossless"


def test_cheapest_qualifying_level_wins_without_assuming_monotonicity():
    # a dip at 25 and 50 does not hide that 10 is as good as lossless
    curve = {5: 0.5, 10: 0.80, 25: 0.70, 50: 0.72, "lossless": 0.80}
    assert analysis.noise_bits_table(results_of(curve)).iloc[0]["level"] == 10


def test_without_lossless_the_level_with_most_bits_is_the_reference():
    row = analysis.noise_bits_table(results_of({5: 0.5, 25: 0.8, 100: 0.8})).iloc[0]
    assert row["reference"] == 100 and row["noise_bits"] == BITS[100] - BITS[25]
    assert "no lossless run" in row["note"]


def test_test_accuracy_metric_is_used_when_asked():
    paper = results_of({5: 0.5, 25: 0.8, "lossless": 0.8})
    test = results_of({5: 0.8, 25: 0.8, "lossless": 0.8}, metric="test_accuracy")
    both = paper.assign(test_accuracy=test["test_accuracy"])
    assert analysis.noise_bits_table(both).iloc[0]["level"] == 25
    assert analysis.noise_bits_table(both, metric="test_accuracy").iloc[0]["level"] == 5


def test_incomplete_runs_and_single_level_models_are_left_out():
    runs = pd.concat([
        results_of(flat_then_dropping(25)),
        results_of({25: 0.1}, complete=False),  # unfinished: must not drag 25 down
        results_of({25: 0.7}, model="cnns-dense-64", setting=1),
    ], ignore_index=True)
    runs.loc[runs["complete"].eq(False), "seed"] = 9
    table = analysis.noise_bits_table(runs)
    assert list(table["model"]) == ["all-cnns"]
    assert table.iloc[0]["level"] == 25


def test_one_seed_interval_collapses_to_the_point_and_says_so():
    row = analysis.noise_bits_table(results_of(flat_then_dropping(25))).iloc[0]
    assert row["ci_low"] == row["ci_high"] == row["noise_bits"]
    assert "1 seed" in row["note"]


def test_bootstrap_interval_contains_point_and_narrows_with_consistent_seeds():
    reference = [0.80, 0.80, 0.80]
    noisy = results_of({5: [0.5] * 3, 25: [0.70, 0.80, 0.90], 100: reference, "lossless": reference})
    steady = results_of({5: [0.5] * 3, 25: [0.795, 0.80, 0.805], 100: reference, "lossless": reference})
    wide = analysis.noise_bits_table(noisy).iloc[0]
    narrow = analysis.noise_bits_table(steady).iloc[0]
    for row in (wide, narrow):
        assert row["ci_low"] <= row["noise_bits"] <= row["ci_high"]
        assert row["noise_bits"] == BITS["lossless"] - BITS[25]
    assert narrow["ci_high"] - narrow["ci_low"] == 0
    assert wide["ci_high"] - wide["ci_low"] == BITS[100] - BITS[25]  # resamples below eps fall back to 100


def test_bootstrap_is_seeded():
    runs = results_of({5: [0.5] * 3, 25: [0.70, 0.80, 0.90], 100: [0.8] * 3, "lossless": [0.8, 0.79, 0.81]})
    first = analysis.noise_bits_table(runs, n_boot=200, seed=3)
    assert first.equals(analysis.noise_bits_table(runs, n_boot=200, seed=3))


def test_rate_accuracy_table_orders_levels_and_averages_seeds():
    rate = analysis.rate_accuracy(results_of({"lossless": [0.8, 0.9], 100: [0.7, 0.7, 0.7], 5: 0.5}))
    assert list(rate["level"]) == [5, 100, "lossless"]
    assert list(rate["n"]) == [1, 3, 2]
    assert list(rate["bits_per_sample"]) == [BITS[5], BITS[100], BITS["lossless"]]
    assert rate["accuracy_mean"].tolist() == pytest.approx([0.5, 0.7, 0.85])
    assert np.isnan(rate["accuracy_std"].iloc[0])
    assert rate["accuracy_std"].iloc[2] == pytest.approx(np.std([0.8, 0.9], ddof=1))


def test_results_read_back_from_csv_give_the_same_answer(tmp_path):
    runs = results_of(flat_then_dropping(25))
    runs.to_csv(tmp_path / "results.csv", index=False)
    back = pd.read_csv(tmp_path / "results.csv", dtype={"level": str, "experiment": str})
    assert analysis.noise_bits_table(back).equals(analysis.noise_bits_table(runs))


def test_train_test_grid_averages_seeds_and_fills_the_diagonal():
    runs = results_of({25: [0.8, 0.9], "lossless": 0.85}, metric="test_accuracy")
    runs["test_accuracy_at"] = [json.dumps({"lossless": 0.6, "5": 0.4}),
                                json.dumps({"lossless": 0.7, "5": 0.5}),
                                json.dumps({"25": 0.75})]
    grid = analysis.test_grid(runs)[("1a2b3c4d5e6f", "cifar", "cifar10", "all-cnns")]
    assert list(grid.index) == [25, "lossless"] and list(grid.columns) == [5, 25, "lossless"]
    assert grid.loc[25, "lossless"] == pytest.approx(0.65)
    assert grid.loc[25, 25] == pytest.approx(0.85)  # own level from test_accuracy
    assert grid.loc["lossless", "lossless"] == pytest.approx(0.85)
    assert grid.loc["lossless", 25] == pytest.approx(0.75)
    assert np.isnan(grid.loc["lossless", 5])


def test_no_grid_without_cross_level_tests():
    assert analysis.test_grid(results_of({25: 0.8, "lossless": 0.8})) == {}


@pytest.mark.parametrize("options", [dict(eps=-0.01), dict(eps=float("nan")), dict(metric="loss")])
def test_bad_options_are_usage_errors(options):
    with pytest.raises(UsageError):
        analysis.noise_bits_table(results_of({25: 0.8, "lossless": 0.8}), **options)


def test_runs_of_other_experiments_are_never_pooled():
    # The same model and levels in two experiments (say another learning rate): two curves,
    # n counts one experiment's seeds, and each gets its own noise bits.
    one = results_of(flat_then_dropping(25), experiment="aaaaaaaaaaaa")
    other = results_of({level: 0.3 for level in BITS}, experiment="bbbbbbbbbbbb")
    rate = analysis.rate_accuracy(pd.concat([one, other], ignore_index=True))
    assert len(rate) == 2 * len(BITS) and set(rate["n"]) == {1}
    lossless = rate[rate["level"] == "lossless"].set_index("experiment")["accuracy_mean"]
    assert lossless.to_dict() == pytest.approx({"aaaaaaaaaaaa": 0.8, "bbbbbbbbbbbb": 0.3})
    noise = analysis.noise_bits_table(pd.concat([one, other], ignore_index=True))
    assert dict(zip(noise["experiment"], noise["level"])) == {"aaaaaaaaaaaa": 25, "bbbbbbbbbbbb": 1}


def test_excluded_runs_are_not_averaged():
    runs = pd.concat([results_of({25: 0.8, "lossless": 0.8}),
                      results_of({25: 0.1}).assign(seed=5, excluded="non-finite loss")],
                     ignore_index=True)
    rate = analysis.rate_accuracy(runs)
    assert rate.set_index("level").loc[25, "n"] == 1
    assert rate.set_index("level").loc[25, "accuracy_mean"] == pytest.approx(0.8)


def test_a_table_without_experiments_is_refused():
    old = results_of({25: 0.8, "lossless": 0.8}).drop(columns="experiment")
    with pytest.raises(UsageError, match="collect the run folders again"):
        analysis.noise_bits_table(old)
