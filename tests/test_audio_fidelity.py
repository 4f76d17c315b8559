"""The audio half computes what the original code computed: each step against the
original's own logic, done independently (librosa called as the original called
it, the original's build_dataset and Keras' validation_split, its scripts)."""
import re
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile

from audio import MODELS, SAMPLE_RATE
from audio import data
from audio.codec import mp3_roundtrip
from audio.train import hold_out
from helmholtz.sweep.grid import grid_points

SR = SAMPLE_RATE
ORIGINAL = Path(__file__).resolve().parents[2] / "shared" / "original" / "audio"


def original_features(y):
    """librosa.amplitude_to_db(librosa.feature.melspectrogram(y, sr=sr, n_mels=96)) with
    librosa 0.6's defaults written out where today's differ. `y` is float32: the
    original's float64 buffer held librosa.load's float32 samples, and 0.6's STFT was
    complex64 whatever the input, as today's is for float32 input."""
    mel = librosa.feature.melspectrogram(
        y=y, sr=SR, n_mels=96, n_fft=2048, hop_length=512, power=2.0,
        pad_mode="reflect",  # 0.6's stft padded by reflection; today's default is constant
        norm="slaney",       # 0.6's norm=1 was Slaney's area normalisation
        dtype=np.float64)    # 0.6 built the filters in float64; today's default is float32
    return librosa.amplitude_to_db(mel, ref=1.0, amin=1e-5, top_db=80.0)


@pytest.fixture(scope="module")
def guitar_clip(tmp_path_factory, can_render):
    """A real rendered guitar note through an effect (the built-in generator)."""
    from audio.generate import generate
    root = tmp_path_factory.mktemp("one") / "set"
    manifest = generate(root, clips_per_class=1, seed=3, quiet=True)
    chorus = next(rel for rel, clip in manifest["clips"].items() if clip["effect"] == "Chorus")
    samples, sr = soundfile.read(root / chorus, dtype="float32")
    assert sr == SR
    return samples


@pytest.mark.parametrize("level", ["lossless", 8, 32, 128])
def test_features_are_what_librosa_computed_for_the_original(guitar_clip, level):
    clip = guitar_clip if level == "lossless" else mp3_roundtrip(guitar_clip, SR, level)[0]
    ours = data.mel_features(clip)
    assert ours.shape == (96, 173, 1) and ours.dtype == np.float16
    reference = original_features(clip)
    # equal up to the float16 rounding of the stored features
    half_step = np.spacing(np.abs(reference).astype(np.float16)).astype(np.float64) / 2
    assert (np.abs(ours[..., 0].astype(np.float64) - reference) <= half_step + 1e-9).all()


def test_features_are_decibels_of_power_with_an_80_db_floor():
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    clip = (0.1 * np.sin(2 * np.pi * 440 * t) * np.exp(-4 * t)
            + 1e-4 * rng.standard_normal(SR)).astype(np.float32)
    quiet, loud = (data.mel_features(g * clip)[..., 0].astype(np.float64) for g in (1, 2))
    # amplitude_to_db of a power spectrogram: twice the amplitude is 4x the power, +12 dB
    above_floor = (quiet > quiet.min() + 1) & (loud > loud.min() + 1)
    assert above_floor.sum() > 100
    np.testing.assert_allclose((loud - quiet)[above_floor], 20 * np.log10(4), atol=0.07)
    assert quiet.max() - quiet.min() == pytest.approx(80, abs=0.07)


@pytest.mark.parametrize("n", range(1, 31))
def test_train_test_split_counts_are_the_originals(n):
    items = [(f"c/{i:02d}.wav", 0) for i in range(n)]
    split = data.split_items(items, seed=1)
    assert len(split["train"]) == int(n * 0.8)  # prepare.py: n_train = int(n_load * 0.8)
    assert sorted(split["train"] + split["test"]) == items


def original_hold_out(folders, batch_size, seed, val):
    """build_dataset (class folders sorted, files in folder order, stop at the last
    multiple of the batch size, np.random.seed then shuffle) and Keras 2.1.5
    fit(validation_split=val): training is the first int(N * (1 - val))."""
    paths = [f"{name}/{f}" for name in sorted(folders) for f in folders[name]]
    paths = paths[:int(len(paths) / batch_size) * batch_size]
    state = np.random.get_state()
    np.random.seed(seed)
    idx = np.array(range(len(paths)))
    np.random.shuffle(idx)
    np.random.set_state(state)
    shuffled = [paths[i] for i in idx]
    split_at = int(len(shuffled) * (1. - val))
    return shuffled[:split_at], shuffled[split_at:]


def test_validation_is_the_originals():
    rng = np.random.default_rng(7)
    counts = {"NoFX": 37, "Chorus": 41, "Vibrato": 29, "EQ": 30}
    classes = list(counts)  # the project's label order, not sorted
    # the train split as the cache holds it: labels and files in some other order
    items = [(c, f"{c}_{i:03d}.wav") for c in classes for i in range(counts[c])]
    items = [items[i] for i in rng.permutation(len(items))]
    labels = np.array([classes.index(c) for c, _ in items])
    files = [f for _, f in items]
    # os.listdir order is the file system's; sorted names stand in for it
    folders = {c: sorted(f for cc, f in items if cc == c) for c in classes}
    for batch_size, seed, val in [(50, 2337, 0.25), (32, 0, 0.2), (7, 5, 0.3)]:
        fit, held = hold_out(classes, labels, files, val, batch_size, seed, fixed=False)
        named = [[f"{items[i][0]}/{items[i][1]}" for i in part] for part in (fit, held)]
        assert named == list(original_hold_out(folders, batch_size, seed, val))
    fit, held = hold_out(classes, labels, files, 0.25, 50, 2337, fixed=True)
    assert sorted([*fit, *held]) == list(range(len(items))) and len(held) == 34


def test_fixed_validation_holds_out_whole_notes():
    rng = np.random.default_rng(5)
    classes = ["NoFX", "Chorus", "Vibrato", "EQ"]
    # the train split of a generated set: every class has each training note once
    notes = rng.choice(200, size=37, replace=False).tolist()
    items = [(c, f"{c}/note{j:05d}-{c}-{1 + j % 3}.wav") for c in classes for j in notes]
    items = [items[i] for i in rng.permutation(len(items))]
    labels = np.array([classes.index(c) for c, _ in items])
    files = [f for _, f in items]
    fit, held = hold_out(classes, labels, files, 0.25, 50, 2337, fixed=True)
    assert sorted([*fit, *held]) == list(range(len(items)))
    notes = [{data.note_key(files[i]) for i in part} for part in (fit, held)]
    assert not notes[0] & notes[1]
    # whole notes of 4 clips until a quarter is held out: 37 of 148, rounded up to notes
    assert len(held) == 40 and len(notes[1]) == 10
    # the original protocol's validation is a random quarter of the clips, so it
    # shares notes with training
    fit, held = hold_out(classes, labels, files, 0.25, 50, 2337, fixed=False)
    assert {data.note_key(files[i]) for i in fit} & {data.note_key(files[i]) for i in held}


@pytest.mark.skipif(not ORIGINAL.is_dir(), reason="the original code is not beside the repository")
def test_paper_grid_is_what_the_original_scripts_ran():
    ran = []
    for script in ("train-all-cnns.sh", "train-all-settings.sh"):
        for line in (ORIGINAL / "scripts" / script).read_text().splitlines():
            flags = dict(re.findall(r"--(bitrate|setting) (\d+)", line))
            if flags:
                ran.append((int(flags["setting"]), int(flags["bitrate"])))
    paper = [(MODELS.index(model), level) for model, level in grid_points("audio", "paper")]
    assert sorted(ran) == sorted(paper)
