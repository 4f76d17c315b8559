"""The long results table: one row per run and test level, read back by pandas with its
column types and the levels in order."""
import json

import numpy as np
import pandas as pd
import pytest

from helmholtz.analysis.results import collect, read_results, write_results
from helmholtz.report.tidy import long_path, read_long, write_long
from helpers import write_history


def make_run(root, domain, model, level_name, level, seed, val_acc, test_at=None, bits_at=None,
             complete=True, **settings):
    folder = root / domain / model / f"{level_name}_{level}" / f"seed_{seed}"
    folder.mkdir(parents=True)
    bits_at = bits_at or {}
    config = dict(domain=domain, dataset={"cifar": "cifar10", "audio": "generated"}[domain],
                  model=model, setting=0, params=1000, level_name=level_name, level=level, seed=seed,
                  num_epoch=len(val_acc), batch_size=128, fixed=False, precision="float32",
                  bits_per_sample=100.0, payload_bits_per_sample=90.0,
                  bits_per_sample_at={k: b for k, b in bits_at.items()},
                  payload_bits_per_sample_at={k: b - 10 for k, b in bits_at.items()}, **settings)
    (folder / "config.json").write_text(json.dumps(config))
    write_history(folder, val_acc, 2.0)
    if complete:
        (folder / "result.json").write_text(json.dumps(
            dict(complete=True, test_accuracy=max(val_acc), test_accuracy_at=test_at or {})))
    return folder


@pytest.fixture
def logs(tmp_path):
    root = tmp_path / "logs"
    make_run(root, "cifar", "all-cnns", "quality", 25, 0, [0.5, 0.6],
             test_at={"5": 0.3, "lossless": 0.55}, bits_at={"5": 20.0, "lossless": 300.0})
    make_run(root, "cifar", "all-cnns", "quality", 5, 0, [0.4, 0.45])
    make_run(root, "cifar", "all-cnns", "quality", "lossless", 1, [0.2], complete=False)
    make_run(root, "audio", "cnn_x3_mlp_0", "bitrate", 32, 0, [0.7, 0.8],
             test_at={"8": 0.5, "128": 0.79}, bits_at={"8": 18.0, "128": 128.0})
    return root


def test_one_row_per_run_and_test_level_read_back_with_its_types(logs, tmp_path):
    results, problems, _ = collect(logs)
    assert not problems
    path = write_long(results, tmp_path / "results_long.csv")
    table = read_long(path)

    assert len(table) == 3 + 1 + 1 + 3
    for column in ("train_level", "test_level"):
        dtype = table[column].dtype
        assert isinstance(dtype, pd.CategoricalDtype) and dtype.ordered
        assert list(dtype.categories) == ["5", "8", "25", "32", "128", "lossless"]
    assert table["seed"].dtype == "Int64" and table["epochs"].dtype == "Int64"
    assert table["accuracy"].dtype == np.float64 and table["payload_bits_per_sample"].dtype == np.float64
    assert table["complete"].dtype == "boolean" and table["fixed"].dtype == "boolean"
    assert pd.api.types.is_string_dtype(table["model"]) and pd.api.types.is_string_dtype(table["excluded"])

    # levels compare and sort in their order, not as text ("lossless" last, 5 before 25)
    cifar = table[(table.domain == "cifar") & (table.train_level == "25")].sort_values("test_level")
    assert list(cifar.test_level) == ["5", "25", "lossless"]
    assert list(cifar.accuracy) == [0.3, 0.6, 0.55]
    assert list(cifar.bits_per_sample) == [20.0, 100.0, 300.0]
    assert list(cifar.payload_bits_per_sample) == [10.0, 90.0, 290.0]
    # measured at the run's own level only: the paper accuracy is on that row alone
    assert cifar.paper_accuracy.isna().tolist() == [True, False, True]
    assert (table.test_level > table.train_level).sum() == 2  # lossless > 25 and 128 > 32

    unfinished = table[table.train_level == "lossless"]
    assert len(unfinished) == 1 and not unfinished.complete.iloc[0]
    assert unfinished.test_level.iloc[0] == "lossless" and np.isnan(unfinished.accuracy.iloc[0])
    assert unfinished.epochs.iloc[0] == 1


def test_no_json_in_any_cell_and_plain_pandas_reads_it(logs, tmp_path):
    results, _, _ = collect(logs)
    plain = pd.read_csv(write_long(results, tmp_path / "results_long.csv"))
    for column in plain.columns:
        assert not plain[column].astype(str).str.contains(r"[{}\[\]]").any(), column
    assert set(plain.columns) >= {"experiment", "domain", "model", "train_level", "test_level", "seed",
                                  "accuracy", "paper_accuracy", "epochs", "payload_bits_per_sample"}


def test_the_long_table_of_a_results_csv_read_back_is_the_same(logs, tmp_path):
    results, _, _ = collect(logs)
    csv = write_results(results, tmp_path / "results.csv")
    again = write_long(read_results(csv), long_path(csv))
    assert again == tmp_path / "results_long.csv"
    pd.testing.assert_frame_equal(read_long(again), read_long(write_long(results, tmp_path / "b.csv")))
