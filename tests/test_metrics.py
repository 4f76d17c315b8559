"""The per-run metrics: the paper's figures as the original's collectors computed them,
and the project's variants.

The original's figures are recomputed here the way the original did it, on a
history.csv in the original's layout (`pandas.DataFrame(history).to_csv`, whose
Python 2 dict gave sorted columns: index, acc, loss, val_acc, val_loss):
collect.py's shell pipeline is run as written, and collect_epoch.py's loop is
written out again as it reads the file.
"""
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helmholtz.analysis.results import collect
from helmholtz.run.metrics import (best10_accuracy, convergence_epoch, paper_accuracy,
                                   paper_convergence_index0)
from helpers import write_history

# audio/logs/collect.py, the command it hands to os.system, for one history file
COLLECT_PIPELINE = ("""cat %s | awk -F"," '{print $4}' | sort | tail -n 11 | head -n 10 | """
                    """awk '{ total += $1 } END { print total/NR }'""")


def write_original_history(path, val_acc):
    """history.csv as the original wrote it: pandas index first, columns in sorted order."""
    n = len(val_acc)
    pd.DataFrame({"acc": np.linspace(0.1, 0.9, n), "loss": np.linspace(2.3, 0.3, n),
                  "val_acc": val_acc, "val_loss": np.linspace(2.2, 0.4, n)}).to_csv(path)
    return path


def original_collect(path):
    """What collect.py printed for this history (awk's %.6g)."""
    out = subprocess.run(["sh", "-c", COLLECT_PIPELINE % path], capture_output=True, text=True,
                         env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}, check=True)
    return out.stdout.strip()


def original_collect_epoch(path):
    """The index collect_epoch.py printed, or None when it printed none."""
    acc_list = []
    with open(path) as f:
        for i, line in enumerate(f.readlines()):
            if i == 0:
                continue
            acc_list.append(float(line.split(",")[3]))
    max_acc = max(acc_list)
    for i, acc in enumerate(acc_list):
        if sum(acc_list[i:i + 10]) / 10.0 > 0.99 * max_acc:
            return i
    return None


def histories():
    """Crafted validation curves: short and long, converging early, late and never."""
    rng = np.random.default_rng(7)
    noisy = lambda n, top: np.round(np.minimum(top, top * (1 - np.exp(-np.arange(1, n + 1) / 4))
                                               + rng.normal(0, 0.02, n)), 4).clip(0.0001, 1)
    return {
        "1 epoch": [0.4123],
        "3 epochs": [0.5, 0.6, 0.7],
        "9 epochs": list(noisy(9, 0.8)),
        "10 epochs": list(noisy(10, 0.8)),
        "11 epochs": list(noisy(11, 0.85)),
        "25 epochs": list(noisy(25, 0.9)),
        "80 epochs": list(noisy(80, 0.93)),
        "flat then jump": [0.1] * 5 + [0.9] * 20,
        "rising, never converges": [round(0.1 + 0.8 * i / 29, 4) for i in range(30)],
        "reaches 1.0": [0.5, 0.98, 1.0, 0.99, 1.0, 0.995, 0.99, 1.0, 0.985, 0.99, 1.0, 0.99],
        "ties": [0.7] * 12,
    }


needs_shell = pytest.mark.skipif(not all(shutil.which(t) for t in ("awk", "sort", "tail", "head")),
                                 reason="needs awk, sort, tail and head")


@needs_shell
@pytest.mark.parametrize("name", list(histories()))
def test_paper_metrics_are_what_the_original_collectors_printed(tmp_path, name):
    val_acc = histories()[name]
    original = write_original_history(tmp_path / "original_history.csv", val_acc)
    ours = tmp_path / "logs" / "cifar" / "all-cnns" / "quality_25" / "seed_0"
    ours.mkdir(parents=True)
    write_config(ours, len(val_acc))
    write_history(ours, val_acc, 1.0)  # the project's layout, same values
    [row] = collect(tmp_path / "logs")[0].itertuples()

    assert f"{row.paper_accuracy:.6g}" == original_collect(original)
    expected_index = original_collect_epoch(original)
    if expected_index is None:
        assert pd.isna(row.paper_convergence_index0)
    else:
        assert row.paper_convergence_index0 == expected_index


def test_short_runs_average_the_header_as_a_zero_and_never_converge():
    assert paper_accuracy([0.5, 0.6, 0.7]) == pytest.approx(1.8 / 4)
    assert paper_accuracy([0.8] * 9) == pytest.approx(7.2 / 10)
    assert paper_accuracy([0.8] * 10) == pytest.approx(0.8)
    assert paper_convergence_index0([0.9] * 9) is None
    assert paper_convergence_index0([0.9] * 10) == 0


def test_paper_convergence_is_a_0_based_index_one_below_the_project_epoch():
    val = [0.1] * 5 + [0.9] * 20
    # windows starting at indices 0..4 still hold a 0.1; index 5 (epoch 6) starts ten 0.9s
    assert paper_convergence_index0(val) == 5
    assert convergence_epoch(val) == 6
    for val in histories().values():
        if len(val) >= 10 and paper_convergence_index0(val) is not None:
            assert convergence_epoch(val) == paper_convergence_index0(val) + 1


def test_best10_accuracy_is_the_mean_of_the_ten_best_or_of_all_epochs():
    val = [0.1, 0.2, 0.9, 0.3, 0.8, 0.85, 0.4, 0.5, 0.6, 0.7, 0.75, 0.65]
    assert best10_accuracy(val) == pytest.approx(sum(sorted(val)[2:]) / 10)
    assert best10_accuracy(val) == pytest.approx(paper_accuracy(val))
    assert best10_accuracy([0.5, 0.6, 0.7]) == pytest.approx(0.6)


def test_convergence_needs_a_full_window():
    # the last five epochs reach the best, but a window starting there is not full
    assert convergence_epoch([0.5] * 15 + [0.9] * 5) is None
    assert paper_convergence_index0([0.5] * 15 + [0.9] * 5) is None


def test_steadily_rising_run_never_converges():
    val = [0.1 + 0.8 * i / 29 for i in range(30)]
    assert convergence_epoch(val) is None and paper_convergence_index0(val) is None


def test_project_variant_gives_a_short_run_one_window_the_whole_run():
    assert convergence_epoch([0.85, 0.86, 0.86]) == 1  # mean 0.8567 > 0.99 x 0.86
    assert convergence_epoch([0.80, 0.81, 0.82]) is None  # mean 0.81 < 0.99 x 0.82


def test_empty_history_has_no_metrics():
    assert math.isnan(paper_accuracy([])) and math.isnan(best10_accuracy([]))
    assert convergence_epoch([]) is None and paper_convergence_index0([]) is None


def write_config(folder, epochs, name="config.json"):
    import json
    config = dict(domain="cifar", dataset="cifar10", model="all-cnns", setting=0, level=25,
                  level_name="quality", seed=0, num_epoch=epochs, bits_per_sample=8000.0)
    (Path(folder) / name).write_text(json.dumps(config))


def test_collect_computes_every_metric_from_history_csv(tmp_path):
    for name, val in (("long", [0.1] * 5 + [0.9] * 20), ("short", [0.5, 0.6, 0.7]),
                      ("rising", [0.1 + 0.8 * i / 29 for i in range(30)])):
        folder = tmp_path / name / "seed_0"
        folder.mkdir(parents=True)
        write_config(folder, len(val))
        write_history(folder, val, 2.0)
        # a result.json with other figures is not what the metrics come from
        (folder / "result.json").write_text('{"complete": true, "paper_accuracy": 0.01, '
                                            '"convergence_epoch": 99, "test_accuracy": 0.5}')
    results, problems, warnings = collect(tmp_path)
    assert problems == [] and warnings == []
    by_run = {Path(row.run).parent.name: row for row in results.itertuples()}
    assert by_run["long"].paper_accuracy == pytest.approx(0.9)
    assert by_run["long"].paper_convergence_index0 == 5 and by_run["long"].convergence_epoch == 6
    assert by_run["short"].paper_accuracy == pytest.approx(1.8 / 4)
    assert by_run["short"].best10_accuracy == pytest.approx(0.6)
    assert pd.isna(by_run["short"].paper_convergence_index0)
    assert by_run["short"].epochs_done == 3
    last_ten = [0.1 + 0.8 * i / 29 for i in range(20, 30)]
    assert by_run["rising"].paper_accuracy == pytest.approx(sum(last_ten) / 10)
    assert pd.isna(by_run["rising"].convergence_epoch)
