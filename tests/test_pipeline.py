"""A small real sweep, collected and reported: the path `make demo` takes, in seconds."""
import csv
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(args, env):
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def test_real_sweep_is_collected_and_reported(fashion_folder, tmp_path):
    env = {**os.environ, "HELMHOLTZ_CACHE": str(tmp_path / "cache"), "CUDA_VISIBLE_DEVICES": ""}
    logs, out = tmp_path / "logs", tmp_path / "report"
    sweep = ["scripts/sweep.py", "cifar", "--models", "all-cnns", "--levels", "5", "lossless",
             "--log_dir", logs, "--", "--dataset", "fashion-mnist", "--data", fashion_folder,
             "--num_epoch", 2, "--batch_size", 10, "--test_quality", 25]
    run(sweep, env)
    again = run([*sweep[:-13], "--dry_run", *sweep[-13:]], env)
    assert "2 complete" in again.stdout + again.stderr

    run(["scripts/collect.py", logs], env)
    with open(logs / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["level"] for r in rows) == ["5", "lossless"]
    assert all(r["complete"] in ("True", "true", "1") and float(r["paper_accuracy"]) >= 0
               for r in rows)
    # JPEG at q=5 takes fewer bits than the lossless reference (PNG).
    bits = {r["level"]: float(r["bits_per_sample"]) for r in rows}
    assert bits["5"] < bits["lossless"]

    run(["scripts/report.py", logs, "--out", out], env)
    report = (out / "report.md").read_text()
    assert "## Noise bits" in report and "lossless" in report
    images = [line.split("](")[1].rstrip(")") for line in report.splitlines() if line.startswith("![")]
    assert len(images) >= 4
    for name in images:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
