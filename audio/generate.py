"""A built-in, IDMT-like guitar/bass effects set rendered from real recordings.

IDMT-SMT-Audio-Effects holds single guitar and bass notes, 2 s, mono,
44.1 kHz, each played dry (NoFX) or through one of eleven effects, every
effect at a few settings. This generator builds a set of the same shape from
material that ships with Debian, for machines that cannot download IDMT:

- Notes: the sampled guitars and bass of the FluidR3 GM soundfont (Debian
  `fluid-soundfont-gm`; presets stored at 44.1 kHz: 24 nylon, 25 steel and 28
  palm-muted guitar, 32 acoustic bass), rendered offline by PyPI
  `tinysoundfont` over a range of pitches, velocities and note lengths.
- As in IDMT, clip j of every class starts from the same dry note j, so a
  class differs from another only by its effect.
- Effects: PyPI `pedalboard` (GPL-3.0, an optional dependency of this
  generator only) for chorus, distortion, overdrive, EQ, delays, phaser and
  reverb; a few lines of numpy for tremolo, vibrato and flanger, which it
  lacks. Each clip draws its effect's parameters at random within the
  effect's typical range; neighbouring effects overlap (overdrive and
  distortion drive, slapback and feedback delay times, chorus and vibrato
  depths) as real pedal settings do.
- Every clip is peak-normalised to a random level, so loudness gives no class
  away, and written as 16-bit PCM WAV (as IDMT's files are).

Deterministic for a seed: clip j of class c depends only on (seed, j) and
(seed, c, j). The set is written to a temporary folder and renamed into
place, with `manifest.json` listing every clip's note and effect parameters.
"""
import functools
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import soundfile

from audio import CLASSES, SAMPLE_RATE
from helmholtz.cache import write_json
from helmholtz.errors import UsageError

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
CLIP_SECONDS = 2.0
# GM preset -> (instrument, lowest and highest MIDI pitch we play on it)
INSTRUMENTS = {24: ("nylon guitar", 40, 84), 25: ("steel guitar", 40, 84),
               28: ("palm-muted guitar", 40, 76), 32: ("acoustic bass", 28, 60)}
MANIFEST = "manifest.json"
FORMAT = 2  # bump when the generator's output changes for the same seed


def _import_renderer():
    try:
        import tinysoundfont
    except ImportError:
        raise UsageError("the audio generator needs tinysoundfont; "
                         "install it with `pip install --no-deps tinysoundfont`") from None
    return tinysoundfont


def _import_pedalboard():
    try:
        import pedalboard
    except ImportError:
        raise UsageError("the audio generator's effects need pedalboard (GPL-3.0, optional); "
                         "install it with `pip install pedalboard`, or pass --data with "
                         "a folder of real clips") from None
    return pedalboard


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


@functools.lru_cache(maxsize=1)
def _renderer(soundfont):
    """Loading the 140 MB soundfont takes a second or two: do it once per process."""
    return NoteRenderer(soundfont)


def draw_note(rng):
    """The dry note shared by clip j of every class."""
    preset = int(rng.choice(list(INSTRUMENTS)))
    _, low, high = INSTRUMENTS[preset]
    return dict(preset=preset, instrument=INSTRUMENTS[preset][0],
                pitch=int(rng.integers(low, high + 1)), velocity=int(rng.integers(40, 128)),
                hold_s=round(float(rng.uniform(0.6, 1.9)), 3),
                onset_s=round(float(rng.uniform(0.0, 0.03)), 4),
                peak_db=round(float(rng.uniform(-12.0, -1.0)), 2))


def draw_effect(name, rng):
    """Parameters of one effect, drawn within its typical range."""
    u = lambda low, high: round(float(rng.uniform(low, high)), 3)  # noqa: E731
    sign = lambda: float(rng.choice([-1.0, 1.0]))  # noqa: E731
    if name == "NoFX":
        return {}
    if name == "Chorus":
        return dict(rate_hz=u(0.3, 2.5), depth=u(0.25, 0.7), centre_delay_ms=u(5, 12),
                    feedback=u(0.0, 0.2), mix=u(0.4, 0.6))
    if name == "Distortion":
        return dict(drive_db=u(20, 40), tone_hz=u(4000, 9000))
    if name == "Overdrive":
        return dict(drive_db=u(8, 24), mid_hz=u(500, 1000), mid_db=u(3, 9), tone_hz=u(2500, 6000))
    if name == "EQ":
        return dict(low_hz=u(80, 300), low_db=round(sign() * u(6, 15), 2),
                    mid_hz=u(300, 3000), mid_db=round(sign() * u(6, 15), 2), mid_q=u(0.5, 2.0),
                    high_hz=u(2000, 6000), high_db=round(sign() * u(6, 15), 2))
    if name == "FeedbackDelay":
        return dict(delay_s=u(0.12, 0.5), feedback=u(0.3, 0.7), mix=u(0.3, 0.5))
    if name == "SlapbackDelay":
        return dict(delay_s=u(0.04, 0.16), feedback=u(0.0, 0.15), mix=u(0.3, 0.5))
    if name == "Flanger":
        return dict(rate_hz=u(0.1, 1.0), min_delay_ms=u(0.3, 2.0), sweep_ms=u(1.0, 5.0),
                    mix=u(0.4, 0.7), phase=u(0, 2 * np.pi))
    if name == "Phaser":
        # mix near 0.5: the notches come from adding the all-pass output to the dry signal
        return dict(rate_hz=u(0.2, 2.0), depth=u(0.5, 1.0), centre_frequency_hz=u(300, 2000),
                    feedback=u(0.0, 0.7), mix=u(0.4, 0.6))
    if name == "Reverb":
        return dict(room_size=u(0.3, 0.95), damping=u(0.2, 0.8), wet_level=u(0.2, 0.5),
                    dry_level=u(0.6, 0.9))
    if name == "Tremolo":
        return dict(rate_hz=u(2, 10), depth=u(0.4, 1.0), phase=u(0, 2 * np.pi))
    if name == "Vibrato":
        return dict(rate_hz=u(3, 8), depth_cents=u(15, 60), phase=u(0, 2 * np.pi))
    raise ValueError(f"no effect named {name}")


def apply_effect(name, params, x, pb):
    """Process mono float32 `x` with effect `name`; `pb` is the pedalboard module."""
    sr = SAMPLE_RATE
    t = np.arange(len(x)) / sr
    p = params
    if name == "NoFX":
        return x
    if name == "Tremolo":
        lfo = 0.5 * (1 + np.sin(2 * np.pi * p["rate_hz"] * t + p["phase"]))
        return x * (1 - p["depth"] * lfo)
    if name == "Vibrato":  # a delay line swept by an LFO: pitch wobbles, no dry signal
        # a delay A(1 + sin 2 pi f t) bends the pitch by up to 2 pi f A
        swing = (2 ** (p["depth_cents"] / 1200) - 1) / (2 * np.pi * p["rate_hz"])
        delay = swing * (1 + np.sin(2 * np.pi * p["rate_hz"] * t + p["phase"]))
        return _read_delayed(x, delay * sr)
    if name == "Flanger":  # a short swept delay mixed with the dry signal: moving comb filter
        sweep = 0.5 * (1 + np.sin(2 * np.pi * p["rate_hz"] * t + p["phase"]))
        delay = (p["min_delay_ms"] + p["sweep_ms"] * sweep) / 1000
        return (1 - p["mix"]) * x + p["mix"] * _read_delayed(x, delay * sr)
    board = {
        "Chorus": lambda: [pb.Chorus(**p)],
        "Distortion": lambda: [pb.Distortion(drive_db=p["drive_db"]),
                               pb.LowpassFilter(cutoff_frequency_hz=p["tone_hz"])],
        "Overdrive": lambda: [pb.PeakFilter(cutoff_frequency_hz=p["mid_hz"], gain_db=p["mid_db"]),
                              pb.Distortion(drive_db=p["drive_db"]),
                              pb.LowpassFilter(cutoff_frequency_hz=p["tone_hz"])],
        "EQ": lambda: [pb.LowShelfFilter(cutoff_frequency_hz=p["low_hz"], gain_db=p["low_db"]),
                       pb.PeakFilter(cutoff_frequency_hz=p["mid_hz"], gain_db=p["mid_db"],
                                     q=p["mid_q"]),
                       pb.HighShelfFilter(cutoff_frequency_hz=p["high_hz"], gain_db=p["high_db"])],
        "FeedbackDelay": lambda: [pb.Delay(delay_seconds=p["delay_s"], feedback=p["feedback"],
                                           mix=p["mix"])],
        "SlapbackDelay": lambda: [pb.Delay(delay_seconds=p["delay_s"], feedback=p["feedback"],
                                           mix=p["mix"])],
        "Phaser": lambda: [pb.Phaser(**p)],
        "Reverb": lambda: [pb.Reverb(**p)],
    }[name]()
    return pb.Pedalboard(board)(x[None, :], sr)[0]


def _read_delayed(x, delay):
    """x(t - delay(t)) with linear interpolation; delay in samples, per sample."""
    pos = np.arange(len(x)) - delay
    return np.interp(pos, np.arange(len(x)), x, left=0.0).astype(np.float32)


def _normalise(x, peak_db):
    peak = np.abs(x).max()
    return x if peak == 0 else x * (10 ** (peak_db / 20) / peak)


def generate(root, clips_per_class=40, seed=2337, soundfont=SOUNDFONT, quiet=False):
    """Write `<root>/<Class>/<Class>_<j>.wav` for the 12 classes, plus a manifest.

    Returns the manifest. A set already at `root` with the same settings is kept.
    """
    root = Path(root)
    if clips_per_class < 1:
        raise UsageError(f"--clips_per_class {clips_per_class} makes no clips; give 1 or more")
    settings = dict(format=FORMAT, seed=seed, clips_per_class=clips_per_class,
                    soundfont=str(soundfont), classes=list(CLASSES))
    existing = root / MANIFEST
    if existing.exists():
        try:
            manifest = json.loads(existing.read_text())
            if manifest.get("settings") == settings:
                return manifest
        except (OSError, ValueError):
            pass  # unreadable manifest: generate again
    pb = _import_pedalboard()
    renderer = _renderer(str(soundfont))
    start = time.perf_counter()
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    clips = {}
    try:
        for j in range(clips_per_class):
            note = draw_note(np.random.default_rng([seed, j]))
            dry = renderer.render(note["preset"], note["pitch"], note["velocity"],
                                  note["hold_s"], note["onset_s"])
            for c, name in enumerate(CLASSES):
                params = draw_effect(name, np.random.default_rng([seed, c + 1, j]))
                wet = _normalise(apply_effect(name, params, dry, pb), note["peak_db"])
                rel = f"{name}/{name}_{j:04d}.wav"
                (tmp / name).mkdir(parents=True, exist_ok=True)
                soundfile.write(tmp / rel, wet, SAMPLE_RATE, subtype="PCM_16")
                clips[rel] = dict(note, effect=name, params=params)
        manifest = dict(settings=settings, versions=_versions(pb), clips=clips)
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


def _versions(pb):
    from importlib.metadata import version
    return {"tinysoundfont": version("tinysoundfont"), "pedalboard": pb.__version__,
            "numpy": np.__version__}
