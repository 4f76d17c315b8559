"""Audio data step: the generator, the MP3 round trip, features, split, caches, bad input."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile

from audio import CLASSES, SAMPLE_RATE
from audio import data
from audio.codec import ENCODER_DELAY, LOSSLESS, mp3_decode, mp3_encode, mp3_frames, \
    mp3_roundtrip, roundtrip
from helmholtz.errors import UsageError, cli_main

SR = SAMPLE_RATE


def noise_clip(seconds=2.0, seed=0):
    """Coloured noise with a decaying envelope: a sharp autocorrelation peak, guitar-like level."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = scipy.signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(n)) * 0.02
    return (x * np.exp(-np.arange(n) / SR)).astype(np.float32)


def tone(freq, seconds=0.5, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3)) * np.exp(-3 * t)
    return (0.3 * x + 0.01 * np.random.default_rng(seed).standard_normal(len(t))).astype(np.float32)


def make_source(root, classes=("high", "low", "mid"), per_class=5, seconds=0.5):
    freqs = {"low": 110.0, "mid": 330.0, "high": 990.0}
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            x = tone(freqs.get(name, 220.0) * (1 + 0.02 * i), seconds, seed=c * 100 + i)
            soundfile.write(root / name / f"{name}_{i}.wav", x, SR, subtype="PCM_16")
    return root


def snr_db(reference, decoded):
    return 10 * np.log10(np.sum(reference ** 2) / np.sum((reference - decoded) ** 2))


def lag_of_peak(reference, decoded):
    c = scipy.signal.correlate(decoded, reference, mode="full", method="fft")
    return int(np.argmax(c)) - (len(reference) - 1)


def run_cli(argv, capsys):
    """Run audio/data.py's command line; return its one-line error (exit status 2)."""
    with pytest.raises(SystemExit) as stop:
        cli_main(lambda: data.main(argv))
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def nothing_written(folder):
    return not [p for p in Path(folder).rglob("*") if p.suffix in (".h5", ".tmp")]


# ---------------------------------------------------------------- MP3 step

@pytest.mark.parametrize("kbps", [8, 16, 32, 64, 128])
def test_mp3_size_length_and_alignment(kbps):
    x = noise_clip()
    decoded, nbytes = mp3_roundtrip(x, SR, kbps)
    assert decoded.dtype == np.float32 and len(decoded) == len(x)
    # CBR: the frames carry exactly the bitrate; a 2 s clip also holds the
    # encoder delay and the last frame's padding, hence the looser bound.
    frames, rate = mp3_decode(mp3_encode(x, SR, kbps))
    assert nbytes * 8 / (len(frames) / rate) == pytest.approx(kbps * 1000, rel=0.01)
    assert nbytes == pytest.approx(kbps * 1000 / 8 * 2.0, rel=0.1)
    assert lag_of_peak(x, decoded) == 0


def test_lame_lowers_the_rate_at_low_bitrates_and_we_resample_back():
    x = noise_clip(0.5)
    rates = {kbps: mp3_decode(mp3_encode(x, SR, kbps))[1] for kbps in (8, 16, 32, 128)}
    assert rates == {8: 8000, 16: 16000, 32: 22050, 128: 44100}
    odd = x[:SR // 2 + 123]  # any length comes back at the same length
    assert len(mp3_roundtrip(odd, SR, 16)[0]) == len(odd)


def test_quality_falls_with_bitrate():
    x = noise_clip()
    snr = {kbps: snr_db(x, mp3_roundtrip(x, SR, kbps)[0]) for kbps in (8, 32, 128)}
    assert snr[8] < snr[32] < snr[128]
    assert snr[128] > 15


def test_lossless_keeps_samples_and_counts_flac_and_pcm_bytes(tmp_path):
    x = noise_clip(0.5)
    y, sizes = roundtrip(x, SR, LOSSLESS)
    assert np.array_equal(x, y) and sizes.pcm == 2 * len(x)
    # the FLAC file of the clip, as a FLAC file on disk of its 16-bit samples
    soundfile.write(tmp_path / "clip.flac", x, SR, format="FLAC", subtype="PCM_16")
    flac = (tmp_path / "clip.flac").read_bytes()
    assert sizes.total == len(flac) < sizes.pcm
    # the payload is the audio frames: the first one starts where it says, with
    # FLAC's frame sync code (14 bits 11111111111110, then a zero bit)
    start = sizes.total - sizes.payload
    assert flac[:4] == b"fLaC" and flac[start] == 0xFF and flac[start + 1] >> 1 == 0x7C
    assert soundfile.read(tmp_path / "clip.flac", dtype="int16")[0].tolist() == \
        np.round(x * 32768).astype(np.int16).tolist()
    # silence codes to almost nothing; its metadata stays
    silent = roundtrip(np.zeros(SR // 2, np.float32), SR, LOSSLESS)[1]
    assert silent.payload < 100 and silent.total - silent.payload == start


@pytest.mark.parametrize("kbps", [8, 16, 32, 48, 64, 128])
def test_mp3_frames_and_payload(kbps):
    x = noise_clip()
    mp3 = mp3_encode(x, SR, kbps)
    frames = mp3_frames(mp3)
    decoded, rate = mp3_decode(mp3)
    # the headers account for every byte, and the decoder gives F samples per frame
    assert sum(f.length for f in frames) == len(mp3) and frames[0].rate == rate
    assert len(decoded) == len(frames) * frames[0].samples
    _, sizes = roundtrip(x, SR, kbps)
    assert sizes.total == len(mp3) and sizes.payload <= sizes.total
    # payload: the frames whose output overlaps the clip, which starts ENCODER_DELAY
    # samples into the decoded stream (as mp3_roundtrip lines it up)
    per_frame = frames[0].samples
    first = ENCODER_DELAY // per_frame
    last = int(np.ceil((ENCODER_DELAY + len(x) * rate / SR) / per_frame)) - 1
    assert sizes.payload == sum(f.length for f in frames[first:last + 1])
    # CBR: the payload carries the bitrate for the clip's 2 s, give or take one frame at each end
    frame_bytes = kbps * 1000 / 8 * per_frame / rate
    assert abs(sizes.payload - kbps * 1000 / 8 * 2.0) <= 2 * frame_bytes
    if per_frame == 576:  # below 32 kHz the first frame lies wholly in the delay: left out
        assert first == 1 and sizes.payload <= sizes.total - frames[0].length


@pytest.mark.skipif(shutil.which("lame") is None, reason="Debian `lame` command not installed")
@pytest.mark.parametrize("kbps", [16, 32, 128])
def test_matches_the_lame_command(tmp_path, kbps):
    x = noise_clip()
    soundfile.write(tmp_path / "in.wav", x, SR, subtype="PCM_16")
    subprocess.run(["lame", "--quiet", "-b", str(kbps), str(tmp_path / "in.wav"),
                    str(tmp_path / "out.mp3")], check=True)
    cli, cli_rate = soundfile.read(tmp_path / "out.mp3", dtype="float32")
    ours_mp3 = mp3_encode(x, SR, kbps)
    ours, rate = mp3_decode(ours_mp3)
    assert rate == cli_rate
    assert len(ours_mp3) == pytest.approx((tmp_path / "out.mp3").stat().st_size, rel=0.03)
    # The command writes a gapless tag that the decoder may honour: line up first.
    lag = lag_of_peak(cli, ours)
    a, b = ours[max(lag, 0):], cli[max(-lag, 0):]
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.99


# ---------------------------------------------------------------- levels
# (features against the original's librosa: tests/test_audio_fidelity.py)

@pytest.mark.parametrize("text, level", [("32", 32), (" 8", 8), (128, 128),
                                         ("lossless", LOSSLESS), ("LOSSLESS", LOSSLESS)])
def test_parse_level(text, level):
    assert data.parse_level(text) == level


@pytest.mark.parametrize("text", ["33", "abc", "0", "1000", ""])
def test_parse_level_rejects_what_lame_does_not_take(text):
    with pytest.raises(UsageError, match="lossless"):
        data.parse_level(text)


# ---------------------------------------------------------------- split and caches

@pytest.fixture
def source(tmp_path):
    return make_source(tmp_path / "clips")


def test_split_is_identical_across_bitrates_and_per_class(source, tmp_path):
    cache = tmp_path / "cache"
    splits = {level: {s: data.load_split(level, s, source, cache) for s in data.SPLITS}
              for level in (8, LOSSLESS)}
    for s in data.SPLITS:
        assert splits[8][s]["files"] == splits[LOSSLESS][s]["files"]
        assert np.array_equal(splits[8][s]["label"], splits[LOSSLESS][s]["label"])
    train, test = splits[8]["train"], splits[8]["test"]
    assert not set(train["files"]) & set(test["files"])
    assert len(train["files"]) + len(test["files"]) == 15
    assert np.bincount(test["label"]).tolist() == [1, 1, 1]  # 20% of 5 per class
    assert train["classes"] == ["high", "low", "mid"]
    assert train["data"].shape == (12, 96, 44, 1) and train["data"].dtype == np.float16
    assert train["label"].dtype == np.int64 and train["bytes"].dtype == np.int64
    # real MP3 bytes at 8 kbps, FLAC bytes for lossless beside 16-bit PCM (0.5 s clips)
    assert 400 < train["bytes"].mean() < 900
    assert (train["payload"] <= train["bytes"]).all() and (train["payload"] > 0).all()
    lossless = splits[LOSSLESS]["train"]
    assert (lossless["pcm_bytes"] == 2 * SR // 2).all() and (train["pcm_bytes"] == 2 * SR // 2).all()
    assert (lossless["payload"] < lossless["bytes"]).all() and (lossless["bytes"] < 2 * SR // 2).all()
    # the codec changed the features, not the layout
    assert not np.array_equal(train["data"], splits[LOSSLESS]["train"]["data"])


def test_split_depends_on_the_seed():
    items = [(f"c/{i}.wav", 0) for i in range(20)]
    assert data.split_items(items, 1)["test"] != data.split_items(items, 2)["test"]
    assert data.split_items(items, 1) == data.split_items(list(reversed(items)), 1)


def per_file_split(items, seed):
    """The split of files that name no note: per class, the n - int(0.8 n) files first
    in the order of sha256('<seed>:<path>') are the test files."""
    import hashlib
    out = {"train": [], "test": []}
    for label in sorted({lab for _, lab in items}):
        members = sorted((it for it in items if it[1] == label),
                         key=lambda it: hashlib.sha256(f"{seed}:{it[0]}".encode()).hexdigest())
        n_test = len(members) - int(len(members) * 0.8)
        out["test"] += sorted(members[:n_test])
        out["train"] += sorted(members[n_test:])
    return out


@pytest.mark.parametrize("seed", [0, 2337])
def test_split_by_file_when_names_say_no_note(seed):
    rng = np.random.default_rng(seed)
    items = [(f"{c}/take_{i}.wav", label) for label, c in enumerate("abc")
             for i in range(int(rng.integers(3, 40)))]
    assert data.split_items(items, seed) == per_file_split(items, seed)


@pytest.mark.parametrize("seed", [0, 1, 2337])
def test_split_keeps_every_version_of_a_note_together(seed):
    # the generated layout: note j in every class
    items = [(f"{c}/note{j:05d}-{c}-{1 + j % 3}.wav", label) for label, c in enumerate(CLASSES)
             for j in range(37)]
    split = data.split_items(items, seed)
    notes = {part: {data.note_key(rel) for rel, _ in split[part]} for part in split}
    assert not notes["train"] & notes["test"] and len(notes["test"]) == 37 - int(37 * 0.8)
    # whole notes reach the original's count in every class
    assert np.bincount([lab for _, lab in split["train"]]).tolist() == [int(37 * 0.8)] * 12


def test_split_groups_idmt_notes_within_an_instrument_folder():
    rng = np.random.default_rng(3)
    items = []
    for folder, prefix in [("Gitarre monophon", "G61"), ("Bass monophon", "B11")]:
        for note in range(25):
            pitch = f"{40 + note:02d}{1 + note % 6}{note % 13:02d}"
            for label, effect in enumerate(["NoFX", "Chorus", "Tremolo"]):
                for setting in range(1 if effect == "NoFX" else int(rng.integers(1, 4))):
                    items.append((f"{folder}/Samples/{effect}/{prefix}-{pitch}-{label + 1}{setting + 1}"
                                  f"{label + 1}{setting + 1}-{len(items) + 20000}.wav", label))
    assert data.note_key(items[0][0]) == "Gitarre monophon/G61-40100"
    split = data.split_items(items, 2337)
    notes = {part: {data.note_key(rel) for rel, _ in split[part]} for part in split}
    assert not notes["train"] & notes["test"]
    counts = np.bincount([lab for _, lab in items])
    train = np.bincount([lab for _, lab in split["train"]])
    # never fewer than the original's training count; near it when the notes allow
    assert (train >= (counts * 0.8).astype(int)).all() and (train <= counts * 0.9).all()


def test_cache_is_reused_and_rebuilt_when_the_source_changes(source, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = data.load_split(32, "test", source, cache)
    built = []
    real_build = data._build
    monkeypatch.setattr(data, "_build", lambda *a: built.append(a) or real_build(*a))
    again = data.load_split(32, "test", source, cache)
    assert built == [] and np.array_equal(first["data"], again["data"])
    soundfile.write(source / "low" / "low_0.wav", tone(100.0, 0.7), SR, subtype="PCM_16")
    rebuilt = data.load_split(32, "test", source, cache)
    assert len(built) == 1 and rebuilt["data"].shape[2] == 1 + int(0.7 * SR) // 512


def test_caches_of_another_format_are_rebuilt(source, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setattr(data, "FORMAT", data.FORMAT - 1)  # as a cache of the previous format
    data.load_split(32, "test", source, cache)
    monkeypatch.undo()
    built = []
    real_build = data._build
    monkeypatch.setattr(data, "_build", lambda *a: built.append(a) or real_build(*a))
    data.load_split(32, "test", source, cache)
    assert len(built) == 1


def test_idmt_layout(tmp_path):
    root = tmp_path / "IDMT-SMT-AUDIO-EFFECTS"
    for instrument, effect in [("Gitarre monophon", "NoFX"), ("Gitarre monophon", "Tremolo"),
                               ("Bass monophon", "NoFX"), ("Bass monophon", "tremolo")]:
        folder = root / instrument / "Samples" / effect
        folder.mkdir(parents=True)
        for i in range(3):
            soundfile.write(folder / f"G61-4{i}100-1111-2059{i}.wav", tone(200.0 + 50 * i), SR,
                            subtype="PCM_16")
        (folder / "notes.txt").write_text("not audio")
    (root / "readme.pdf").write_text("not audio")
    name, found = data.resolve_source(root)
    assert (name, found) == ("idmt", root.resolve())
    classes, items = data.scan(found)
    assert classes == ["NoFX", "Tremolo"] and len(items) == 12
    assert {label for rel, label in items if rel.startswith("Bass monophon")} == {0, 1}
    train = data.load_split(LOSSLESS, "train", root, tmp_path / "cache")
    # 6 clips per effect: int(6 * 0.8) = 4 train each, as the original split
    assert train["classes"] == ["NoFX", "Tremolo"] and len(train["label"]) == 8


# ---------------------------------------------------------------- generator

@pytest.fixture(scope="module")
def generated(tmp_path_factory, can_render):
    cache = tmp_path_factory.mktemp("gen") / "cache"
    data.main(["--generate", "--clips_per_class", "2", "--seed", "5", "--cache_dir", str(cache)])
    return cache


def test_generator_makes_twelve_distinct_classes(generated):
    name, root = data.resolve_source(None, generated)
    assert name == "generated"
    classes, items = data.scan(root)
    assert classes == list(CLASSES) and len(items) == 24
    first = {}
    for rel, label in items:
        x, sr = soundfile.read(root / rel, dtype="float32")
        assert sr == SR and x.ndim == 1 and len(x) == 2 * SR
        assert soundfile.info(str(root / rel)).subtype == "PCM_16"
        if data.note_key(rel) == "note0":
            first[classes[label]] = x
    # the same dry note through twelve different effects: twelve different clips
    names = sorted(first)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(first[a] - first[b]).max() > 1e-3, (a, b)
    manifest = json.loads((root / "manifest.json").read_text())
    assert {clip["note"] for clip in manifest["clips"].values()} == {0, 1}


def test_generated_set_flows_to_features(generated):
    train = data.load_split(16, "train", cache_dir=generated)
    assert train["data"].shape == (12, 96, 173, 1)  # 1 of 2 clips per class in train
    assert train["classes"] == list(CLASSES)
    assert np.isfinite(train["data"].astype(np.float32)).all()


# ---------------------------------------------------------------- bad input

def test_missing_generated_set_says_how_to_make_it(tmp_path, capsys):
    err = run_cli(["--bitrate", "32", "--cache_dir", str(tmp_path)], capsys)
    assert "--generate" in err and nothing_written(tmp_path)


def test_missing_data_folder_names_the_flag(tmp_path, capsys):
    err = run_cli(["--data", str(tmp_path / "nope"), "--cache_dir", str(tmp_path)], capsys)
    assert "nope" in err and "--data" in err


def test_bitrate_lame_does_not_take(source, tmp_path, capsys):
    err = run_cli(["--data", str(source), "--bitrate", "33", "--cache_dir", str(tmp_path)], capsys)
    assert "33" in err and nothing_written(tmp_path)


def test_empty_class_folder_is_named(source, tmp_path, capsys):
    (source / "empty").mkdir()
    err = run_cli(["--data", str(source), "--bitrate", "8", "--cache_dir", str(tmp_path)], capsys)
    assert "empty" in err and nothing_written(tmp_path)


def test_fewer_than_two_classes(tmp_path, capsys):
    only = make_source(tmp_path / "one", classes=("low",))
    err = run_cli(["--data", str(only), "--bitrate", "8", "--cache_dir", str(tmp_path)], capsys)
    assert "at least two" in err and nothing_written(tmp_path)


def test_corrupt_file_stops_or_is_skipped_and_counted(source, tmp_path, capsys):
    (source / "mid" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    cache = tmp_path / "cache"
    err = run_cli(["--data", str(source), "--bitrate", "8", "--cache_dir", str(cache)], capsys)
    assert "broken.wav" in err and "--skip_bad" in err and nothing_written(cache)
    data.main(["--data", str(source), "--bitrate", "8", "--cache_dir", str(cache), "--skip_bad"])
    assert "skipped 1" in capsys.readouterr().err
    counts = [len(data.load_split(8, s, source, cache, skip_bad=True)["label"]) for s in data.SPLITS]
    assert sum(counts) == 15


def test_bad_split_name(source, tmp_path):
    with pytest.raises(UsageError, match="train, test"):
        data.load_split(8, "validation", source, tmp_path)


def test_generator_dependencies_are_named(tmp_path, monkeypatch):
    from audio import generate as gen
    with pytest.raises(UsageError, match="apt-get install fluid-soundfont-gm"):
        gen.generate(tmp_path / "g", 1, soundfont=tmp_path / "missing.sf2")
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)  # import fails as if not installed
    with pytest.raises(UsageError, match="pip install --no-deps tinysoundfont"):
        gen.generate(tmp_path / "g", 1, soundfont=tmp_path / "other.sf2")
    assert not (tmp_path / "g").exists()


# ---------------------------------------------------------------- baseline

def test_baseline_learns_a_tiny_set_and_prints_its_confusion_matrix(tmp_path, capsys):
    from audio import baseline
    source = make_source(tmp_path / "tones", per_class=10)  # 110 / 330 / 990 Hz tones
    result = baseline.baseline(LOSSLESS, source, tmp_path / "cache")
    assert (result["train_size"], result["test_size"]) == (24, 6)
    confusion = np.array(result["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum(axis=1).tolist() == [2, 2, 2]
    assert result["accuracy"] == np.trace(confusion) / 6 == 1.0  # the pitch tells the class
    baseline.main(["--data", str(source), "--bitrate", "8", "--cache_dir", str(tmp_path / "cache")])
    out = capsys.readouterr().out.splitlines()
    out = out[next(i for i, line in enumerate(out) if line.startswith("logistic")):]  # after the cache's line
    assert out[0].startswith("logistic regression on pooled mel statistics, bitrate 8: test accuracy")
    assert out[1].split() == ["high", "low", "mid"] and out[2].split()[0] == "high"


def test_baseline_features_ignore_the_clip_level():
    from audio import baseline
    x = tone(220.0, 0.5)
    loud, quiet = (data.mel_features(g * x)[None] for g in (1.0, 0.25))
    np.testing.assert_allclose(baseline.pooled_features(loud), baseline.pooled_features(quiet),
                               atol=0.05)
