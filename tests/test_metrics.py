"""The paper's two per-run metrics: accuracy of a run and its convergence epoch."""
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from helmholtz.metrics import convergence_epoch, paper_accuracy
from helmholtz.report import collect
from helpers import write_history


def test_paper_accuracy_is_mean_of_ten_best_epochs():
    val = [0.1, 0.2, 0.9, 0.3, 0.8, 0.85, 0.4, 0.5, 0.6, 0.7, 0.75, 0.65]
    ten_best = sorted(val)[2:]
    assert paper_accuracy(val) == pytest.approx(sum(ten_best) / 10)


def test_paper_accuracy_of_short_run_averages_every_epoch():
    assert paper_accuracy([0.5, 0.6, 0.7]) == pytest.approx(0.6)


def test_paper_accuracy_of_empty_history_is_nan():
    assert math.isnan(paper_accuracy([]))


def test_convergence_epoch_is_first_window_above_99_percent_of_best():
    val = [0.1] * 5 + [0.9] * 20
    # windows starting at epochs 1..5 still hold a 0.1; epoch 6 starts ten 0.9s
    assert convergence_epoch(val) == 6


def test_convergence_needs_a_full_window():
    # the last five epochs reach the best, but a window starting there is not full
    assert convergence_epoch([0.5] * 15 + [0.9] * 5) is None


def test_steadily_rising_run_never_converges():
    val = [0.1 + 0.8 * i / 29 for i in range(30)]
    assert convergence_epoch(val) is None


def test_short_run_has_one_window_the_whole_run():
    assert convergence_epoch([0.85, 0.86, 0.86]) == 1  # mean 0.8567 > 0.99 x 0.86
    assert convergence_epoch([0.80, 0.81, 0.82]) is None  # mean 0.81 < 0.99 x 0.82


def test_convergence_of_empty_history_is_none():
    assert convergence_epoch([]) is None


def _run_folder(root, name, val_acc):
    folder = root / name / "seed_0"
    folder.mkdir(parents=True)
    config = dict(domain="cifar", dataset="cifar10", model="all-cnns", setting=0, level=25,
                  level_name="quality", seed=0, num_epoch=len(val_acc), bits_per_sample=8000.0)
    (folder / "config.json").write_text(json.dumps(config))
    write_history(folder, val_acc, 2.0)
    return folder


def test_collect_computes_both_metrics_from_history_csv(tmp_path):
    _run_folder(tmp_path, "long", [0.1] * 5 + [0.9] * 20)
    _run_folder(tmp_path, "short", [0.5, 0.6, 0.7])
    _run_folder(tmp_path, "rising", [0.1 + 0.8 * i / 29 for i in range(30)])  # never converges
    results, problems = collect(tmp_path)
    assert problems == []
    by_run = {Path(row.run).parent.name: row for row in results.itertuples()}
    assert by_run["long"].paper_accuracy == pytest.approx(0.9)
    assert by_run["long"].convergence_epoch == 6
    assert by_run["short"].paper_accuracy == pytest.approx(0.6)
    assert by_run["short"].epochs_done == 3
    last_ten = [0.1 + 0.8 * i / 29 for i in range(20, 30)]
    assert by_run["rising"].paper_accuracy == pytest.approx(sum(last_ten) / 10)
    assert pd.isna(by_run["rising"].convergence_epoch)
