"""A built-in, IDMT-like guitar/bass effects set rendered from sampled instruments.

IDMT-SMT-Audio-Effects holds single electric guitar and bass notes, 2 s,
mono, 44.1 kHz, 16-bit, each played dry (NoFX) and through each of eleven
effects at a few fixed settings; a file name codes the note (e.g.
G61-40100-1111-20593.wav: instrument, MIDI pitch 40 on string 1 at fret 00,
effect and setting, take). This generator builds a set of the same shape from
material that ships with Debian, for machines that cannot download IDMT:

- Notes: the electric guitars and basses of the FluidR3 GM soundfont (Debian
  `fluid-soundfont-gm`; without it, that package's file is downloaded from
  Debian's archive and the soundfont unpacked from it, both SHA-256 checked), rendered offline by PyPI `tinysoundfont` at 44.1 kHz:
  guitars 26 (jazz) and 27 (clean), basses 33 (finger) and 34 (pick). FluidR3
  stores every electric guitar and bass at 22.05 kHz (so the dry notes hold
  nothing above 11 kHz; effects such as distortion add it); its 44.1 kHz
  guitars and bass are acoustic or palm-muted and die out within a second.
  These four sustain (looped samples): 1.5 s after the attack a note is 8 to
  13 dB down (median over the range; 25 dB for the highest guitar notes).
- Pitches as IDMT's: standard tuning, frets 0 to 12 on every string, so E2-E5
  (MIDI 40-76) on guitar and E1-G3 (28-55) on bass; a note is a string and
  fret drawn uniformly over the 78 guitar and 52 bass positions. Velocity
  70-120 (mezzo-forte to fortissimo), held 1.5-1.9 s from an onset within the
  first 20 ms, then released. A recording noise floor (white, 70 dB below the
  note's peak) is added before the effect, as in a DI recording.
- As in IDMT, clip j of every class starts from the same dry note j, so a
  class differs from another only by its effect; the note is in the file
  name, `<Class>/note<j>-<Class>-<setting>.wav`, so that audio/sources.py keeps
  every version of a note in one split.
- Effects: numpy/scipy code in this file (no GPL dependency), each at three
  fixed settings (`SETTINGS`), chosen per clip. The settings are strong and
  kept apart where effects are neighbours: overdrive (soft clipping, 12-20 dB
  drive) vs distortion (hard clipping, 32-44 dB); slapback (one echo at
  80-140 ms) vs feedback delay (repeats every 250-450 ms); chorus (a copy
  delayed 10-23 ms, no feedback) vs flanger (0.5-6 ms, feedback 0.5-0.7) vs
  vibrato (wet only, 60-80 cents); phaser: 2 or 3 notches swept by all-pass
  stages. tests/test_audio_generate.py measures each on the output.
  Modulation effects start at a random LFO phase, as a free-running pedal
  does. pedalboard (GPL-3.0), which earlier versions used, is not needed.
- Every clip is peak-normalised to a random level (-12 to -1 dBFS), so
  loudness gives no class away, and written as 16-bit PCM WAV.

Deterministic for a seed: note j depends only on (seed, j), clip j of class c
only on (seed, j) and (seed, c, j). The set is written to a temporary folder
and renamed into place, with `manifest.json` recording every clip's note,
effect, setting and parameters, and the library versions.
"""
import functools
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import scipy.signal
import scipy.special
import soundfile

from audio import CLASSES, SAMPLE_RATE
from helmholtz.data.cache import cache_dir as default_cache_dir
from helmholtz.data.cache import write_json
from helmholtz.data.download import deb_member, fetch, system_file
from helmholtz.errors import UsageError

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SOUNDFONT_SHA256 = "74594e8f4250680adf590507a306655a299935343583256f3b722c48a1bc1cb0"
# The Debian package file (Debian 12's; snapshot.debian.org keeps every file the pool held).
SOUNDFONT_DEB_URL = ("https://deb.debian.org/debian/pool/main/f/fluid-soundfont/"
                     "fluid-soundfont-gm_3.1-5.3_all.deb")
SOUNDFONT_DEB_SHA256 = "6f531493ac4e4d9772fd96b2488ea1790af81c196135fbdd25997da0781fc60e"
CLIP_SECONDS = 2.0
MANIFEST = "manifest.json"
FORMAT = 3  # bump when the generator's output changes for the same seed
EFFECTS_CODE = "numpy/scipy (audio/generate.py)"

# ---------------------------------------------------------------- notes

PRESETS = {"guitar": {26: "jazz guitar", 27: "clean guitar"},
           "bass": {33: "finger bass", 34: "pick bass"}}
OPEN_STRINGS = {"guitar": (40, 45, 50, 55, 59, 64), "bass": (28, 33, 38, 43)}  # E A D G (B E)
FRETS = 13              # frets 0..12, as IDMT
VELOCITY = (70, 120)    # inclusive
HOLD_S = (1.5, 1.9)
ONSET_S = (0.0, 0.02)
PEAK_DB = (-12.0, -1.0)
NOISE_DB = -70.0        # recording noise floor, rms relative to the dry note's peak
NOTE_FILE = "{effect}/note{note:05d}-{effect}-{setting}.wav"


def _import_renderer():
    try:
        import tinysoundfont
    except ImportError:
        raise UsageError("the audio generator needs tinysoundfont; "
                         "install it with `pip install --no-deps tinysoundfont`") from None
    return tinysoundfont


class NoteRenderer:
    """Single notes from the soundfont, mono float32 at 44.1 kHz."""

    def __init__(self, soundfont=SOUNDFONT):
        tinysoundfont = _import_renderer()
        if not Path(soundfont).is_file():
            raise UsageError(f"soundfont not found at {soundfont}; "
                             "install it with `apt-get install fluid-soundfont-gm`")
        self.synth = tinysoundfont.Synth(samplerate=SAMPLE_RATE)
        try:
            self.sfid = self.synth.sfload(str(soundfont))
        except Exception as e:  # the binding raises plain Exceptions for bad files
            raise UsageError(f"cannot load soundfont {soundfont} ({e}); "
                             "reinstall it with `apt-get install --reinstall fluid-soundfont-gm`")

    def render(self, preset, pitch, velocity, hold_s, onset_s, seconds=CLIP_SECONDS):
        n = int(round(seconds * SAMPLE_RATE))
        onset = int(round(onset_s * SAMPLE_RATE))
        hold = min(int(round(hold_s * SAMPLE_RATE)), n - onset)
        self.synth.program_select(0, self.sfid, 0, preset)
        self.synth.noteon(0, pitch, velocity)
        sounding = self._generate(hold)
        self.synth.noteoff(0, pitch)
        release = self._generate(n - onset - hold)
        self.synth.sounds_off()
        self._generate(SAMPLE_RATE // 10)  # let the quick fade end so the next note starts clean
        return np.concatenate([np.zeros(onset, np.float32), sounding, release])

    def _generate(self, n):
        if n <= 0:
            return np.zeros(0, np.float32)
        stereo = np.frombuffer(self.synth.generate(n), dtype=np.float32).reshape(-1, 2)
        return stereo.mean(axis=1)


def find_soundfont(cache_dir=None):
    """The Debian soundfont, else the one unpacked into <cache_dir>/downloads/ from
    the Debian package file, downloaded first if need be."""
    if system_file(SOUNDFONT):
        return SOUNDFONT
    downloads = default_cache_dir(cache_dir) / "downloads"
    unpacked = downloads / SOUNDFONT.name
    if unpacked.is_file():  # checked when unpacked
        return unpacked
    deb = downloads / Path(SOUNDFONT_DEB_URL).name
    fetch(SOUNDFONT_DEB_URL, f"sha256:{SOUNDFONT_DEB_SHA256}", deb, size="120 MB",
          fix="install the Debian package fluid-soundfont-gm (or put its .deb file there)")
    print(f"unpacking {SOUNDFONT.name} from {deb}")
    deb_member(deb, str(SOUNDFONT).lstrip("/"), unpacked, f"sha256:{SOUNDFONT_SHA256}")
    deb.unlink()  # the soundfont is all that is used
    return unpacked


@functools.lru_cache(maxsize=1)
def _renderer(soundfont):
    """Loading the 140 MB soundfont takes a second or two: do it once per process."""
    return NoteRenderer(soundfont)


def draw_note(rng):
    """The dry note shared by clip j of every class: a string and fret, as IDMT played them."""
    positions = [(family, s) for family, strings in OPEN_STRINGS.items()
                 for s in range(len(strings)) for _ in range(FRETS)]
    family, string = positions[int(rng.integers(len(positions)))]
    fret = int(rng.integers(FRETS))
    preset = int(rng.choice(list(PRESETS[family])))
    return dict(family=family, preset=preset, instrument=PRESETS[family][preset],
                string=string + 1, fret=fret, pitch=OPEN_STRINGS[family][string] + fret,
                velocity=int(rng.integers(VELOCITY[0], VELOCITY[1] + 1)),
                hold_s=round(float(rng.uniform(*HOLD_S)), 3),
                onset_s=round(float(rng.uniform(*ONSET_S)), 4),
                peak_db=round(float(rng.uniform(*PEAK_DB)), 2))


def dry_note(renderer, note, rng):
    """The rendered note at peak 1 with its noise floor: the input of every effect."""
    x = renderer.render(note["preset"], note["pitch"], note["velocity"], note["hold_s"],
                        note["onset_s"]).astype(np.float64)
    x /= np.abs(x).max()
    return x + 10 ** (NOISE_DB / 20) * rng.standard_normal(len(x))


# ---------------------------------------------------------------- effects

# Three fixed settings per effect (IDMT used a few fixed settings per effect).
SETTINGS = {
    "NoFX": ({},),
    "Tremolo": (dict(rate_hz=4.0, depth=0.9), dict(rate_hz=6.0, depth=0.8),
                dict(rate_hz=9.0, depth=0.7)),
    "Vibrato": (dict(rate_hz=4.5, cents=80.0), dict(rate_hz=6.0, cents=70.0),
                dict(rate_hz=8.0, cents=60.0)),
    "Chorus": (dict(rate_hz=0.6, delay_ms=15.0, depth_ms=3.0, mix=0.5),
               dict(rate_hz=1.0, delay_ms=20.0, depth_ms=2.5, mix=0.5),
               dict(rate_hz=1.6, delay_ms=12.0, depth_ms=1.5, mix=0.5)),
    "Flanger": (dict(rate_hz=0.2, min_ms=0.5, max_ms=4.0, feedback=0.6),
                dict(rate_hz=0.35, min_ms=1.0, max_ms=6.0, feedback=0.7),
                dict(rate_hz=0.5, min_ms=0.5, max_ms=3.0, feedback=0.5)),
    "Phaser": (dict(rate_hz=0.4, stages=4, low_hz=300.0, high_hz=1600.0, feedback=0.3),
               dict(rate_hz=0.8, stages=6, low_hz=200.0, high_hz=2000.0, feedback=0.5),
               dict(rate_hz=1.6, stages=4, low_hz=400.0, high_hz=3000.0, feedback=0.6)),
    "EQ": (dict(bands=[("peak", 1000.0, 15.0, 1.4)]),
           dict(bands=[("low_shelf", 250.0, -12.0, 0.7), ("high_shelf", 2500.0, 12.0, 0.7)]),
           dict(bands=[("low_shelf", 200.0, 12.0, 0.7), ("peak", 800.0, -15.0, 1.0),
                       ("peak", 3000.0, 9.0, 1.4)])),
    "Overdrive": (dict(drive_db=12.0, tone_hz=3500.0), dict(drive_db=16.0, tone_hz=4000.0),
                  dict(drive_db=20.0, tone_hz=3000.0)),
    "Distortion": (dict(drive_db=32.0, tone_hz=5000.0), dict(drive_db=38.0, tone_hz=6000.0),
                   dict(drive_db=44.0, tone_hz=4500.0)),
    "SlapbackDelay": (dict(delay_ms=80.0, level=0.7), dict(delay_ms=110.0, level=0.6),
                      dict(delay_ms=140.0, level=0.5)),
    "FeedbackDelay": (dict(delay_ms=250.0, feedback=0.55, level=0.6),
                      dict(delay_ms=350.0, feedback=0.5, level=0.6),
                      dict(delay_ms=450.0, feedback=0.45, level=0.6)),
    "Reverb": (dict(rt60_s=0.9, wet=0.5), dict(rt60_s=1.6, wet=0.6), dict(rt60_s=2.5, wet=0.6)),
}
MODULATED = {"Tremolo", "Vibrato", "Chorus", "Flanger", "Phaser"}


def apply_effect(name, x, setting, phase=0.0, sr=SAMPLE_RATE):
    """`x` (mono float) through effect `name` at one of its SETTINGS; `phase` starts the LFO."""
    x = np.asarray(x, np.float64)
    t = np.arange(len(x)) / sr
    p = setting
    lfo = np.sin(2 * np.pi * p.get("rate_hz", 0.0) * t + phase)  # -1..1
    if name == "NoFX":
        return x
    if name == "Tremolo":
        return x * (1 - p["depth"] * 0.5 * (1 + lfo))
    if name == "Vibrato":  # a delay line swept by the LFO, wet only: the pitch wobbles
        # a delay A (1 + sin 2 pi f t) bends the frequency by up to 2 pi f A
        swing = (2 ** (p["cents"] / 1200) - 1) / (2 * np.pi * p["rate_hz"])
        return _delayed(x, swing * (1 + lfo) * sr)
    if name == "Chorus":  # a slowly swept 12-20 ms copy mixed with the dry signal
        delay = (p["delay_ms"] + p["depth_ms"] * lfo) / 1000 * sr
        return (1 - p["mix"]) * x + p["mix"] * _delayed(x, delay)
    if name == "Flanger":  # a 0.5-6 ms swept copy with feedback: a moving resonant comb
        delay = (p["min_ms"] + (p["max_ms"] - p["min_ms"]) * 0.5 * (1 + lfo)) / 1000 * sr
        return 0.5 * (x + _delayed_with_feedback(x, delay, p["feedback"]))
    if name == "Phaser":
        cutoff = p["low_hz"] * (p["high_hz"] / p["low_hz"]) ** (0.5 * (1 + lfo))
        return _phaser(x, cutoff, p["stages"], p["feedback"], sr)
    if name == "EQ":
        for kind, f0, gain_db, q in p["bands"]:
            x = scipy.signal.lfilter(*_biquad(kind, f0, gain_db, q, sr), x)
        return x
    if name == "Overdrive":  # mid hump, soft asymmetric clipping, tone control
        x = scipy.signal.lfilter(*_biquad("peak", 720.0, 6.0, 0.7, sr), x)
        x = _oversampled(lambda v: np.tanh(v + 0.2) - np.tanh(0.2), 10 ** (p["drive_db"] / 20) * x)
        return _lowpass(x, p["tone_hz"], sr)
    if name == "Distortion":  # high gain into hard clipping
        x = scipy.signal.sosfilt(scipy.signal.butter(2, 100.0, "highpass", fs=sr, output="sos"), x)
        x = _oversampled(lambda v: np.clip(v, -1.0, 1.0), 10 ** (p["drive_db"] / 20) * x)
        return _lowpass(x, p["tone_hz"], sr)
    if name == "SlapbackDelay":  # one echo
        return x + p["level"] * _shifted(x, int(round(p["delay_ms"] / 1000 * sr)))
    if name == "FeedbackDelay":  # echoes every delay, each `feedback` times the last
        step, out, gain, k = int(round(p["delay_ms"] / 1000 * sr)), x.copy(), p["level"], 1
        while k * step < len(x) and gain > 1e-3:
            out += gain * _shifted(x, k * step)
            gain, k = gain * p["feedback"], k + 1
        return out
    if name == "Reverb":
        wet = scipy.signal.fftconvolve(x, _room(p["rt60_s"], sr))[:len(x)]
        return x + p["wet"] * wet
    raise ValueError(f"no effect named {name}")


def _shifted(x, n):
    return np.concatenate([np.zeros(n), x[:len(x) - n]]) if n < len(x) else np.zeros(len(x))


def _delayed(x, delay):
    """x(t - delay(t)), linearly interpolated; delay in samples, per sample."""
    n = np.arange(len(x))
    return np.interp(n - delay, n, x, left=0.0)


def _delayed_with_feedback(x, delay, feedback):
    """w = u(t - delay(t)) with u = x + feedback * w, computed a block at a time: a block
    shorter than the shortest delay reads only samples of u already computed."""
    u, wet = np.zeros(len(x)), np.zeros(len(x))
    block = max(1, int(delay.min()) - 1)
    position = np.arange(len(x)) - delay
    for start in range(0, len(x), block):
        s = slice(start, start + block)
        pos = position[s]
        i = np.floor(pos).astype(np.int64)
        frac = pos - i
        a = np.where(i >= 0, u[np.maximum(i, 0)], 0.0)
        b = np.where(i + 1 >= 0, u[np.maximum(i + 1, 0)], 0.0)
        wet[s] = a + frac * (b - a)
        u[s] = x[s] + feedback * wet[s]
    return wet


def _phaser(x, cutoff, stages, feedback, sr, block=32):
    """Dry plus `stages` first-order all-passes in a feedback loop, their break frequency
    following `cutoff` (Hz per sample, held for `block` samples); notches stay full."""
    out, state = np.empty(len(x)), np.zeros(stages)
    binomial = scipy.special.comb(stages, np.arange(stages + 1))
    for start in range(0, len(x), block):
        s = slice(start, start + block)
        k = np.tan(np.pi * min(cutoff[start], 0.45 * sr) / sr)
        c = (k - 1) / (k + 1)
        # the cascade of all-passes (c + z^-1) / (1 + c z^-1), in powers of z^-1
        num = binomial * c ** np.arange(stages, -1, -1)
        den = binomial * c ** np.arange(stages + 1)
        b, a = num, den - feedback * num
        wet, state = scipy.signal.lfilter(b, a, x[s], zi=state)
        out[s] = 0.5 * (x[s] + (1 + feedback) * wet)
    return out


def _biquad(kind, f0, gain_db, q, sr):
    """(b, a) of the Audio EQ Cookbook's peaking and shelving filters."""
    amp, w = 10 ** (gain_db / 40), 2 * np.pi * f0 / sr
    alpha, cos = np.sin(w) / (2 * q), np.cos(w)
    if kind == "peak":
        b = [1 + alpha * amp, -2 * cos, 1 - alpha * amp]
        a = [1 + alpha / amp, -2 * cos, 1 - alpha / amp]
    else:
        sign = 1 if kind == "low_shelf" else -1
        root = 2 * np.sqrt(amp) * alpha
        b = [amp * ((amp + 1) - sign * (amp - 1) * cos + root),
             sign * 2 * amp * ((amp - 1) - sign * (amp + 1) * cos),
             amp * ((amp + 1) - sign * (amp - 1) * cos - root)]
        a = [(amp + 1) + sign * (amp - 1) * cos + root,
             -sign * 2 * ((amp - 1) + sign * (amp + 1) * cos),
             (amp + 1) + sign * (amp - 1) * cos - root]
    return np.array(b) / a[0], np.array(a) / a[0]


def _lowpass(x, cutoff_hz, sr):
    return scipy.signal.sosfilt(scipy.signal.butter(2, cutoff_hz, fs=sr, output="sos"), x)


def _oversampled(shape, x, factor=4):
    """A waveshaper run at 4x the rate, so its harmonics above 22 kHz do not alias back."""
    up = scipy.signal.resample_poly(x, factor, 1)
    return scipy.signal.resample_poly(shape(up), 1, factor)


@functools.lru_cache(maxsize=None)
def _room(rt60_s, sr):
    """A fixed room: 15 ms pre-delay, then noise decaying by 60 dB in rt60_s below 2 kHz
    and 2.5 times faster above (air and walls damp the highs); unit energy."""
    n = int(min(rt60_s, CLIP_SECONDS) * sr)
    noise = np.random.default_rng(int(rt60_s * 1000)).standard_normal(n)
    low = scipy.signal.sosfilt(scipy.signal.butter(2, 2000.0, fs=sr, output="sos"), noise)
    t = np.arange(n) / sr
    decay = np.log(1000) / rt60_s  # amplitude falls 1000-fold (60 dB) in rt60_s
    tail = low * np.exp(-decay * t) + (noise - low) * np.exp(-2.5 * decay * t)
    ir = np.concatenate([np.zeros(int(0.015 * sr)), tail])
    return ir / np.sqrt(np.sum(ir ** 2))


def draw_setting(name, rng):
    """(setting number from 1, its parameters, LFO phase) for one clip of effect `name`."""
    k = int(rng.integers(len(SETTINGS[name])))
    phase = round(float(rng.uniform(0, 2 * np.pi)), 4) if name in MODULATED else 0.0
    return k + 1, SETTINGS[name][k], phase


def _normalise(x, peak_db):
    peak = np.abs(x).max()
    return x if peak == 0 else x * (10 ** (peak_db / 20) / peak)


# ---------------------------------------------------------------- the set

def generate(root, clips_per_class=40, seed=2337, soundfont=None, quiet=False, cache_dir=None):
    """Write `<root>/<Class>/note<j>-<Class>-<setting>.wav` for the 12 classes, plus a manifest.

    Returns the manifest. A set already at `root` with the same settings is kept.
    `soundfont` defaults to find_soundfont(cache_dir).
    """
    root = Path(root)
    if clips_per_class < 1:
        raise UsageError(f"--clips_per_class {clips_per_class} makes no clips; give 1 or more")
    if soundfont is None:
        soundfont = find_soundfont(cache_dir)
    settings = dict(format=FORMAT, seed=seed, clips_per_class=clips_per_class,
                    soundfont=str(soundfont), classes=list(CLASSES), effects=EFFECTS_CODE)
    existing = root / MANIFEST
    if existing.exists():
        try:
            manifest = json.loads(existing.read_text())
            if manifest.get("settings") == settings:
                return manifest
        except (OSError, ValueError):
            pass  # unreadable manifest: generate again
    renderer = _renderer(str(soundfont))
    start = time.perf_counter()
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    clips = {}
    try:
        for name in CLASSES:
            (tmp / name).mkdir(parents=True)
        for j in range(clips_per_class):
            note_rng = np.random.default_rng([seed, j])
            note = draw_note(note_rng)
            dry = dry_note(renderer, note, note_rng)
            for c, name in enumerate(CLASSES):
                setting, params, phase = draw_setting(name, np.random.default_rng([seed, c + 1, j]))
                wet = _normalise(apply_effect(name, dry, params, phase), note["peak_db"])
                rel = NOTE_FILE.format(effect=name, note=j, setting=setting)
                soundfile.write(tmp / rel, wet.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
                clips[rel] = dict(note, note=j, effect=name, setting=setting, params=params,
                                  phase=phase)
        manifest = dict(settings=settings, versions=_versions(), clips=clips)
        write_json(tmp / MANIFEST, manifest)
        _swap_in(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"generated {len(clips)} clips ({clips_per_class} per class) in "
              f"{time.perf_counter() - start:.1f} s at {root}")
    return manifest


def _swap_in(tmp, root):
    """Replace `root` by the finished folder `tmp` so no half set is ever visible."""
    old = root.with_name(f".{root.name}.old-{os.getpid()}")
    if root.exists():
        os.replace(root, old)
    os.replace(tmp, root)
    shutil.rmtree(old, ignore_errors=True)


def _versions():
    from importlib.metadata import version
    import scipy
    return {"tinysoundfont": version("tinysoundfont"), "numpy": np.__version__,
            "scipy": scipy.__version__}
