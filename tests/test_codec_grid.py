"""The train x test grid across codecs (--test_codec): a run tests its best checkpoint
on the same test examples coded with other codecs, records each codec's predictions,
accuracy and bits, and the report judges each against the model's own codec, paired."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import audio
import audio.train
import cifar
import cifar.train
from cifar.codec import compress
from helmholtz.data import codecs
from helmholtz.errors import UsageError
from helmholtz.report.write import write_report
from helpers import read_idx, write_history

REPO = Path(__file__).resolve().parents[1]


def test_a_run_tests_its_best_checkpoint_on_the_other_codecs_data(fashion_folder, env, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "cifar" / "train.py"), "--dataset", "fashion-mnist",
         "--data", str(fashion_folder), "--fixed", "--num_epoch", "1", "--batch_size", "9",
         "--quality", "50", "--codec", "webp", "--test_codec", "jpeg", "avif", "webp",
         "--log_dir", str(tmp_path)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = tmp_path / "cifar-fashion-mnist" / "all-cnns" / "webp_q50" / "seed_0"
    saved = np.load(folder / "predictions.npz")
    # its own codec once, as always; each other codec at the run's level
    assert {k for k in saved.files if k.startswith("pred@")} == {"pred@50", "pred@jpeg:50",
                                                                 "pred@avif:50"}
    result = json.loads((folder / "result.json").read_text())
    for name in ("jpeg", "avif"):
        assert result["test_accuracy_across"][name]["50"] == \
            pytest.approx(np.mean(saved[f"pred@{name}:50"] == saved["labels"]))
    # The test bits of each codec, from coding the ten test images here (upright, --fixed).
    config = json.loads((folder / "config.json").read_text())
    assert config["test_codecs"] == ["jpeg", "avif", "webp"]
    # Fashion-MNIST's 28 x 28 images are padded to 32 x 32 with zeros before coding.
    images = np.pad(read_idx(Path(fashion_folder) / "t10k-images-idx3-ubyte.gz"),
                    ((0, 0), (2, 2), (2, 2)))[..., None]
    for name in ("jpeg", "avif", "webp"):
        coded = compress(images, 50, codec=codecs.room(cifar.SPEC, name))
        assert config["payload_bits_per_sample_across"][name]["50"] == pytest.approx(8 * coded.payload.mean())
        assert config["bits_per_sample_across"][name]["50"] == pytest.approx(8 * coded.bytes.mean())
    # The predictions are the best checkpoint's on each codec's decoded images, fed as the
    # trainer feeds them (a fraction of 255, grey as three channels), in the fixed test order.
    from helmholtz.backend import keras
    from helmholtz.run.splits import fixed_shuffle
    best = keras.models.load_model(folder / "best.keras")
    order = fixed_shuffle(len(images))
    for name in ("jpeg", "avif"):
        decoded = compress(images, 50, codec=codecs.room(cifar.SPEC, name)).data[order]
        x = np.repeat(decoded.astype(np.float32) / 255.0, 3, axis=-1)
        assert np.array_equal(np.argmax(best.predict(x, verbose=0), axis=-1), saved[f"pred@{name}:50"])


def test_the_plan_leaves_out_the_own_codec_lossless_and_levels_a_codec_cannot_code(capsys):
    args = audio.train.parse_args(["--bitrate", "8", "--test_bitrate", "64", "lossless",
                                   "--test_codec", "mp3", "aac", "vorbis", "opus", "aac"])
    plan = codecs.cross_tests(audio.SPEC, args, [args.level, *args.test_levels])
    assert plan == {"aac": [64], "vorbis": [64], "opus": [8, 64]}  # mp3 is the run's own
    notes = capsys.readouterr().out
    assert "not tested with aac at 8" in notes and "not tested with vorbis at 8" in notes
    args = cifar.train.parse_args(["--quality", "50", "--test_codec", "heif"])
    with pytest.raises(UsageError, match="unknown codec 'heif'"):
        codecs.settings(cifar.SPEC, args, [50])


# ---------------------------------------------------------------- the report's grid

N = 400
LABELS = (np.arange(N) % 10).astype(np.int16)


def answers(accuracy, shift=0):
    """Predictions right on `accuracy` of the examples (starting at `shift`)."""
    right = (np.arange(N) - shift) % N < round(accuracy * N)
    return np.where(right, LABELS, (LABELS + 1) % 10).astype(np.int16)


def make_run(root, codec, seed, own, across, bits):
    tag = "quality_50" if codec == "jpeg" else f"{codec}_q50"
    folder = root / "cifar" / "all-cnns" / tag / f"seed_{seed}"
    folder.mkdir(parents=True)
    config = dict(domain="cifar", dataset="cifar10", model="all-cnns", setting=0, params=701386,
                  level_name="quality", level=50, seed=seed, num_epoch=12, batch_size=128,
                  fixed=True, protocol="fixed", precision="float32", bits_per_sample=9000.0,
                  payload_bits_per_sample=8000.0, test_codecs=list(across),
                  payload_bits_per_sample_across={c: {"50": b} for c, b in bits.items()})
    if codec != "jpeg":
        config["codec"] = {"name": codec, "library": "test", "version": "1"}
    (folder / "config.json").write_text(json.dumps(config))
    write_history(folder, [0.8] * 12, 1.0)
    (folder / "result.json").write_text(json.dumps(dict(complete=True, test_accuracy=0.8)))
    np.savez(folder / "predictions.npz", labels=LABELS, **{"pred@50": own},
             **{f"pred@{c}:50": p for c, p in across.items()})


def test_the_report_judges_each_codecs_test_data_against_the_models_own(tmp_path):
    logs = tmp_path / "logs"
    bits = {"jpeg": 1600.0, "webp": 1200.0}
    for seed in (0, 1):
        # Trained on JPEG: 80% on its own data, 60% on WebP's (20 points lost).
        make_run(logs, "jpeg", seed, answers(0.8, seed), {"webp": answers(0.6, seed)}, bits)
        # Trained on WebP: the same answers on JPEG's data as on its own.
        make_run(logs, "webp", seed, answers(0.7, seed), {"jpeg": answers(0.7, seed)}, bits)
    text = write_report(logs, tmp_path / "out", n_boot=200).read_text()
    section = text.split("## Train x test across codecs")[1].split("\n## ")[0]
    assert "### cifar / cifar10, all-cnns, level 50" in section
    accuracy, difference = section.split("Against the model's own codec")
    acc = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
           for line in accuracy.splitlines() if line.startswith("| ")}
    diff = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in difference.splitlines() if line.startswith("| ")}
    assert acc["train \\ test"] == ["jpeg", "webp", "seeds"]
    assert acc["test bits/sample"][:2] == ["1,600", "1,200"]
    assert acc["jpeg"][0].startswith("80.0 (") and acc["jpeg"][1].startswith("60.0 (")
    assert acc["jpeg"][2] == "2" and acc["webp"][0].startswith("70.0 (")
    assert diff["jpeg"][0] == "own" and diff["jpeg"][1].startswith("-20.0 (")
    assert diff["jpeg"][1].endswith("inferior") and "non-inferior" not in diff["jpeg"][1]
    # Paired example by example: the same answers differ by exactly nothing in every replicate.
    assert diff["webp"] == ["+0.0 (+0.0 to +0.0) non-inferior", "own"]
    assert (tmp_path / "out" / "codec_grid_cifar_cifar10_all-cnns_50.png").stat().st_size > 1000
