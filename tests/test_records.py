"""A run's records as a collection and a report read them: checked against their
schema (a bad folder is listed as unreadable, the others collected), diverged
runs listed as such, the machine each seed ran on, and no record removed on the
way to an error."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from helmholtz.analysis.results import collect
from helmholtz.report.write import write_report
from helmholtz.run.folder import open_run
from helmholtz.run.layout import DamagedFile

LABELS = (np.arange(40) % 10).astype(np.int16)
SETTINGS = {"domain": "cifar", "model": "all-cnns", "seed": 0, "batch_size": 128, "num_epoch": 3,
            "subset": None}


def make_run(logs, seed, level=25, val=(0.3, 0.5, 0.6), result=None, cpu="CPU A", threads=2,
             **config):
    folder = logs / "cifar" / "all-cnns" / f"quality_{level}" / f"seed_{seed}"
    folder.mkdir(parents=True)
    record = dict(domain="cifar", dataset="cifar10", model="all-cnns", setting=0, params=701386,
                  level_name="quality", level=level, seed=seed, num_epoch=len(val), batch_size=128,
                  fixed=True, precision="float32", subset=None, versions={}, cpu=cpu,
                  threads=threads, **config)
    (folder / "config.json").write_text(json.dumps(record))
    (folder / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n" + "".join(
        f"{e},{'nan' if math.isnan(v) else 1.0},0.5,1.0,{0.0 if math.isnan(v) else v},0.01,1.00\n"
        for e, v in enumerate(val, 1)))
    result = {"complete": True, "epochs": len(val), "test_accuracy": 0.5} if result is None else result
    (folder / "result.json").write_text(json.dumps(result) if isinstance(result, dict) else result)
    pred = np.where(np.arange(40) < 20 + seed, LABELS, (LABELS + 1) % 10).astype(np.int16)
    np.savez(folder / "predictions.npz", labels=LABELS, **{f"pred@{level}": pred})
    return folder


BAD_CONFIGS = [
    ({"model": ["all-cnns"]}, "config.json: model is ['all-cnns'], expected a name"),
    ({"seed": 1e400}, "config.json: seed is inf, expected a whole number"),
    ({"seed": True}, "config.json: seed is True, expected a whole number"),
    ({"num_epoch": "200"}, "config.json: num_epoch is '200', expected a whole number >= 1"),
    ({"bits_per_sample": -1}, "config.json: bits_per_sample is -1, expected a finite number >= 0"),
    ({"bits_per_sample_at": {"25": "many"}}, "config.json: bits_per_sample_at is"),
    ({"level": {"q": 25}}, "config.json: level is {'q': 25}, expected a level"),
    ({"extra": [[[[[[[[[[1]]]]]]]]]]}, "config.json nests deeper than 8 levels"),
]


@pytest.mark.parametrize("change, reason", BAD_CONFIGS, ids=[r for _, r in BAD_CONFIGS])
def test_a_config_of_wrong_types_or_ranges_is_unreadable_and_the_others_collected(tmp_path, change,
                                                                                 reason):
    make_run(tmp_path, 0)
    bad = make_run(tmp_path, 1)
    config = {**json.loads((bad / "config.json").read_text()), **change}
    (bad / "config.json").write_text(json.dumps(config).replace("Infinity", "1e400"))
    results, problems, _ = collect(tmp_path)
    assert list(results["seed"]) == [0]
    assert len(problems) == 1 and str(bad) in problems[0] and reason in problems[0], problems


BAD_RESULTS = [
    ('{"complete": "yes", "epochs": 3}', "result.json: complete is 'yes', expected true or false"),
    ('{"complete": true, "epochs": 3, "test_accuracy": 2.0}', "test_accuracy is 2.0"),
    ('{"complete": true, "epochs": 3, "test_accuracy_at": {"5": [1]}}', "test_accuracy_at is"),
    ('{"complete": true, "epochs": 1e400}', "result.json: epochs is inf"),
    ("[" * 5000 + "]" * 5000, "result.json is damaged"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "result.json is damaged (nested too deeply"),
]


@pytest.mark.parametrize("text, reason", BAD_RESULTS, ids=[r for _, r in BAD_RESULTS])
def test_a_result_of_wrong_types_or_ranges_is_unreadable_and_the_others_collected(tmp_path, text,
                                                                                 reason):
    make_run(tmp_path, 0)
    bad = make_run(tmp_path, 1, result=text)
    results, problems, _ = collect(tmp_path)
    assert list(results["seed"]) == [0]
    assert len(problems) == 1 and str(bad) in problems[0] and reason in problems[0], problems


def test_a_diverged_run_is_listed_as_diverged_by_collection_and_report(tmp_path):
    logs = tmp_path / "logs"
    for seed in (0, 1):
        make_run(logs, seed)
    nan = make_run(logs, 2, val=(math.nan,), result={"complete": False, "diverged": True,
                                                     "diverged_epoch": 1, "epochs": 1})
    results, _, warnings = collect(logs)
    row = results[results["seed"] == 2].iloc[0]
    assert not row["complete"] and row["diverged"]
    assert row["excluded"] == "diverged: non-finite loss at epoch 1"
    assert pd.isna(row["convergence_epoch"])
    assert any(str(nan) in w and "diverged" in w for w in warnings)
    text = write_report(logs, tmp_path / "rep", n_boot=50).read_text()
    assert "1 run(s) diverged" in text
    assert "| diverged: non-finite loss at epoch 1 |" in text


def test_the_report_says_when_the_seeds_of_an_experiment_ran_on_other_machines(tmp_path):
    logs = tmp_path / "logs"
    make_run(logs, 0, cpu="AMD EPYC", threads=2)
    make_run(logs, 1, cpu="AMD EPYC", threads=2)
    make_run(logs, 2, cpu="Intel Xeon", threads=16)
    text = write_report(logs, tmp_path / "rep", n_boot=50).read_text()
    assert ("ran on different CPUs or thread counts (AMD EPYC with 2 thread(s): seed(s) 0 1; "
            "Intel Xeon with 16 thread(s): seed(s) 2)") in text
    (logs / "cifar/all-cnns/quality_25/seed_2/config.json").write_text(json.dumps(
        {**json.loads((logs / "cifar/all-cnns/quality_25/seed_2/config.json").read_text()),
         "cpu": "AMD EPYC", "threads": 2}))
    assert "different CPUs" not in write_report(logs, tmp_path / "rep", n_boot=50).read_text()


# ---------------------------------------------------------------- check before removing

def write_folder(folder, epochs=3):
    """A complete run folder of this program (checkpoints as placeholders)."""
    folder.mkdir(parents=True)
    (folder / ".helmholtz-run").write_text("run\n")
    (folder / "config.json").write_text(json.dumps({**SETTINGS, "versions": {}, "code_family": 2}))
    (folder / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n" + "".join(
        f"{e},1.0,0.5,1.0,0.{e},0.01,1.00\n" for e in range(1, epochs + 1)))
    for name in ("last.keras", "best.keras"):
        (folder / name).write_bytes(b"model")
    (folder / "result.json").write_text(json.dumps({"epochs": epochs, "complete": True}))
    return folder


def test_a_complete_run_whose_history_lost_rows_keeps_its_result(tmp_path):
    """result.json disagrees with a truncated history.csv: the run is checked on, and
    its result stays until the run is finished again (the checkpoint names the damage)."""
    from helmholtz.run.checkpoints import resume_state
    folder = write_folder(tmp_path / "run")
    kept = (folder / "result.json").read_bytes()
    lines = (folder / "history.csv").read_text().splitlines(keepends=True)
    (folder / "history.csv").write_text("".join(lines[:2]))  # one epoch of three
    run = open_run(folder, SETTINGS)
    try:
        assert run.state == "resume" and (folder / "result.json").read_bytes() == kept
        with pytest.raises(DamagedFile, match="last.keras is damaged"):
            resume_state(run, steps=1)
    finally:
        run.close()
    assert (folder / "result.json").read_bytes() == kept
