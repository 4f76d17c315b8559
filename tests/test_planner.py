"""The planner (helmholtz/analysis/planner.py, scripts/plan.py): variance components from a pilot,
power over designs and the cheapest design that reaches a target."""
import subprocess
import sys

import numpy as np
import pytest

from helmholtz import REPO
from helmholtz.analysis import calibration, planner, stats

PLAN = REPO / "scripts" / "plan.py"


def test_components_recover_a_seed_effect_and_groups():
    rng = np.random.default_rng(0)
    sc = calibration.Scenario(seeds=40, examples=2000, seed_sd=0.01)
    correct, _ = calibration.simulate(rng, [0.85, 0.85], sc)
    parts = planner.components(correct)
    # two runs, each with a seed SD of 1 point: their difference has an SD of 1.4
    assert np.sqrt(parts.seed) == pytest.approx(0.01 * np.sqrt(2), rel=0.3)
    clustered = calibration.Scenario(seeds=10, examples=1200, group_size=12, icc=0.3, level_icc=0.3,
                                     agreement=0.5, seed_sd=0.005)
    correct, groups = calibration.simulate(rng, [0.85, 0.85], clustered)
    grouped = planner.components(correct, groups)
    assert grouped.group_size == 12 and grouped.shared > 0


def test_power_grows_with_seeds_and_examples_and_the_cheapest_design_reaches_the_target():
    parts = planner.Components(seed=0.01 ** 2 * 2, shared=0.0, run=0.3 ** 2)
    powers = planner.grid(parts, stats.MARGIN, -stats.MARGIN / 4)
    assert powers[(3, 2000)] < powers[(10, 2000)] < powers[(20, 2000)]
    assert powers[(10, 500)] <= powers[(10, 10000)]
    # at the margin: at most alpha (the two-way bootstrap errs on the wide side)
    assert stats.ALPHA / 2 < planner.power(-stats.MARGIN, stats.MARGIN, 10, 2000, parts) <= stats.ALPHA
    best = planner.cheapest(powers, 0.8)
    assert powers[best] >= 0.8 and all(p < 0.8 for (s, n), p in powers.items() if s < best[0])


def test_plan_from_flags_and_from_a_pilot(tmp_path):
    done = subprocess.run([sys.executable, str(PLAN), "--seed_sd", "0.014", "--run_sd", "0.3",
                           "--power", "0.8"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "cheapest reaching 0.8: " in done.stdout and "seeds \\ examples" in done.stdout
    study = subprocess.run([sys.executable, str(PLAN), str(REPO / "docs" / "results" / "study" / "runs")],
                           capture_output=True, text=True, timeout=120)
    assert study.returncode == 0, study.stderr
    assert "audio / generated" in study.stdout and "12 examples per group" in study.stdout
    bad = subprocess.run([sys.executable, str(PLAN)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
