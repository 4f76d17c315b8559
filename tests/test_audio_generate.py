"""The built-in effects set: each effect's defining feature, measured on its output at
every fixed setting, neighbouring effects kept apart, and a deterministic set."""
import json

import numpy as np
import pytest
import scipy.signal
import soundfile

from audio import CLASSES, SAMPLE_RATE
from audio import generate as gen
from audio.data import note_key, split_items

SR = SAMPLE_RATE


def sine(freq, seconds=1.0, amplitude=1.0):
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)


AT = 100  # where the test impulse sits (peak finding skips the first sample)


def impulse(seconds=2.0):
    x = np.zeros(int(seconds * SR))
    x[AT] = 1.0
    return x


def frozen(setting, phase):
    """The setting with its LFO stopped at `phase`: a fixed filter to measure."""
    return {**setting, "rate_hz": 0.0}, phase


def db(x):
    return 20 * np.log10(np.maximum(np.abs(x), 1e-12))


def settings(name):
    return pytest.mark.parametrize("setting", gen.SETTINGS[name], ids=lambda s: str(s)[:40])


def test_every_class_has_fixed_settings():
    assert set(gen.SETTINGS) == set(CLASSES)
    rng = np.random.default_rng(0)
    for name in CLASSES:
        drawn = {json.dumps(gen.draw_setting(name, rng)[1], sort_keys=True) for _ in range(60)}
        assert drawn == {json.dumps(s, sort_keys=True) for s in gen.SETTINGS[name]}


# ---------------------------------------------------------------- modulation

@settings("Tremolo")
def test_tremolo_modulates_the_amplitude_by_its_depth_at_its_rate(setting):
    y = gen.apply_effect("Tremolo", sine(1000.0, 2.0), setting, phase=1.0)
    envelope = np.abs(scipy.signal.hilbert(y))[2000:-2000]
    assert envelope.min() / envelope.max() == pytest.approx(1 - setting["depth"], abs=0.01)
    spectrum = np.abs(np.fft.rfft(envelope - envelope.mean()))
    rate = np.argmax(spectrum) * SR / len(envelope)
    assert rate == pytest.approx(setting["rate_hz"], abs=0.5)


def instantaneous_cents(y, freq):
    phase = np.unwrap(np.angle(scipy.signal.hilbert(y)))
    inst = np.diff(phase) * SR / (2 * np.pi)
    inst = np.convolve(inst, np.ones(64) / 64, mode="valid")[2000:-2000]  # smooth the ripple
    return 1200 * np.log2(inst / freq)


@settings("Vibrato")
def test_vibrato_bends_the_pitch_by_its_cents_and_keeps_no_dry_signal(setting):
    y = gen.apply_effect("Vibrato", sine(1000.0, 2.0), setting, phase=0.5)
    cents = instantaneous_cents(y, 1000.0)
    assert cents.max() == pytest.approx(setting["cents"], rel=0.1)
    assert -cents.min() == pytest.approx(setting["cents"], rel=0.1)
    # wet only: the level stays (a dry + wet mix would beat)
    envelope = np.abs(scipy.signal.hilbert(y))[2000:-2000]
    assert envelope.min() > 0.97 * envelope.max()


def taps(name, setting, phase):
    """Impulse response of the effect with its LFO stopped: (lags in ms, sizes) of its taps.
    A tap between two samples is spread over a few by the interpolation: its size is
    the sum over them."""
    h = gen.apply_effect(name, impulse(0.1), *frozen(setting, phase))
    peaks, _ = scipy.signal.find_peaks(np.abs(h), height=0.02, distance=8)
    return (peaks - AT) / SR * 1000, np.array([h[p - 3:p + 4].sum() for p in peaks])


@settings("Chorus")
def test_chorus_adds_one_copy_delayed_10_to_25_ms_without_feedback(setting):
    for phase in (-np.pi / 2, np.pi / 2):  # shortest and longest delay of the sweep
        lags, heights = taps("Chorus", setting, phase)
        assert lags[0] == 0 and heights[0] == pytest.approx(1 - setting["mix"])
        assert len(lags) == 2 and 10 <= lags[1] <= 25
        expected = setting["delay_ms"] + np.sin(phase) * setting["depth_ms"]
        assert lags[1] == pytest.approx(expected, abs=0.05)


@settings("Flanger")
def test_flanger_is_a_short_comb_with_feedback(setting):
    for phase in (-np.pi / 2, np.pi / 2):
        lags, heights = taps("Flanger", setting, phase)
        delay = setting["min_ms"] if phase < 0 else setting["max_ms"]
        assert 0.4 <= lags[1] <= 6.5 and lags[1] == pytest.approx(delay, abs=0.05)
        # repeats at every multiple of the delay, each `feedback` times the last
        assert lags[2] == pytest.approx(2 * lags[1], abs=0.05)
        assert heights[2] / heights[1] == pytest.approx(setting["feedback"], rel=0.05)


@settings("Phaser")
def test_phaser_has_few_deep_notches_that_move_with_the_lfo(setting):
    notches = []
    for phase in (-np.pi / 2, np.pi / 2):
        h = gen.apply_effect("Phaser", impulse(0.5), *frozen(setting, phase))
        response = db(np.fft.rfft(h))
        freqs = np.fft.rfftfreq(len(h), 1 / SR)
        found, _ = scipy.signal.find_peaks(-response, height=20)  # notches 20 dB deep or more
        notches.append(freqs[found])
        # a notch where the all-pass cascade turns the phase by 180 degrees: one per
        # two stages, unlike a comb's notch every 1/delay
        assert len(found) == setting["stages"] // 2
    assert notches[1][0] > 2 * notches[0][0]  # the sweep moves them


# ---------------------------------------------------------------- filters and drive

@pytest.mark.parametrize("number", range(3))
def test_eq_shapes_are_fixed_and_strong(number):
    setting = gen.SETTINGS["EQ"][number]
    response = db(np.fft.rfft(gen.apply_effect("EQ", impulse(0.5), setting)))
    freqs = np.fft.rfftfreq(int(0.5 * SR), 1 / SR)
    at = lambda f: response[np.argmin(np.abs(freqs - f))]  # noqa: E731
    for kind, f0, gain, _ in setting["bands"]:
        if kind == "peak":
            assert at(f0) == pytest.approx(gain, abs=2.0)  # other bands' skirts aside
        else:  # a shelf reaches its gain far from its corner
            assert at(f0 / 8 if kind == "low_shelf" else min(f0 * 6, 20000)) == pytest.approx(
                gain, abs=1.5)
    assert response.max() - response.min() >= 15  # no shape is subtle


def drive_measures(name, setting):
    """(harmonic share of a steady 220 Hz tone, level drop in dB when the input falls 20 dB)."""
    loud = gen.apply_effect(name, sine(220.0, 0.5), setting)[SR // 10:]
    quiet = gen.apply_effect(name, sine(220.0, 0.5, 0.1), setting)[SR // 10:]
    spectrum = np.abs(np.fft.rfft(loud * np.hanning(len(loud)))) ** 2
    freqs = np.fft.rfftfreq(len(loud), 1 / SR)
    fundamental = spectrum[np.abs(freqs - 220) < 15].sum()
    harmonics = spectrum[freqs > 300].sum()
    drop = 20 * np.log10(np.sqrt(np.mean(loud ** 2) / np.mean(quiet ** 2)))
    return harmonics / (harmonics + fundamental), drop


def test_overdrive_and_distortion_do_not_overlap():
    overdrive = [drive_measures("Overdrive", s) for s in gen.SETTINGS["Overdrive"]]
    distortion = [drive_measures("Distortion", s) for s in gen.SETTINGS["Distortion"]]
    # both clip a full-level note hard enough to hear
    assert min(h for h, _ in overdrive + distortion) > 0.05
    # distortion squashes a 20 dB fall to almost nothing; overdrive lets much of it through
    assert max(drop for _, drop in distortion) < 1
    assert min(drop for _, drop in overdrive) > 3
    assert min(h for h, _ in distortion) > max(h for h, _ in overdrive)


# ---------------------------------------------------------------- time

def echo_times(name, setting):
    """Lags (ms) of the echoes of a 10 ms noise burst, from the output's autocorrelation."""
    x = np.zeros(2 * SR)
    x[:SR // 100] = np.random.default_rng(0).standard_normal(SR // 100)
    y = gen.apply_effect(name, x, setting)
    ac = scipy.signal.correlate(y, y, mode="full", method="fft")[len(y) - 1:]
    ac /= ac[0]
    peaks, _ = scipy.signal.find_peaks(ac, height=0.1, distance=SR // 50)
    return peaks[peaks > SR // 50] / SR * 1000


@settings("SlapbackDelay")
def test_slapback_is_one_early_echo(setting):
    lags = echo_times("SlapbackDelay", setting)
    assert len(lags) == 1 and lags[0] == pytest.approx(setting["delay_ms"], abs=0.1)
    assert 60 <= lags[0] <= 160


@settings("FeedbackDelay")
def test_feedback_delay_repeats_at_a_longer_time(setting):
    lags = echo_times("FeedbackDelay", setting)
    assert lags[0] == pytest.approx(setting["delay_ms"], abs=0.1) and lags[0] >= 240
    assert len(lags) >= 3 and lags[1] == pytest.approx(2 * lags[0], abs=0.1)


@settings("Reverb")
def test_reverb_decays_in_its_reverberation_time(setting):
    h = gen.apply_effect("Reverb", impulse(), setting)
    h = h[AT + 1:]  # the reverberation, without the dry path
    decay = np.cumsum(h[::-1] ** 2)[::-1]  # Schroeder's backward integral
    decay_db = 10 * np.log10(decay / decay[0])
    t5, t25 = (np.argmax(decay_db < level) / SR for level in (-5, -25))
    assert 3 * (t25 - t5) == pytest.approx(setting["rt60_s"], rel=0.2)  # T20 extrapolated


# ---------------------------------------------------------------- the set

@pytest.fixture(scope="module")
def small_set(tmp_path_factory, can_render):
    root = tmp_path_factory.mktemp("gen") / "set"
    return root, gen.generate(root, clips_per_class=3, seed=5, quiet=True)


def test_set_layout_notes_and_manifest(small_set):
    root, manifest = small_set
    assert manifest["settings"]["effects"] == gen.EFFECTS_CODE
    assert len(manifest["clips"]) == 36
    for rel, clip in manifest["clips"].items():
        x, sr = soundfile.read(root / rel, dtype="float32")
        assert sr == SR and x.ndim == 1 and len(x) == 2 * SR
        assert soundfile.info(str(root / rel)).subtype == "PCM_16"
        assert 20 * np.log10(np.abs(x).max()) == pytest.approx(clip["peak_db"], abs=0.01)
        # the file name says the dry note, as the manifest does
        assert note_key(rel) == f"note{clip['note']}"
        assert clip["params"] == gen.SETTINGS[clip["effect"]][clip["setting"] - 1]
        # IDMT's instruments and pitch ranges
        assert clip["instrument"] in {**gen.PRESETS["guitar"], **gen.PRESETS["bass"]}.values()
        assert (40 <= clip["pitch"] <= 76) if clip["family"] == "guitar" else (28 <= clip["pitch"] <= 55)
    # clip j of every class comes from one note: one split for all of them
    items = [(rel, CLASSES.index(c["effect"])) for rel, c in manifest["clips"].items()]
    for part in split_items(items).values():
        notes = {note_key(rel) for rel, _ in part}
        assert len(part) == 12 * len(notes)


def test_set_is_deterministic_for_a_seed(small_set, tmp_path):
    root, _ = small_set
    gen.generate(tmp_path / "same", clips_per_class=3, seed=5, quiet=True)
    gen.generate(tmp_path / "other", clips_per_class=3, seed=6, quiet=True)
    rels = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.wav"))
    assert rels == sorted(p.relative_to(tmp_path / "same").as_posix()
                          for p in (tmp_path / "same").rglob("*.wav"))
    for rel in rels:
        assert (root / rel).read_bytes() == (tmp_path / "same" / rel).read_bytes()
    first = "NoFX/note00000-NoFX-1.wav"
    assert (root / first).read_bytes() != (tmp_path / "other" / first).read_bytes()


def test_notes_sustain_through_the_clip(small_set):
    """Every instrument, over its whole range, still sounds 1.5 s after the attack
    (the acoustic and palm-muted presets fell 30-45 dB and more by then)."""
    renderer = gen._renderer(str(gen.SOUNDFONT))
    for family, presets in gen.PRESETS.items():
        strings = gen.OPEN_STRINGS[family]
        for preset in presets:
            levels = []
            for pitch in range(strings[0], strings[-1] + gen.FRETS, 4):
                x = renderer.render(preset, pitch, 95, hold_s=1.9, onset_s=0.0).astype(np.float64)
                frame = SR // 20
                rms = np.sqrt(np.mean(x[:len(x) // frame * frame].reshape(-1, frame) ** 2, axis=1))
                levels.append(20 * np.log10(rms[30] / rms.max()))  # at 1.5 s
            assert np.median(levels) > -15 and min(levels) > -27, (preset, levels)
