"""Exact resume and damaged runs, with real training (cifar/train.py on a small
real Fashion-MNIST): a run killed at any point and resumed gives the history of
an uninterrupted run; damaged checkpoints never give a traceback."""
import csv
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers import write_fashion_subset

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO / "cifar" / "train.py"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
EPOCHS = 4


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("needs the Debian package dataset-fashion-mnist")
    return write_fashion_subset(tmp_path_factory.mktemp("fashion"), FASHION_DIR, 600, 200)


def args(fashion, folder, *extra, epochs=EPOCHS):
    # A model with Dropout, and batches small enough for it to learn within a few epochs.
    return ["--dataset", "fashion-mnist", "--data", fashion, "--quality", 25,
            "--model", "cnns-dense-64", "--batch_size", 32, "--num_epoch", epochs,
            "--train_dir", folder, *extra]


def train(argv, env, check=True):
    proc = subprocess.run([sys.executable, str(TRAIN), *map(str, argv)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"train.py failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def start(argv, env):
    return subprocess.Popen([sys.executable, str(TRAIN), *map(str, argv)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def kill_after(proc, line_start):
    """SIGKILL the trainer as soon as it prints a line starting so."""
    for line in proc.stdout:
        if line.startswith(line_start):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def history(folder):
    """history.csv, all columns but the timing."""
    with open(folder / "history.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def reference(fashion, env, tmp_path_factory):
    """An uninterrupted run, float32."""
    folder = tmp_path_factory.mktemp("reference") / "run"
    train(args(fashion, folder), env)
    assert len(history(folder)) == EPOCHS
    return folder


def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_history(fashion, env, reference,
                                                                       tmp_path):
    folder = tmp_path / "run"
    proc = start(args(fashion, folder), env)
    kill_after(proc, "epoch 2/")
    time.sleep(0.3)  # the child is dead; the pause is only for the record: mid epoch 3
    done = len(history(folder))
    assert 2 <= done < EPOCHS and not (folder / "result.json").exists()
    again = train(args(fashion, folder), env)
    assert f"resuming {folder} after epoch {done}" in again.stdout
    assert history(folder) == history(reference)
    # Two uninterrupted runs agree too: the comparison is not vacuous.
    assert len({row["val_accuracy"] for row in history(reference)}) > 1


def test_bfloat16_resumes_exactly_too(fashion, env, tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    bf16 = ("--precision", "mixed_bfloat16", "--subset", 200)
    train(args(fashion, whole, *bf16, epochs=3), env)
    train(args(fashion, split, *bf16, epochs=1), env)  # stopped after epoch 1 ...
    train(args(fashion, split, *bf16, epochs=3), env)  # ... and extended
    assert history(split) == history(whole)


def one_line_error(proc):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_a_damaged_last_checkpoint_stops_then_falls_back_to_the_best_exactly(
        fashion, env, reference, tmp_path):
    folder = tmp_path / "run"
    train(args(fashion, folder, epochs=2), env)
    # Extended, and killed before its first new epoch is written: still the complete 2-epoch run.
    kill_after(start(args(fashion, folder), env), "resuming")
    assert (folder / "result.json").exists()
    assert "is complete" in train(args(fashion, folder, epochs=2), env).stdout

    last = folder / "last.keras"
    last.write_bytes(last.read_bytes()[:len(last.read_bytes()) // 2])  # truncated
    error = one_line_error(train(args(fashion, folder), env, check=False))
    assert "last.keras is damaged" in error and "--restart_damaged" in error
    assert (folder / "result.json").exists()  # nothing lost yet

    resumed = train(args(fashion, folder, "--restart_damaged"), env)
    assert "resuming from best.keras" in resumed.stdout
    assert history(folder) == history(reference)


def test_a_damaged_best_checkpoint_is_rebuilt_when_it_is_the_last_epoch_else_reported(
        fashion, env, reference, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(reference, folder)
    (folder / ".lock").unlink(missing_ok=True)
    (folder / "result.json").unlink()
    rows = history(reference)
    best = max(range(len(rows)), key=lambda i: float(rows[i]["val_accuracy"])) + 1
    if best != EPOCHS:  # make the last epoch the best one of the record
        text = (folder / "history.csv").read_text().splitlines()
        cells = text[-1].split(",")
        cells[4] = "0.999000"
        (folder / "history.csv").write_text("\n".join(text[:-1] + [",".join(cells)]) + "\n")
    data = bytearray((folder / "best.keras").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    (folder / "best.keras").write_bytes(bytes(data))
    proc = train(args(fashion, folder), env)
    assert "best.keras is damaged" in proc.stdout and "rebuilt from last.keras" in proc.stdout
    assert (folder / "result.json").exists()
    assert (folder / "best.keras").read_bytes() == (folder / "last.keras").read_bytes()

    # The best epoch is not the last: the run cannot be finished as it was.
    (folder / "result.json").unlink()
    text = (folder / "history.csv").read_text().splitlines()
    cells = text[1].split(",")
    cells[4] = "1.000000"
    (folder / "history.csv").write_text("\n".join([text[0], ",".join(cells), *text[2:]]) + "\n")
    (folder / "best.keras").write_bytes(b"PK\x03\x04 truncated")
    error = one_line_error(train(args(fashion, folder), env, check=False))
    assert "best.keras is damaged" in error and "epoch (1) is not the last" in error


def test_disk_full_while_training_names_the_file_and_leaves_no_temporary(fashion, env, tmp_path):
    """On a real full file system: the run folder on a 1 MiB tmpfs (a private mount)."""
    mount = tmp_path / "small"
    mount.mkdir()
    argv = " ".join(f"'{a}'" for a in args(fashion, mount / "run", epochs=1))
    shell = (f"mount -t tmpfs -o size=1m tmpfs {mount} && {sys.executable} {TRAIN} {argv}; "
             f"echo rc=$?; ls -A {mount}/run")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", shell], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    if "rc=" not in proc.stdout:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()[:200]}")
    assert "rc=2" in proc.stdout, proc.stderr[-2000:]
    left = proc.stdout.split("rc=2")[1].split()
    assert not [name for name in left if "tmp" in name], left
    error = proc.stderr.strip().splitlines()
    assert len(error) == 1 and "Traceback" not in proc.stderr
    assert error[0].startswith(f"error: disk full while writing {mount}/run/") and ".keras" in error[0]


SECOND = textwrap.dedent("""
    import subprocess, sys
    first = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)
    for line in first.stdout:
        if line.startswith("epoch 1/"):
            break
    second = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    print(first.pid, second.returncode, second.stderr.strip(), sep="|")
    first.kill()
""")


def test_a_second_trainer_of_the_same_run_exits_2_naming_the_first(fashion, env, tmp_path):
    import socket
    folder = tmp_path / "run"
    command = [sys.executable, str(TRAIN), *map(str, args(fashion, folder, epochs=50))]
    out = subprocess.run([sys.executable, "-c", SECOND, *command], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600).stdout.strip()
    pid, code, error = out.split("|")
    assert code == "2" and error.startswith("error: ") and "\n" not in error
    assert f"being trained by pid {pid} on {socket.gethostname()}" in error
