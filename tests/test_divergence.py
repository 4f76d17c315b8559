"""Real training (cifar/train.py on a tiny real Fashion-MNIST): a run whose loss
becomes non-finite stops and is recorded as diverged, never complete; a
checkpoint of another run is refused; config.json records the numerics."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from helmholtz.analysis.results import collect

REPO = Path(__file__).resolve().parents[1]


def train(fashion_folder, env, folder, *extra):
    argv = ["--dataset", "fashion-mnist", "--data", fashion_folder, "--batch_size", 10,
            "--train_dir", folder, *extra]
    return subprocess.run([sys.executable, str(REPO / "cifar" / "train.py"), *map(str, argv)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_a_run_whose_loss_becomes_non_finite_stops_and_is_recorded_diverged(fashion_folder, env,
                                                                            tmp_path):
    folder = tmp_path / "logs" / "run"
    proc = train(fashion_folder, env, folder, "--num_epoch", 4, "--learning_rate", 1e12)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "diverged: the loss is not finite after epoch 1" in proc.stdout
    assert len((folder / "history.csv").read_text().splitlines()) == 2  # stopped after epoch 1
    result = json.loads((folder / "result.json").read_text())
    assert result["complete"] is False and result["diverged"] is True
    assert (result["diverged_epoch"], result["epochs"]) == (1, 1)
    assert "convergence_epoch" not in result

    again = train(fashion_folder, env, folder, "--num_epoch", 4, "--learning_rate", 1e12)
    assert again.returncode == 0 and "diverged" in again.stdout and "epoch 2/4" not in again.stdout

    results, problems, warnings = collect(tmp_path / "logs")
    assert not problems and not results["complete"].any() and results["diverged"].all()
    assert results["excluded"].iloc[0] == "diverged: non-finite loss at epoch 1"
    assert any("diverged" in line for line in warnings)


def test_a_checkpoint_of_another_run_is_refused_with_one_line(fashion_folder, env, tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for folder, quality in ((ours, 25), (theirs, 5)):
        proc = train(fashion_folder, env, folder, "--num_epoch", 1, "--quality", quality)
        assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads((ours / "config.json").read_text())
    assert config["threads"] >= 1 and isinstance(config["cpu"], str) and config["cpu"]

    shutil.copyfile(theirs / "last.keras", ours / "last.keras")  # another level's checkpoint
    kept = {p.name: p.read_bytes() for p in ours.iterdir() if p.name != ".lock"}
    proc = train(fashion_folder, env, ours, "--num_epoch", 2, "--quality", 25)  # extends: resumes
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert "last.keras is a checkpoint of another run (level 5, not 25)" in lines[0]
    assert {p.name: p.read_bytes() for p in ours.iterdir() if p.name != ".lock"} == kept
