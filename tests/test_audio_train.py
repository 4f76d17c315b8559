"""audio/train.py end to end on the generated effects set: learning, run folder, bad input."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helmholtz.run import trainer
from helmholtz.run.layout import experiment_key

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO / "audio" / "train.py"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
# config.json of the first test's command as the trainer wrote it before the domain
# contract (helmholtz.domain), less what names the machine, the code's version and
# the data's place: the same keys and values, so older runs stay the same experiment.
MACHINE = ("versions", "git_commit", "command", "host", "threads", "cpu", "experiment", "data")
PINNED_CONFIG = {
    "batch_size": 50, "bits_per_sample": 66040.0, "bits_per_sample_at": {"8": 17280.0},
    "classes": ["NoFX", "Distortion", "Tremolo"], "code_family": 2, "data_format": 3,
    "dataset": "three-effects", "domain": "audio", "fixed": False, "input_shape": [96, 173, 1],
    "level": 32, "level_name": "bitrate", "model": "cnn_x3_mlp_0", "num_epoch": 12,
    "optimizer": {"epsilon": 1e-07, "learning_rate": 1.0, "name": "adadelta", "rho": 0.95},
    "params": 46683, "payload_bits_per_sample": 65208.0, "payload_bits_per_sample_at": {"8": 16704.0},
    "precision": "float32", "protocol": "original", "seed": 2337, "setting": 0,
    "steps_per_epoch": 3, "subset": None, "test_levels": [8], "test_size": 60, "test_subset": None,
    "train_size": 150, "val": 0.25, "val_size": 50}


@pytest.fixture(scope="module")
def three_effects(tmp_path_factory):
    """A small generated set (three clearly different effects, 100 clips each)
    as a folder of class folders, the layout the original expected."""
    if not SOUNDFONT.is_file():
        pytest.skip("needs the Debian package fluid-soundfont-gm")
    pytest.importorskip("tinysoundfont")
    from audio.generate import generate
    full = tmp_path_factory.mktemp("generated")
    generate(full, clips_per_class=100, quiet=True)
    folder = tmp_path_factory.mktemp("effects") / "three-effects"
    for name in ("NoFX", "Distortion", "Tremolo"):
        shutil.copytree(full / name, folder / name)
    return folder


def train(args, env, cwd=REPO):
    return subprocess.run([sys.executable, str(TRAIN), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_short_training_learns_and_records_the_test_split(three_effects, env, tmp_path):
    proc = train(["--bitrate", 32, "--setting", 0, "--num_epoch", 12, "--data", three_effects,
                  "--log_dir", tmp_path, "--test_bitrate", 8, "--seed", 2337], env, cwd=REPO / "audio")
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = tmp_path / "audio-three-effects" / "cnn_x3_mlp_0" / "bitrate_32" / "seed_2337"
    result = json.loads((folder / "result.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    assert {k: v for k, v in config.items() if k not in MACHINE} == PINNED_CONFIG
    assert config["data"] == str(three_effects) and config["experiment"] == experiment_key(config)
    assert config["optimizer"]["learning_rate"] == 1.0 and config["batch_size"] == 50
    # 300 clips: 240 train, 60 test; as the original, 200 of the 240 (a multiple of the
    # batch size) are kept, and the last 25% of them validate.
    assert (config["train_size"], config["val_size"], config["test_size"]) == (150, 50, 60)
    assert "40 of 240 training clips left out" in proc.stdout
    assert result["epochs"] == 12 and result["test_accuracy"] >= 0.5, result  # chance is 1/3
    assert "8" in result["test_accuracy_at"]
    # MP3 at 32 kbps for 2 s: about 64 kbit per clip, total and payload (the frames
    # that code the clip's 2 s: within two frames of 64 kbit; the total adds the delay's frame)
    assert config["bits_per_sample"] == pytest.approx(64_000, rel=0.1)
    assert config["payload_bits_per_sample"] == pytest.approx(64_000, abs=2 * 8 * 105)
    assert config["payload_bits_per_sample"] < config["bits_per_sample"]
    at, payload_at = config["bits_per_sample_at"], config["payload_bits_per_sample_at"]
    assert set(at) == set(payload_at) == {"8"} and payload_at["8"] < at["8"]
    assert payload_at["8"] == pytest.approx(16_000, abs=2 * 8 * 72)


def test_generated_set_missing_says_how_to_make_it(env, tmp_path):
    proc = train(["--bitrate", 32, "--log_dir", tmp_path],
                 {**env, "HELMHOLTZ_CACHE": str(tmp_path / "empty")})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--generate" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("flags, words", [
    (["--bitrate", "33"], "33"), (["--bitrate", "abc"], "abc"),
    (["--setting", "6"], "setting"), (["--val", "1.5"], "--val"),
])
def test_bad_flags_give_one_line_and_exit_2(flags, words, env, tmp_path):
    proc = train([*flags, "--log_dir", tmp_path], env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]
    assert not any(tmp_path.iterdir())


def test_every_seed_trains_and_tests_on_the_same_clips(three_effects, env):
    """--seed varies training only: the study pairs test clips across seeds by position."""
    from audio import SPEC
    cache = env["HELMHOLTZ_CACHE"]
    data = []
    for seed in (0, 1):
        args = trainer.parse_args(SPEC, ["--bitrate", "lossless", "--data", str(three_effects),
                                         "--seed", str(seed), "--cache_dir", cache])
        data.append(trainer.load_data(SPEC, args)[0])
    a, b = data
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, split)[0], getattr(b, split)[0])
        np.testing.assert_array_equal(getattr(a, split)[1], getattr(b, split)[1])


def test_the_test_clips_are_grouped_by_their_dry_note(three_effects, env):
    """The effect versions of one note are dependent test examples: one group, which the
    bootstrap draws as a unit (predictions.npz records it as `group`)."""
    from audio import SPEC
    args = trainer.parse_args(SPEC, ["--bitrate", "lossless", "--data", str(three_effects),
                                     "--cache_dir", env["HELMHOLTZ_CACHE"]])
    data = trainer.load_data(SPEC, args)[0]
    labels, groups = data.test[1], data.groups
    assert len(groups) == len(labels) == 60
    _, sizes = np.unique(groups, return_counts=True)
    assert (sizes == 3).all()  # 20 notes, each heard through the three effects
    for g in np.unique(groups):
        assert sorted(labels[groups == g]) == [0, 1, 2]
