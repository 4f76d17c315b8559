"""Rate-accuracy, the paired tests of each model (cutoff q*, noise bits, convergence) and the
train x test grid, on constructed curves and run folders."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from helmholtz.analysis import grids, paired, stats, verdicts
from helmholtz.analysis.results import collect
from helmholtz.errors import UsageError
from helpers import write_history

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
    assert paired.sorted_levels(["lossless", "100", 5, 25, "1"]) == [1, 5, 25, 100, "lossless"]


def test_rate_accuracy_table_orders_levels_and_averages_seeds():
    rate = paired.rate_accuracy(results_of({"lossless": [0.8, 0.9], 100: [0.7, 0.7, 0.7], 5: 0.5}))
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
    assert paired.rate_accuracy(back).equals(paired.rate_accuracy(runs))


def test_train_test_grid_averages_seeds_and_fills_the_diagonal():
    runs = results_of({25: [0.8, 0.9], "lossless": 0.85}, metric="test_accuracy")
    runs["test_accuracy_at"] = [json.dumps({"lossless": 0.6, "5": 0.4}),
                                json.dumps({"lossless": 0.7, "5": 0.5}),
                                json.dumps({"25": 0.75})]
    grid = grids.test_grid(runs)[("1a2b3c4d5e6f", "cifar", "cifar10", "all-cnns")]
    assert list(grid.index) == [25, "lossless"] and list(grid.columns) == [5, 25, "lossless"]
    assert grid.loc[25, "lossless"] == pytest.approx(0.65)
    assert grid.loc[25, 25] == pytest.approx(0.85)  # own level from test_accuracy
    assert grid.loc["lossless", "lossless"] == pytest.approx(0.85)
    assert grid.loc["lossless", 25] == pytest.approx(0.75)
    assert np.isnan(grid.loc["lossless", 5])


def test_no_grid_without_cross_level_tests():
    assert grids.test_grid(results_of({25: 0.8, "lossless": 0.8})) == {}


@pytest.mark.parametrize("options", [dict(margin=-0.01), dict(margin=0), dict(margin=1.5),
                                     dict(margin=float("nan")), dict(metric="loss")])
def test_bad_options_are_usage_errors(options):
    with pytest.raises(UsageError):
        paired.check_options(**options)


def test_runs_of_other_experiments_are_never_pooled():
    # The same model and levels in two experiments (say another learning rate): two curves,
    # n counts one experiment's seeds, and each gets its own noise bits.
    one = results_of(flat_then_dropping(25), experiment="aaaaaaaaaaaa")
    other = results_of({level: 0.3 for level in BITS}, experiment="bbbbbbbbbbbb")
    rate = paired.rate_accuracy(pd.concat([one, other], ignore_index=True))
    assert len(rate) == 2 * len(BITS) and set(rate["n"]) == {1}
    lossless = rate[rate["level"] == "lossless"].set_index("experiment")["accuracy_mean"]
    assert lossless.to_dict() == pytest.approx({"aaaaaaaaaaaa": 0.8, "bbbbbbbbbbbb": 0.3})


def test_excluded_runs_are_not_averaged():
    runs = pd.concat([results_of({25: 0.8, "lossless": 0.8}),
                      results_of({25: 0.1}).assign(seed=5, excluded="non-finite loss")],
                     ignore_index=True)
    rate = paired.rate_accuracy(runs)
    assert rate.set_index("level").loc[25, "n"] == 1
    assert rate.set_index("level").loc[25, "accuracy_mean"] == pytest.approx(0.8)


def test_a_table_without_experiments_is_refused():
    old = results_of({25: 0.8, "lossless": 0.8}).drop(columns="experiment")
    with pytest.raises(UsageError, match="collect the run folders again"):
        paired.rate_accuracy(old)


# ---------------------------------------------------------------- paired tests on run folders

EXAMPLES = 3000
LABELS = np.arange(EXAMPLES) % 10


def write_runs(root, curve, seeds=(0, 1, 2), model="all-cnns", payload=True, reaches=None, seed=0):
    """Complete run folders of one model whose predictions have the accuracies of `curve`
    (level -> accuracy), sharing which examples are hard. reaches: level -> the epoch
    its val accuracy jumps from 0.3 to its accuracy (default 5)."""
    rng = np.random.default_rng(seed)
    easiness = rng.standard_normal(EXAMPLES)
    for level, accuracy in curve.items():
        for s in seeds:
            folder = root / model / f"quality_{level}" / f"seed_{s}"
            folder.mkdir(parents=True)
            config = dict(domain="cifar", dataset="cifar10", model=model, setting=0,
                          level_name="quality", level=level, seed=s, num_epoch=12,
                          bits_per_sample=float(BITS[level]))
            if payload:
                config["payload_bits_per_sample"] = float(BITS[level]) - 500
            (folder / "config.json").write_text(json.dumps(config))
            jump = (reaches or {}).get(level, 5)
            write_history(folder, [0.3] * (jump - 1) + [accuracy] * (13 - jump), 1.0)
            right = np.sqrt(0.9) * easiness + np.sqrt(0.1) * rng.standard_normal(EXAMPLES) < norm.ppf(accuracy)
            pred = np.where(right, LABELS, (LABELS + 1) % 10).astype(np.int16)
            np.savez(folder / "predictions.npz", labels=LABELS.astype(np.int16), **{f"pred@{level}": pred})
            (folder / "result.json").write_text(json.dumps(dict(complete=True, test_accuracy=right.mean())))
    return root


def paired_tests(root, **options):
    models, levels = paired.tests_table(collect(root)[0], n_boot=500, **options)
    return models.set_index("model"), levels


SWEEP = {1: 0.40, 5: 0.70, 25: 0.85, 100: 0.85, "lossless": 0.85}


def test_a_sweep_flat_down_to_25_has_its_cutoff_and_noise_bits_there(tmp_path):
    models, levels = paired_tests(write_runs(tmp_path, SWEEP))
    model = models.loc["all-cnns"]
    assert model.estimable and model.reason == "" and model.note == ""
    assert model.reference == "lossless" and model.q_star == 25
    assert model.seeds == 3 and model.examples == EXAMPLES and model.chance == pytest.approx(0.1)
    assert model.bits_kind == "payload"
    assert model.shown_payload == (BITS["lossless"] - 500) - (BITS[25] - 500)
    assert model.shown_total == BITS["lossless"] - BITS[25]
    # the curve crosses a(R) - 2 points between 25 (0.85) and 5 (0.70), near 25 in log bits
    assert BITS["lossless"] - BITS[25] < model.noise_total < BITS["lossless"] - BITS[5]
    assert model.noise_total_low <= model.noise_total <= model.noise_total_high
    assert not model.noise_total_censored and not model.bound
    assert list(levels["verdict"]) == [stats.REFERENCE, stats.NON_INFERIOR, stats.NON_INFERIOR,
                                       stats.INFERIOR, stats.INFERIOR]
    assert model.lowest == 1 and model.lowest_worse and model.lowest_difference == pytest.approx(-0.45, abs=0.03)
    assert list(levels["level"]) == ["lossless", 100, 25, 5, 1]  # high to low quality
    assert list(levels["decision"]) == [stats.REFERENCE, stats.NON_INFERIOR, stats.NON_INFERIOR,
                                        stats.NOT_SHOWN, stats.NOT_TESTED]


def test_when_no_compressed_level_passes_no_bits_are_called_noise(tmp_path):
    # the first compressed level is truly worse by twice the margin: q* is the reference,
    # and the report must not print "0 noise bits" as if it were a measurement
    models, levels = paired_tests(write_runs(tmp_path, {1: 0.40, 25: 0.81, "lossless": 0.85}))
    model = models.loc["all-cnns"]
    assert model.estimable and model.q_star == "lossless"
    assert list(levels["decision"]) == [stats.REFERENCE, stats.NOT_SHOWN, stats.NOT_TESTED]
    text = verdicts.noise_bits(model)
    assert "no bits are shown removable" in text and "payload bits" in text
    assert "Not supported at any compressed level" in verdicts.no_loss(model, levels)
    assert "inferior to lossless beyond the 2.0-point margin" in verdicts.no_loss(model, levels)
    glance = verdicts.tests_summary(models.reset_index()).iloc[0]
    assert glance["q*"] == "none shown" and glance["first level"] == stats.INFERIOR


def test_without_payload_bits_noise_bits_are_total_bits_and_say_so(tmp_path):
    models, _ = paired_tests(write_runs(tmp_path, SWEEP, payload=False))
    model = models.loc["all-cnns"]
    assert model.bits_kind == "total" and np.isnan(model.noise_payload)
    assert model.shown_total == BITS["lossless"] - BITS[25]


def test_without_lossless_the_level_with_most_bits_is_the_reference(tmp_path):
    models, levels = paired_tests(write_runs(tmp_path, {1: 0.4, 25: 0.85, 100: 0.85}))
    model = models.loc["all-cnns"]
    assert model.reference == 100 and model.q_star == 25
    assert "no lossless run" in model.note and list(levels["level"]) == [100, 25, 1]


def test_a_flat_sweep_bounds_the_cutoff_and_a_reference_at_chance_is_not_estimable(tmp_path):
    flat, levels = paired_tests(write_runs(tmp_path / "flat", {5: 0.85, 25: 0.85, "lossless": 0.85}))
    model = flat.loc["all-cnns"]
    assert model.estimable and model.q_star == 5 and model.bound and model.noise_total_censored
    assert verdicts.cutoff_text(model) == "≤ 5"
    assert "Every compressed level passed" in verdicts.no_loss(model, levels)
    chance, _ = paired_tests(write_runs(tmp_path / "chance", {5: 0.1, 25: 0.1, "lossless": 0.1}))
    assert "not clearly above chance" in chance.loc["all-cnns"].reason


def test_runs_with_other_test_examples_are_not_paired(tmp_path):
    root = write_runs(tmp_path, SWEEP)
    other = root / "all-cnns" / "quality_25" / "seed_1" / "predictions.npz"
    saved = dict(np.load(other))
    np.savez(other, **{**saved, "labels": saved["labels"][::-1]})  # another order
    models, levels = paired_tests(root)
    assert not models.loc["all-cnns"].estimable and levels.empty
    assert "test labels differ" in models.loc["all-cnns"].reason


def test_runs_without_predictions_and_seeds_missing_at_a_level_are_left_out_and_named(tmp_path):
    root = write_runs(tmp_path, SWEEP)
    write_runs(tmp_path, {"lossless": 0.85}, seeds=(7,))  # seed 7 only at lossless
    (root / "all-cnns" / "quality_5" / "seed_2" / "predictions.npz").unlink()  # older code
    models, levels = paired_tests(root)
    model = models.loc["all-cnns"]
    assert model.seeds == 2 and set(levels["seeds"]) == {2}
    assert "5 seed 2 left out: no predictions.npz" in model.note
    assert "seed(s) 2, 7 not run at every level" in model.note
    (root / "all-cnns" / "quality_5" / "seed_1" / "predictions.npz").write_bytes(b"damaged")
    (root / "all-cnns" / "quality_5" / "seed_0" / "predictions.npz").unlink()
    models, _ = paired_tests(root)
    assert "no seed has predictions at every level" in models.loc["all-cnns"].reason
    assert "predictions.npz is damaged" in models.loc["all-cnns"].reason


def test_epochs_to_a_common_target_are_paired_within_seeds(tmp_path):
    # lossless reaches its accuracy at epoch 8, quality 25 at epoch 4, quality 5 never
    # reaches 0.95 x 0.85
    root = write_runs(tmp_path, SWEEP, reaches={"lossless": 8, 100: 8, 25: 4})
    models, levels = paired_tests(root)
    model = models.loc["all-cnns"]
    assert model.target_1 == pytest.approx(0.95 * 0.85)
    assert model.target_2 == pytest.approx(0.40)  # the highest accuracy every run reaches
    by_level = levels.set_index("level")
    # the area under the curve: 4 epochs sooner at 0.85 instead of 0.3, over 12 epochs
    assert by_level.loc[25, "convergence_difference"] == pytest.approx(4 * 0.55 / 12)
    assert by_level.loc[25, "epochs_1_difference"] == -4
    assert by_level.loc[25, "convergence"] == "faster"
    assert by_level.loc[100, "convergence"] == "no difference resolved"
    # quality 5 never reaches 0.95 x 0.85 (slower there) but reaches 0.40 sooner than
    # lossless, and its area is larger: the verdict depends on the target
    assert by_level.loc[5, "epochs_1_reached"] == 0 and by_level.loc[5, "epochs_1"] == 13
    assert by_level.loc[5, "epochs_1_verdict"] == "slower"
    assert by_level.loc[5, "epochs_2_verdict"] == "faster"
    assert by_level.loc[5, "convergence"] == "depends on the target"


def test_a_model_at_one_level_has_nothing_to_compare(tmp_path):
    models, levels = paired_tests(write_runs(tmp_path, {25: 0.85}))
    assert models.loc["all-cnns"].reason.startswith("one level only") and levels.empty


def test_confusion_matrices_sum_the_seeds(tmp_path):
    root = write_runs(tmp_path, {5: 0.7, "lossless": 0.85}, seeds=(0, 1))
    runs = paired.complete_runs(collect(root)[0])
    matrices = grids.confusions(runs, ["lossless", 5], 12)
    assert list(matrices) == ["lossless", 5] and matrices[5].shape == (12, 12)
    assert matrices[5].sum() == 2 * EXAMPLES
    assert matrices["lossless"].trace() / (2 * EXAMPLES) == pytest.approx(0.85, abs=0.03)


def test_a_bound_near_zero_shows_its_side_of_zero():
    # a significant loss whose upper bound is -0.04 points is never printed as "-0.0"
    assert verdicts._interval(-0.0351, -0.0004) == "-3.51 to -0.04"
    assert verdicts._interval(-0.019, 0.027) == "-1.9 to +2.7"
    assert verdicts._points(-0.0004) == "-0.04"
