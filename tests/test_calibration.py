"""The calibration suite (scripts/calibrate.py --quick): every check within tolerance and
every deliberately broken variant flagged."""
import json
import subprocess
import sys

import numpy as np
import pytest

from helmholtz import REPO
from helmholtz.analysis import calibration


def test_quick_calibration_passes_and_flags_every_broken_variant(tmp_path):
    out = tmp_path / "calibration.json"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "calibrate.py"), "--quick",
                           "--json", str(out)], capture_output=True, text=True, timeout=600)
    result = json.loads(out.read_text())
    assert set(result) == {"rows", "negative_controls"}
    assert all(set(r) == {"check", "nominal", "measured", "ok"} for r in result["rows"])
    assert all(set(c) == {"name", "detected"} for c in result["negative_controls"])
    failed = [r["check"] for r in result["rows"] if not r["ok"]]
    assert not failed, done.stdout
    # each broken variant must be caught: seeds held fixed, groups ignored, no t widening
    assert [c["name"].split(" (")[0] for c in result["negative_controls"]] == [
        "no seed resampling", "groups ignored under clustering", "no t widening"]
    assert all(c["detected"] for c in result["negative_controls"]), done.stdout
    assert done.returncode == 0 and "negative controls" in done.stdout
    checks = " ".join(r["check"] for r in result["rows"])
    for words in ("type-I error", "power at", "noise-bits interval", "convergence area",
                  "diverged seed", "10 seeds", "heavy-tailed", "clustered"):
        assert words in checks


def test_simulated_accuracies_are_the_nominal_ones():
    # the known answers the suite checks against: the simulation hits its accuracies
    rng = np.random.default_rng(0)
    sc = calibration.Scenario(seeds=20, examples=5000, group_size=10, icc=0.3, level_icc=0.3,
                              agreement=0.5)
    correct, groups = calibration.simulate(rng, [0.85, 0.80], sc)
    assert correct.mean(axis=(1, 2)) == pytest.approx([0.85, 0.80], abs=0.01)
    assert len(np.unique(groups)) == 500


def test_a_json_path_that_is_a_folder_is_refused(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "calibrate.py"), "--quick",
                           "--json", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
