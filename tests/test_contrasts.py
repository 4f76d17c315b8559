"""Experiments that differ in one setting (e.g. bf16 beside float32), compared example by
example on the seeds both ran: a known-equal pair is called equivalent, a pair 6 points
apart is called different, and unrelated experiments are never paired."""
import json

import numpy as np
import pytest

from helmholtz.analysis import contrasts
from helmholtz.analysis.results import collect
from helpers import write_history

EXAMPLES = 4000
LABELS = np.arange(EXAMPLES) % 10


def write_runs(root, accuracy, rng, levels=(1, "lossless"), seeds=(0, 1, 2), **settings):
    """Complete runs of all-cnns at `levels` whose predictions have accuracy[level];
    `settings` go into config.json (they tell the experiments apart)."""
    base = rng.standard_normal(EXAMPLES)  # shared hardness: runs agree on most examples
    for level in levels:
        for seed in seeds:
            folder = root / f"quality_{level}" / f"seed_{seed}"
            folder.mkdir(parents=True)
            config = dict(domain="cifar", dataset="cifar10", model="all-cnns", setting=0,
                          level_name="quality", level=level, seed=seed, num_epoch=3,
                          bits_per_sample=1000.0, **settings)
            (folder / "config.json").write_text(json.dumps(config))
            write_history(folder, [0.5, accuracy[level], accuracy[level]], 1.0)
            right = (np.sqrt(0.9) * base + np.sqrt(0.1) * rng.standard_normal(EXAMPLES)
                     < np.quantile(base, accuracy[level]))
            pred = np.where(right, LABELS, (LABELS + 1) % 10).astype(np.int16)
            np.savez(folder / "predictions.npz", labels=LABELS.astype(np.int16),
                     **{f"pred@{level}": pred})
            (folder / "result.json").write_text(json.dumps(dict(complete=True, epochs=3)))


def table(root):
    return contrasts.contrast_table(collect(root)[0], n_boot=400).set_index(["setting", "level"])


def test_equal_runs_in_two_precisions_are_equivalent_and_a_6_point_gap_differs(tmp_path):
    rng = np.random.default_rng(0)
    write_runs(tmp_path / "f32", {1: 0.60, "lossless": 0.85}, rng, precision="float32")
    write_runs(tmp_path / "bf16", {1: 0.54, "lossless": 0.85}, rng, precision="mixed_bfloat16")
    rows = table(tmp_path)
    same, apart = rows.loc[("precision", "lossless")], rows.loc[("precision", 1)]
    assert (same.a, same.b) == ("float32", "mixed_bfloat16")
    assert same.seeds == 3 and same.examples == EXAMPLES
    assert same.verdict == contrasts.EQUIVALENT and same.low > -0.02 and same.high < 0.02
    assert apart.verdict == contrasts.DIFFERS
    assert apart.difference == pytest.approx(-0.06, abs=0.02) and apart.high < 0
    lines = contrasts.contrast_section(collect(tmp_path)[0], n_boot=400)
    assert lines[0] == "## Experiments that differ in one setting"
    assert any("| precision | float32 | mixed_bfloat16 | all-cnns | lossless | 3 x 4000 |" in line
               for line in lines)


def test_experiments_that_differ_in_two_settings_are_not_compared(tmp_path):
    rng = np.random.default_rng(1)
    write_runs(tmp_path / "a", {1: 0.6, "lossless": 0.8}, rng, precision="float32", num_epoch_x=1)
    write_runs(tmp_path / "b", {1: 0.6, "lossless": 0.8}, rng, precision="mixed_bfloat16",
               num_epoch_x=2)
    assert contrasts.contrast_table(collect(tmp_path)[0], n_boot=100).empty
    assert contrasts.contrast_section(collect(tmp_path)[0], n_boot=100) == []


def test_runs_without_a_shared_seed_are_not_estimable(tmp_path):
    rng = np.random.default_rng(2)
    write_runs(tmp_path / "a", {"lossless": 0.8}, rng, levels=("lossless",), seeds=(0,),
               precision="float32")
    write_runs(tmp_path / "b", {"lossless": 0.8}, rng, levels=("lossless",), seeds=(1,),
               precision="mixed_bfloat16")
    row = table(tmp_path).loc[("precision", "lossless")]
    assert row.verdict == "not estimable" and "no seed" in row.note
