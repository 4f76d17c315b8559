"""The same sweep command, run twice on one machine, writes the same histories."""
import csv
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def histories(logs):
    out = {}
    for path in sorted(Path(logs).rglob("history.csv")):
        with open(path, newline="") as f:
            rows = [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]
        out[path.relative_to(logs).as_posix()] = rows
    return out


def test_a_sweep_with_two_jobs_repeats_exactly(fashion_folder, env, tmp_path):
    results = []
    for attempt in ("first", "second"):
        logs = tmp_path / attempt
        proc = subprocess.run(
            [sys.executable, "scripts/sweep.py", "cifar", "--models", "all-cnns",
             "--levels", "5", "lossless", "--jobs", "2", "--log_dir", str(logs), "--",
             "--dataset", "fashion-mnist", "--data", str(fashion_folder), "--num_epoch", "2",
             "--batch_size", "10"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        results.append(histories(logs))
    first, second = results
    assert len(first) == 2 and all(len(rows) == 2 for rows in first.values())
    assert first == second
