"""scripts/bench.py: its flags, and every section at tiny sizes (it runs, prints its
tables and writes the JSON).

Nothing here is timed, only the shape of what a user gets.
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helmholtz.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "scripts" / "bench.py"


@pytest.fixture(scope="module")
def driver():
    spec = importlib.util.spec_from_file_location("bench_driver", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench(args, env):
    return subprocess.run([sys.executable, str(BENCH), *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_each_scale_sets_every_size_and_a_given_size_wins(driver, tmp_path):
    out = ["--out", str(tmp_path / "bench.json")]
    full, quick, smoke = (driver.parse_args(out + flags) for flags in ([], ["--quick"], ["--smoke"]))
    assert (full.scale, quick.scale, smoke.scale) == ("full", "quick", "smoke")
    assert full.images == 20_000 and quick.images == 5_000 and smoke.images == 300
    assert full.repeats == 3 and smoke.repeats == 1 and smoke.seeds == 1
    assert driver.parse_args(out + ["--smoke", "--steps", "7"]).steps == 7
    assert full.sections == ["data", "audio", "codecs", "train", "parity"]
    with pytest.raises(UsageError, match="--images must be at least 1"):
        driver.parse_args(out + ["--smoke", "--images", "0"])
    with pytest.raises(SystemExit):  # one scale at a time
        driver.parse_args(out + ["--quick", "--smoke"])


def test_targets_say_goal_reached_and_met(driver, capsys):
    rows = driver.targets({"data": {"speedup": 16.0, "projected_seconds_all_levels": {"ours": 25.0}}})
    assert [(r["target"], r["goal"], r["reached"], r["met"]) for r in rows] == [
        ("data preparation speedup", 15.0, 16.0, True),
        ("nine CIFAR-10 levels, seconds", 20.0, 25.0, False)]  # seconds: lower is better
    printed = capsys.readouterr().out
    assert "Targets" in printed and "goal" in printed and "reached" in printed and "NO" in printed


def test_codecs_section_times_every_codecs_grid(fashion_folder, can_render, env, tmp_path):
    out = tmp_path / "bench.json"
    proc = bench(["--smoke", "--sections", "codecs", "--data", fashion_folder, "--codec_images", 20,
                  "--out", out], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())["codecs"]
    import audio
    import cifar
    assert [r["codec"] for r in result["images"]["codecs"]] == list(cifar.CODECS)
    assert [r["codec"] for r in result["audio"]["codecs"]] == list(audio.CODECS)
    assert all(r["grid_seconds"] > 0 and r["grid_seconds_from_cpu"] > 0
               for r in result["images"]["codecs"])
    assert "Image codecs" in proc.stdout and "slowest image codec's grid" in proc.stdout


def test_data_and_audio_sections_write_their_figures(fashion_folder, can_render, env, tmp_path):
    out = tmp_path / "bench.json"
    proc = bench(["--smoke", "--sections", "data", "audio", "--data", fashion_folder,
                  "--images", 30, "--original_images", 5, "--out", out], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Data preparation" in proc.stdout and "Audio preparation" in proc.stdout
    assert "load average" in proc.stdout
    result = json.loads(out.read_text())
    assert {"date", "machine", "data", "audio", "targets", "seconds"} <= set(result)
    assert result["scale"] == "smoke" and result["sizes"]["clips_per_class"] == 1
    assert result["machine"]["cores"] >= 1 and "peak_gflops_estimate" in result["machine"]
    data = result["data"]
    assert [row["quality"] for row in data["levels"]] == [1, 5, 10, 15, 20, 25, 50, 75, 100]
    for row in data["levels"]:
        assert row["ours_img_s"] > 0 and row["original_img_s"] > 0
        assert row["same_pixels"]  # both ways decode the same JPEG to the same pixels
    assert data["projected_seconds_all_levels"]["ours"] > 0 and data["speedup"] > 0
    audio = result["audio"]
    assert audio["clips"] == 12 and [r["kbps"] for r in audio["levels"]] == [8, 16, 32, 64, 96, 128]  # the paper levels
    assert audio["realtime_per_core"] > 0 and audio["clips_per_s_total"] > 0
    assert {t["target"] for t in result["targets"]} == {
        "data preparation speedup", "nine CIFAR-10 levels, seconds", "audio real time per core"}


def test_training_and_parity_sections_compare_ours_with_the_baseline(fashion_folder, can_render,
                                                                     env, tmp_path):
    out = tmp_path / "bench.json"
    proc = bench(["--smoke", "--sections", "train", "parity", "--data", fashion_folder,
                  "--no_profile", "--parity_train", 20, "--parity_test", 10, "--out", out], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    for domain, model, batch in (("cifar", "all-cnns", 128), ("audio", "cnn_x3_mlp_0", 50)):
        train = result["train"][domain]
        assert train["model"] == model and train["batch_size"] == batch  # the trainers' defaults
        assert [c["name"] for c in train["contestants"]] == ["ours", "keras baseline"]
        assert train["contestants"][1]["precision"] == "float32"
        assert all(c["samples_per_s"] > 0 and c["gflops"] > 0 for c in train["contestants"])
    # all-cnns: 134 M multiply-adds per 32x32 image, counted from its layers
    assert 265 < result["train"]["cifar"]["forward_mflops_per_sample"] < 272
    assert result["train"]["cifar"]["input_pipeline_samples_per_s"] > 0
    parity = result["parity"]
    assert [r["precision"] for r in parity["runs"]][0] == "float32"
    assert {"float32", "bf16", "difference", "holds"} <= set(parity)
    assert parity["bf16"]["precision"] == "mixed_bfloat16"
    assert parity["train_images"] == 20 and parity["model"] == "cnns-dense-128"
    assert "Accuracy parity" in proc.stdout and "Targets" in proc.stdout


def test_bad_sizes_end_with_one_line_and_write_nothing(env, tmp_path):
    out = tmp_path / "bench.json"
    proc = bench(["--steps", 0, "--out", out], env)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --steps must be at least 1")
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()
