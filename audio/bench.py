"""What the benchmark measures of the audio half: preparation per clip (MP3
encode, decode, alignment, mel features) and the training contestants."""
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from audio import DEFAULT_LEVELS, SAMPLE_RATE, SPEC
from audio.codec import fit_length, mp3_decode, mp3_encode, roundtrip
from audio.data import _blas, mel_features
from helmholtz.data.cache import parallel_map
from helmholtz.machine import Clock, table

CLIP_SECONDS = 2


def one_blas_thread():
    # As audio.data's workers: they fill the cores; BLAS threads would only compete.
    return _blas().limit(limits=1, user_api="blas")


def clips(per_class, cache_dir):
    """(clips as float32 arrays of 2 s at 44.1 kHz, labels, class names): the first
    clips of every class of the built-in generated set, rendered into a temporary
    folder if missing."""
    from audio.data import generated_root, read_clip, scan

    def read(root):
        classes, items = scan(Path(root))
        picked = [(rel, label) for label in range(len(classes))
                  for rel in [r for r, lab in items if lab == label][:per_class]]
        return ([fit_length(read_clip(Path(root) / rel), CLIP_SECONDS * SAMPLE_RATE)
                 for rel, _ in picked], np.array([label for _, label in picked]), classes)

    root = generated_root(cache_dir)
    if root.is_dir():
        return read(root)
    from audio.generate import generate
    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        generate(Path(tmp) / "set", clips_per_class=per_class, quiet=True)
        return read(Path(tmp) / "set")


# ---------------------------------------------------------------- preparation

def _prepare_clip(job):
    """What audio.data's workers do to a clip, from samples already in memory."""
    samples, kbps = job
    with one_blas_thread():
        decoded, _ = roundtrip(samples, SAMPLE_RATE, kbps)
        return mel_features(decoded).shape


def bench_audio(samples, levels=DEFAULT_LEVELS):
    """Per clip on one core (CPU time), each step apart; then all of it on all cores."""
    seconds = len(samples[0]) / SAMPLE_RATE
    rows = []
    with one_blas_thread():
        mel_features(samples[0])  # first call builds the filter bank
        for kbps in levels:
            t = dict.fromkeys(("encode", "decode", "roundtrip", "mel"), 0.0)
            for clip in samples:
                start = time.process_time()
                mp3 = mp3_encode(clip, SAMPLE_RATE, kbps)
                t["encode"] += time.process_time() - start
                start = time.process_time()
                mp3_decode(mp3)
                t["decode"] += time.process_time() - start
                start = time.process_time()
                decoded, _ = roundtrip(clip, SAMPLE_RATE, kbps)
                t["roundtrip"] += time.process_time() - start
                start = time.process_time()
                mel_features(decoded)
                t["mel"] += time.process_time() - start
            per_clip = (t["roundtrip"] + t["mel"]) / len(samples)
            rows.append({"kbps": kbps, "encode_ms": 1e3 * t["encode"] / len(samples),
                         "decode_ms": 1e3 * t["decode"] / len(samples),
                         "align_ms": 1e3 * max(0.0, t["roundtrip"] - t["encode"] - t["decode"]) / len(samples),
                         "mel_ms": 1e3 * t["mel"] / len(samples),
                         "clips_per_s_per_core": 1 / per_clip,
                         "realtime_per_core": seconds / per_clip})
    jobs = [(clip, kbps) for kbps in levels for clip in samples]
    with Clock() as total:
        parallel_map(_prepare_clip, jobs, "audio", chunksize=max(1, len(jobs) // 16))
    cpu_per_clip = statistics.mean(1 / r["clips_per_s_per_core"] for r in rows)
    out = {"clips": len(samples), "clip_seconds": seconds, "levels": rows,
           "clips_per_s_per_core": 1 / cpu_per_clip, "realtime_per_core": seconds / cpu_per_clip,
           "clips_per_s_total": len(jobs) / total.wall,
           "realtime_total": len(jobs) * seconds / total.wall, "workers": os.cpu_count()}
    table("Audio preparation per clip (one core): milliseconds, clips/s, real-time factor",
          ["kbps", "encode", "decode", "align", "mel", "clips/s", "x real time"],
          [[r["kbps"], r["encode_ms"], r["decode_ms"], r["align_ms"], r["mel_ms"],
            r["clips_per_s_per_core"], r["realtime_per_core"]] for r in rows])
    print(f"  mean over levels: {out['clips_per_s_per_core']:.1f} clips/s, "
          f"{out['realtime_per_core']:.0f}x real time per core; all {out['workers']} cores: "
          f"{out['clips_per_s_total']:.1f} clips/s, {out['realtime_total']:.0f}x real time")
    return out


# ---------------------------------------------------------------- training

def training_race(samples, labels, classes, batches, variants):
    """audio/train.py at its default flags (cnn_x3_mlp_0, batch 50, float32): ours,
    with the fused axis-1 batch normalisation, against the same model with Keras'
    own BatchNormalization(axis=1); `batches` batches of the clips' mel features,
    the clips repeated as needed."""
    from helmholtz.backend import keras
    from helmholtz.bench.training import Race, keras_baseline, ours, trainer_path
    from helmholtz.cli import resolve_precision
    from audio.models import OriginalBatchNorm
    idx = np.arange(batches * SPEC.batch_size) % len(samples)
    mels = np.stack([mel_features(clip) for clip in samples])[idx]
    labels = labels[idx]
    path = trainer_path(SPEC, {"classes": list(classes), "input_shape": list(mels.shape[1:])})

    def baseline_build():  # Keras' own layer in place of the fused one, kept as the comparison
        def swap(layer):
            if isinstance(layer, OriginalBatchNorm):
                return keras.layers.BatchNormalization(axis=1, name=layer.name)
            return layer.__class__.from_config(layer.get_config())
        return keras.models.clone_model(path.build(), clone_function=swap)

    contestants = [ours("ours", path, mels, labels),
                   keras_baseline(baseline_build, path.make_optimizer, mels.astype(np.float32),
                                  labels, path.batch_size)]
    if variants:
        contestants.append(ours("ours, bf16 where native", path, mels, labels,
                                resolve_precision("auto")))
    return Race("audio", contestants, path.batch_size)


# ---------------------------------------------------------------- every codec's grid

def _codec_clip(job):
    module, samples, kbps = job
    import importlib
    with one_blas_thread():
        importlib.import_module(module).roundtrip(samples, SAMPLE_RATE, kbps)


def bench_codecs(samples):
    """Each audio codec (audio.SPEC.codecs) round trip (encode, decode, alignment) at every
    level of its grid on all cores: clips per second and the real-time factor."""
    from audio import SPEC
    from helmholtz.data import codecs
    seconds, rows = len(samples[0]) / SAMPLE_RATE, []
    for name in SPEC.codecs:
        room = codecs.room(SPEC, name)
        jobs = [(room.__name__, clip, kbps) for kbps in room.LEVELS for clip in samples]
        with Clock() as clock:
            parallel_map(_codec_clip, jobs, f"audio {name}", chunksize=max(1, len(jobs) // 16))
        rows.append({"codec": name, "library": f"{room.LIBRARY}, {room.version()}",
                     "levels": len(room.LEVELS), "clips_per_s": len(jobs) / clock.wall,
                     "realtime": len(jobs) * seconds / clock.wall})
    table("Audio codecs: encode + decode + alignment on all cores",
          ["codec", "levels", "clips/s", "x real time", "library"],
          [[r["codec"], r["levels"], r["clips_per_s"], r["realtime"], r["library"]] for r in rows])
    return {"clips": len(samples), "clip_seconds": seconds, "codecs": rows}
