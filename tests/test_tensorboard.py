"""TensorBoard export: a run's history.csv as scalar events, read back as TensorBoard reads them."""
import json

import numpy as np
import pytest

from helmholtz.errors import cli_main
from helmholtz.report.tensorboard import export, main
from helmholtz.run.layout import read_history
from helpers import write_history

VAL_ACC = [0.25, 0.5, 0.625]


def events(folder):
    """{tag: [(step, value)]} and the plugin of every value in the event files of `folder`."""
    import tensorflow as tf
    found, plugins = {}, set()
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
                plugins.add(value.metadata.plugin_data.plugin_name)
    return found, plugins


@pytest.fixture
def logs(tmp_path):
    run = tmp_path / "logs" / "cifar" / "all-cnns" / "quality_25" / "seed_0"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"domain": "cifar"}))
    write_history(run, VAL_ACC, 4.0)
    return tmp_path / "logs"


def test_every_history_column_is_a_scalar_per_epoch(logs, tmp_path):
    out = tmp_path / "tb"
    assert export(logs, out) == (1, [])
    folder = out / "cifar" / "all-cnns" / "quality_25" / "seed_0"
    found, plugins = events(folder)
    assert plugins == {"scalars"}  # TensorBoard's scalars dashboard shows them
    history = read_history(logs / "cifar" / "all-cnns" / "quality_25" / "seed_0")
    assert set(found) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    for tag, points in found.items():
        assert points == [(row["epoch"], float(np.float32(row[tag]))) for row in history]
    assert found["val_accuracy"] == [(1, 0.25), (2, 0.5), (3, 0.625)]

    (folder / "notes.txt").write_text("mine")
    export(logs, out)  # again: the same events once, other files kept
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    assert events(folder)[0] == found and (folder / "notes.txt").read_text() == "mine"


def test_out_in_the_run_folders_is_one_line_exit_2(logs, capsys):
    with pytest.raises(SystemExit) as stop:
        cli_main(lambda: main([str(logs), "--out", str(logs)]))
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "into the run folders" in err
    assert not list(logs.rglob("events.out.tfevents.*"))
