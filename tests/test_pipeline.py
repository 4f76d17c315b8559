"""A small real sweep, collected and reported: the path `make demo` takes, in seconds."""
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helmholtz.run.folder import open_run, remove_run_files
from helmholtz.run.layout import is_own_file

REPO = Path(__file__).resolve().parents[1]


def run(args, env):
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


def test_real_sweep_is_collected_and_reported(fashion_folder, env, tmp_path):
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
    assert len({r["experiment"] for r in rows}) == 1  # two levels of one experiment
    assert all(r["complete"] in ("True", "true", "1") and float(r["paper_accuracy"]) >= 0
               for r in rows)
    # JPEG at q=5 takes fewer bits than the lossless reference (PNG).
    bits = {r["level"]: float(r["bits_per_sample"]) for r in rows}
    assert bits["5"] < bits["lossless"]

    # Each run saved its best checkpoint's class for every test example, at its own level and
    # at the extra test level, beside the labels; its accuracies are those of the predictions.
    for row in rows:
        folder = Path(row["run"])
        result = json.loads((folder / "result.json").read_text())
        with np.load(folder / "predictions.npz") as saved:
            arrays = {name: saved[name] for name in saved.files}
        own = f"pred@{row['level']}"
        assert sorted(arrays) == sorted(["labels", "group", own, "pred@25"])
        # images depend on no other: each test example is its own group
        assert len(set(arrays.pop("group"))) == 10
        assert all(a.dtype == np.int16 and a.shape == (10,) for a in arrays.values())
        labels = arrays["labels"]
        # the original protocol: the test set is the validation set, its accuracy the history's
        assert result["test_accuracy"] == pytest.approx(np.mean(arrays[own] == labels), abs=1e-6)
        assert result["test_accuracy_at"]["25"] == np.mean(arrays["pred@25"] == labels)

    run(["scripts/report.py", logs, "--out", out], env)
    report = (out / "report.md").read_text()
    assert "### The paper's claims on this data" in report and "lossless" in report
    assert "all-cnns: 1 seed(s) x 10 test examples per level" in report
    images = [line.split("](")[1].rstrip(")") for line in report.splitlines() if line.startswith("![")]
    assert len(images) >= 4
    for name in images:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_writes_outside_logs_and_leaves_the_committed_report_alone():
    import importlib.util
    spec = importlib.util.spec_from_file_location("demo", REPO / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    args = demo.parse_args([])
    for path in (args.log_dir, args.out):
        path = Path(path).resolve()
        assert not path.is_relative_to(REPO / "logs") and not path.is_relative_to(REPO / "docs")
        ignored = subprocess.run(["git", "check-ignore", "-q", str(path / "x")], cwd=REPO)
        assert ignored.returncode == 0, f"{path} is not ignored by git"
    if shutil.which("make"):  # the make target passes the same untracked folders
        make = subprocess.run(["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True)
        line = next(l for l in make.stdout.splitlines() if "scripts/demo.py" in l)
        assert "--log_dir demo/runs" in line and "--out demo/report" in line


def test_predictions_are_a_run_file_that_force_removes(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("predictions.npz", ".predictions.npz.k2j4x9.tmp", "notes.txt"):
        (folder / name).write_text("x")
    assert is_own_file("predictions.npz") and is_own_file(".predictions.npz.k2j4x9.tmp")
    remove_run_files(folder)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]  # the user's file stays
    (folder / "notes.txt").unlink()
    (folder / "predictions.npz").write_text("x")  # a run killed after writing only these
    (folder / ".helmholtz-run").write_text("x")  # and its marker: --force acts on marked folders only
    run = open_run(folder, {"num_epoch": 1}, force=True)
    run.close()
    assert run.state == "new" and not (folder / "predictions.npz").exists()
