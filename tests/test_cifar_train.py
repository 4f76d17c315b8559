"""cifar/train.py end to end: learning, run folders, resume, refusals, bad input."""
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helmholtz.run.layout import experiment_key
from helpers import write_fashion_subset

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO / "cifar" / "train.py"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# config.json of the first test's command as the trainer wrote it before the domain
# contract (helmholtz.domain), less what names the machine, the code's version and
# the data's place: the same keys and values, so older runs stay the same experiment.
MACHINE = ("versions", "git_commit", "command", "host", "threads", "cpu", "experiment", "data")
PINNED_CONFIG = {
    "augmentation": "keras2 shift 0.1 bilinear nearest + flip axis 2", "batch_size": 128,
    "bits_per_sample": 3733.7253333333333, "bits_per_sample_at": {"lossless": 4128.928},
    "code_family": 2, "dataset": "fashion-mnist", "domain": "cifar", "drop_last_batch": True,
    "fixed": False, "level": 25, "level_name": "quality", "model": "cnns-dense-128",
    "num_epoch": 3, "optimizer": {"decay_rate": 1e-06, "learning_rate": 0.01, "momentum": 0.9,
                                  "name": "sgd", "nesterov": True},
    "orientation": "transposed", "params": 1620298, "payload_bits_per_sample": 1093.7253333333333,
    "payload_bits_per_sample_at": {"lossless": 3672.928}, "precision": "float32",
    "protocol": "original", "seed": 0, "setting": 4, "source_channels": 1, "steps_per_epoch": 23,
    "subset": None, "test_levels": ["lossless"], "test_size": 500, "test_subset": 500,
    "train_size": 3000, "val_size": 500}


@pytest.fixture(scope="module")
def fashion_small(tmp_path_factory):
    """Real Fashion-MNIST, cut to 3,000 train and 1,000 test images (idx format)."""
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("needs the Debian package dataset-fashion-mnist")
    return write_fashion_subset(tmp_path_factory.mktemp("fashion-small"), FASHION_DIR, 3000, 1000)


def train(args, env, cwd=REPO, check=True):
    proc = subprocess.run([sys.executable, str(TRAIN), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def history(folder):
    with open(folder / "history.csv") as f:
        return list(csv.DictReader(f))


def quick(fashion, logs, *extra):
    return ["--dataset", "fashion-mnist", "--data", fashion, "--quality", "25",
            "--log_dir", logs, "--test_subset", 500, *extra]


def run_folder(logs, model="all-cnns", level="25", seed=0):
    return Path(logs) / "cifar-fashion-mnist" / model / f"quality_{level}" / f"seed_{seed}"


def test_short_training_learns_and_writes_a_complete_run(fashion_small, env, tmp_path):
    # From inside cifar/, as the original was used.
    proc = train(quick(fashion_small, tmp_path, "--model", "cnns-dense-128", "--num_epoch", 3,
                       "--test_quality", "lossless"), env, cwd=REPO / "cifar")
    folder = run_folder(tmp_path, "cnns-dense-128")
    assert {"config.json", "history.csv", "best.keras", "last.keras", "result.json"} <= {
        p.name for p in folder.iterdir()}
    rows = history(folder)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    result = json.loads((folder / "result.json").read_text())
    assert result["complete"] and result["epochs"] == 3
    assert result["test_accuracy"] > 0.3, result  # chance is 0.1
    assert result["params"] == 1_620_298
    assert 0 < result["test_accuracy_at"]["lossless"] <= 1
    config = json.loads((folder / "config.json").read_text())
    assert config["versions"]["keras"].startswith("3.")
    assert {k: v for k, v in config.items() if k not in MACHINE} == PINNED_CONFIG
    assert config["data"] == str(fashion_small) and config["experiment"] == experiment_key(config)
    assert "epoch 3/3" in proc.stdout


def test_killed_run_resumes_without_losing_or_repeating_an_epoch(fashion_small, env, tmp_path):
    args = quick(fashion_small, tmp_path, "--subset", 600, "--num_epoch", 5, "--decay_rate", 0.01)
    folder = run_folder(tmp_path)
    proc = subprocess.Popen([sys.executable, str(TRAIN), *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if (folder / "history.csv").exists() and len(history(folder)) >= 2:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(history(folder))
    assert 2 <= done < 5 and not (folder / "result.json").exists()

    again = train(args, env)
    assert f"resuming {folder} after epoch {done}" in again.stdout
    rows = history(folder)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    # The per-batch time decay continued from the saved iteration count.
    steps = 600 // 128  # whole batches only, as the original's fit_generator
    assert float(rows[-1]["lr"]) == pytest.approx(0.01 / (1 + 0.01 * 5 * steps), rel=1e-4)
    assert json.loads((folder / "result.json").read_text())["epochs"] == 5


def test_complete_run_is_kept_unless_forced_and_a_crash_between_renames_rolls_forward(
        fashion_small, env, tmp_path):
    args = quick(fashion_small, tmp_path, "--subset", 300, "--num_epoch", 2)
    train(args, env)
    folder = run_folder(tmp_path)
    before = (folder / "result.json").stat().st_mtime_ns
    again = train(args, env)
    assert "is complete" in again.stdout
    assert (folder / "result.json").stat().st_mtime_ns == before

    # Killed after last.keras was replaced but before history.csv was: the
    # side file holds the full history and is rolled forward on resume.
    text = (folder / "history.csv").read_text()
    (folder / ".history.next.csv").write_text(text)
    (folder / "history.csv").write_text("".join(text.splitlines(keepends=True)[:-1]))
    (folder / "result.json").unlink()
    rolled = train(args, env)
    assert "resuming" in rolled.stdout and "epoch 2/2" not in rolled.stdout
    assert [int(r["epoch"]) for r in history(folder)] == [1, 2]

    other = train([*args, "--seed", "0", "--batch_size", "64"], env, check=False)
    assert other.returncode == 2 and "batch_size" in other.stderr and "--force" in other.stderr
    forced = train([*args, "--force"], env)
    assert "epoch 2/2" in forced.stdout and "resuming" not in forced.stdout


def test_fixed_protocol_holds_out_validation_and_keeps_orientation(fashion_small, env, tmp_path):
    train(quick(fashion_small, tmp_path, "--subset", 300, "--num_epoch", 1, "--fixed",
                "--model", "cnns-dense-64"), env)
    folder = run_folder(tmp_path, "cnns-dense-64")
    config = json.loads((folder / "config.json").read_text())
    assert config["protocol"] == "fixed" and config["val_size"] == 300  # 10% of 3000
    assert config["orientation"] == "upright"
    assert config["train_size"] == 300 and config["test_size"] == 500
    assert json.loads((folder / "result.json").read_text())["params"] == 1_079_562


def test_augmentation_is_stateless_per_batch_seed():
    """What makes a resumed run see the batches an uninterrupted one saw."""
    import tensorflow as tf
    from cifar.protocol import make_transform
    x = tf.constant(np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8))
    transform = make_transform(3)
    first = transform(x, tf.constant([0, 5], tf.int64), training=True).numpy()
    np.testing.assert_array_equal(transform(x, tf.constant([0, 5], tf.int64), training=True), first)
    assert not np.array_equal(transform(x, tf.constant([0, 6], tf.int64), training=True), first)


@pytest.mark.parametrize("flags, words", [
    (["--quality", "0"], "quality"), (["--quality", "101"], "quality"),
    (["--quality", "abc"], "quality"), (["--setting", "9"], "setting"),
    (["--model", "resnet"], "model"), (["--num_epoch", "0"], "num_epoch"),
])
def test_bad_flags_give_one_line_and_exit_2(flags, words, tmp_path, env):
    proc = train(["--log_dir", tmp_path, *flags], env, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0]
    assert "Traceback" not in proc.stderr and not any(tmp_path.iterdir())


def test_unwritable_log_folder_is_refused(fashion_small, env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    proc = train(quick(fashion_small, blocker / "logs", "--num_epoch", 1, "--subset", 100),
                 env, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "--log_dir" in proc.stderr


def test_missing_archive_is_refused(env, tmp_path):
    proc = train(["--data", tmp_path / "nowhere.tar.gz", "--log_dir", tmp_path], env, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
