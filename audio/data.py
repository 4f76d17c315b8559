"""Audio data step: source clips -> MP3 at a bitrate -> mel spectrograms, cached.

Sources and the train/test split are in audio/sources.py (class folders, the
IDMT-SMT-Audio-Effects archive, the generated set).

Every clip is read as mono 44.1 kHz (other rates are resampled, channels
averaged), passed through the codec (audio/codec.py: LAME CBR MP3 and back,
lined up sample for sample, or `lossless`), zero-padded at the end to the
longest clip of the source (2 s for IDMT: 88,200 samples), and turned into
the original's features, bit for bit what its librosa 0.6 computed:
`amplitude_to_db` of a 96-band POWER mel spectrogram (n_fft 2048, hop 512,
centred frames padded by reflection, Slaney filters), so 20*log10 of power
floored 80 dB below the clip's peak; float16, 96 x 173 x 1 for 2 s.

The split (audio/sources.py) is made from the paths and the seed alone, the
same at every bitrate. One HDF5 cache per (source, level, split) holds `data`,
`label`, the clip sizes `bytes` (total), `payload` and `pcm_bytes`
(audio/codec.py defines them), `files` and `classes`, and a record of the
source checksum (file list, sizes, mtimes), library versions and settings; a
cache whose record differs is rebuilt.

    python audio/data.py --generate                        # built-in set, 150 clips per class
    python audio/data.py --bitrate 16 32 lossless           # prepare caches ahead
    python audio/data.py --data ~/IDMT-SMT-AUDIO-EFFECTS --bitrate 32
    python audio/data.py --download --bitrate 32           # the real IDMT set from Zenodo
"""
import functools
import hashlib
import importlib
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import soundfile

from audio import BITRATES, DEFAULT_DATASET, DEFAULT_LEVELS, SAMPLE_RATE, SPEC
from audio.codec import ENCODER_DELAY, LAME_QUALITY, LOSSLESS, check_bitrate, fit_length, roundtrip
from audio.noise import add_noise
# The sources' names that the trainer, bench and tests reach through audio.data.
from audio.sources import (DEFAULT_SEED, TRAIN_FRACTION, clip_length,  # noqa: F401
                           download_idmt, generated_root, note_key, read_clip, resolve_source, scan,
                           source_checksum, split_items)
from helmholtz.cli import Parser, seed_value
from helmholtz.data.cache import cache_dir as default_cache_dir, parallel_map, read_h5, write_h5
from helmholtz.data.codecs import NO_NOISE, add_flags as add_codec_flags, default_codec, level_tag, room
from helmholtz.errors import UsageError, cli_main

SPLITS = ("train", "test")
# What the original's librosa 0.6 computed (see mel_features).
FEATURES = dict(sample_rate=SAMPLE_RATE, n_mels=96, n_fft=2048, hop_length=512, window="hann",
                center=True, pad_mode="reflect", mel_filters="slaney", spectrum_power=2.0,
                to_db="amplitude_to_db", ref=1.0, amin=1e-5, top_db=80.0, dtype="float16")
FORMAT = 3  # bump when the cache contents change for the same record


# ---------------------------------------------------------------- levels

def parse_level(text):
    """'32' -> 32, 'lossless' -> 'lossless'; a UsageError for anything LAME does not take."""
    if isinstance(text, str) and text.strip().lower() == LOSSLESS:
        return LOSSLESS
    try:
        kbps = int(str(text).strip())
    except ValueError:
        raise UsageError(f"bitrate {text!r} is not a number; give kbps "
                         f"({', '.join(map(str, BITRATES))}) or {LOSSLESS}") from None
    return check_bitrate(kbps)


# ---------------------------------------------------------------- features

@functools.lru_cache(maxsize=None)
def _mel_basis():
    import librosa
    # Slaney filters in float64, as librosa 0.6 built them (today's default is float32).
    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=FEATURES["n_fft"], n_mels=FEATURES["n_mels"],
                               htk=False, norm="slaney", dtype=np.float64)


def mel_features(samples):
    """Mono 44.1 kHz samples -> float16 (96, frames, 1) dB mel spectrogram, as the original.

    The original computed librosa.amplitude_to_db(librosa.feature.melspectrogram(y, sr,
    n_mels=96)) with librosa 0.6: a POWER mel spectrogram (|STFT|^2, n_fft 2048, hop
    512, centred frames padded by reflection) through Slaney filters, then
    amplitude_to_db, i.e. 20*log10 of power floored 80 dB below the clip's peak.
    librosa 0.6's STFT was complex64 whatever the input; float32 samples give the
    same here. The filter bank is built once instead of per clip.
    """
    import librosa
    spectrum = librosa.stft(np.asarray(samples, np.float32), n_fft=FEATURES["n_fft"],
                            hop_length=FEATURES["hop_length"], center=True, pad_mode="reflect")
    power = np.abs(spectrum) ** FEATURES["spectrum_power"]
    mel_db = librosa.amplitude_to_db(_mel_basis() @ power, ref=1.0, amin=FEATURES["amin"],
                                     top_db=FEATURES["top_db"])
    return mel_db.astype(np.float16)[..., None]


@functools.lru_cache(maxsize=None)
def _blas():
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def _clip_task(task):
    """(path, level, n_samples[, codec room, noise, key]) -> (features, codec.Sizes[, noise
    bits]) or (None, error message)."""
    path, level, n_samples, *coding = task
    try:
        samples = read_clip(path)
    except ValueError as e:
        return None, str(e)
    if not np.isfinite(samples).all():  # a float WAV may hold them; no codec or model takes them
        return None, f"{path} holds non-finite samples (NaN or inf)"
    # One BLAS thread: the workers already fill the cores, and threads that spin
    # on a busy machine make the small mel product ten times slower.
    with _blas().limit(limits=1, user_api="blas"):
        if not coding:
            decoded, sizes = roundtrip(samples, SAMPLE_RATE, level)
            return mel_features(fit_length(decoded, n_samples)), sizes
        module, noise, key = coding
        bits = 0.0
        if noise != NO_NOISE:
            samples, bits = add_noise(samples, noise, key)
        decoded, sizes = (roundtrip if level == LOSSLESS else importlib.import_module(module)
                          .roundtrip)(samples, SAMPLE_RATE, level)
        return mel_features(fit_length(decoded, n_samples)), (*sizes, bits)


# ---------------------------------------------------------------- caches

def _cache_key(name, root, cache_dir):
    if root == generated_root(cache_dir).resolve() and name == DEFAULT_DATASET:
        return DEFAULT_DATASET
    return f"{name}-{hashlib.sha256(str(root).encode()).hexdigest()[:8]}"


def cache_path(name, root, level, split, cache_dir=None, codec=None, noise=NO_NOISE):
    key = _cache_key(name, Path(root).resolve(), cache_dir)
    codec = None if level == LOSSLESS else codec  # FLAC sizes for every codec: one cache
    return default_cache_dir(cache_dir) / "audio" / "features" / key / \
        level_tag(SPEC, level, codec, noise) / f"{split}.h5"


def _record(checksum, classes, level, split, seed, codec=None, noise=NO_NOISE):
    record = dict(format=FORMAT, source=checksum, classes=classes, level=level, split=split,
                  seed=seed, train_fraction=TRAIN_FRACTION, features=FEATURES,
                  codec=dict(encoder="lame cbr", quality=LAME_QUALITY, delay=ENCODER_DELAY,
                             resampler="soxr_hq", lossless_size="flac"),
                  versions=_versions())
    # Another codec or known noise; records of the default codec without noise stay as they were.
    if codec is not None:
        record["coding"] = codec
    if noise != NO_NOISE:
        record["sensor_noise"] = noise
    return record


@functools.lru_cache(maxsize=None)
def _versions():
    import librosa
    return {"librosa": librosa.__version__, "lameenc": version("lameenc"),
            "soundfile": soundfile.__version__, "libsndfile": soundfile.__libsndfile_version__,
            "soxr": version("soxr"), "numpy": np.__version__}


class _Source:
    def __init__(self, data_path, cache_dir, seed, codec=None, noise=NO_NOISE):
        plain = codec in (None, default_codec(SPEC)) and noise == NO_NOISE
        self.codec = None if plain else codec or default_codec(SPEC)
        self.room = None if plain else room(SPEC, self.codec)
        self.noise = noise
        self.name, self.root = resolve_source(data_path, cache_dir)
        self.classes, items = scan(self.root)
        self.checksum = source_checksum(self.root, items)
        self.splits = split_items(items, seed)
        self.cache_dir, self.seed = cache_dir, seed
        self._n_samples = None

    def path(self, level, split):
        return cache_path(self.name, self.root, level, split, self.cache_dir, self.codec, self.noise)

    def record(self, level, split):
        coding = None if self.room is None or level == LOSSLESS else {
            "name": self.codec, "library": self.room.LIBRARY, "version": self.room.version()}
        return _record(self.checksum, self.classes, level, split, self.seed, coding, self.noise)

    def task(self, rel, level, n_samples):
        path = str(self.root / rel)
        if self.room is None:
            return path, level, n_samples
        return path, level, n_samples, self.room.__name__, self.noise, str(rel)

    def cached(self, level, split):
        return read_h5(self.path(level, split), self.record(level, split))

    def n_samples(self, skip_bad):
        """Longest clip of the whole source, so every split and level has one shape."""
        if self._n_samples is None:
            lengths = []
            for rel, _ in self.splits["train"] + self.splits["test"]:
                try:
                    lengths.append(clip_length(self.root / rel))
                except ValueError as e:
                    if not skip_bad:
                        raise UsageError(f"{e}; fix or remove it, or pass --skip_bad") from None
            if not lengths:
                raise UsageError(f"no readable .wav files in {self.root}")
            self._n_samples = max(lengths)
        return self._n_samples


def _build(source, level, skip_bad):
    """Encode, decode and featurise every clip at `level`; write both split caches."""
    start = time.perf_counter()
    n_samples = source.n_samples(skip_bad)
    items = [(split, rel, label) for split in SPLITS for rel, label in source.splits[split]]
    tasks = [source.task(rel, level, n_samples) for _, rel, _ in items]
    _warm_up()
    # One pool for both splits; a pool costs more to start than a few dozen clips take.
    results = parallel_map(_clip_task, tasks, desc=f"audio bitrate {level}",
                           workers=1 if len(tasks) < 64 else None)
    kept, skipped = {split: [] for split in SPLITS}, []
    for (split, rel, label), (feats, sizes) in zip(items, results):
        if feats is not None:
            kept[split].append((rel, label, feats, sizes))
        elif skip_bad:
            skipped.append(rel)
        else:
            raise UsageError(f"{sizes}; fix or remove it, or pass --skip_bad")
    for split in SPLITS:
        if not kept[split]:
            raise UsageError(f"no readable clips for the {split} split of {source.root}")
    out = {}
    for split in SPLITS:
        rels, labels, feats, sizes = zip(*kept[split])
        total, payload, pcm = np.array([s[:3] for s in sizes], np.int64).T
        out[split] = dict(data=np.stack(feats), label=np.array(labels, np.int64),
                          bytes=total, payload=payload, pcm_bytes=pcm, files=np.array(rels),
                          classes=np.array(source.classes))
        if source.noise != NO_NOISE:  # the injected noise's information per clip (audio/noise.py)
            out[split]["noise_bits"] = np.array([s[3] for s in sizes], np.float64)
        write_h5(source.path(level, split), out[split], source.record(level, split))
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s): {', '.join(skipped[:5])}"
              f"{' ...' if len(skipped) > 5 else ''}", file=sys.stderr)
    seconds = time.perf_counter() - start
    n = len(kept["train"]) + len(kept["test"])
    total, payload = np.mean([k[3][:2] for split in SPLITS for k in kept[split]], axis=0)
    print(f"{source.name} {source.codec or ''} bitrate {level}: {len(kept['train'])} train + {len(kept['test'])} test "
          f"clips, {len(source.classes)} classes, {total:.0f} bytes/clip ({payload:.0f} payload), "
          f"{n / seconds:.0f} clips/s ({n * n_samples / SAMPLE_RATE / seconds:.0f}x real time) "
          f"-> {source.path(level, 'train').parent}")
    return out


def _warm_up():
    """Load librosa's lazy modules and the BLAS controller once, before workers fork."""
    mel_features(np.zeros(FEATURES["n_fft"], np.float32))
    _blas()


def _split_arrays(arrays):
    sizes = {k: arrays[k].astype(np.int64) for k in ("bytes", "payload", "pcm_bytes")}
    if "noise_bits" in arrays:
        sizes["noise_bits"] = arrays["noise_bits"]
    return {"data": arrays["data"], "label": arrays["label"].astype(np.int64), **sizes,
            "classes": [str(c) for c in arrays["classes"]],
            "files": [str(f) for f in arrays["files"]]}


def load_split(level, split, data_path=None, cache_dir=None, skip_bad=False, seed=DEFAULT_SEED,
               codec=None, noise=NO_NOISE):
    """One split at one level: {'data': float16 (N, 96, 173, 1), 'label': int64,
    'bytes', 'payload', 'pcm_bytes': int64 sizes per clip (audio/codec.py),
    'classes': [str], 'files': [str]}; built and cached if needed. codec: a name of
    audio.SPEC.codecs (default MP3); noise: the known noise's SNR in dB (audio/noise.py),
    whose bits per clip come as 'noise_bits'."""
    if split not in SPLITS:
        raise UsageError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    level = parse_level(level)
    source = _Source(data_path, cache_dir, seed, codec, noise)
    arrays = source.cached(level, split)
    if arrays is None:
        arrays = _build(source, level, skip_bad)[split]
    return _split_arrays(arrays)


def prepare(levels, data_path=None, cache_dir=None, skip_bad=False, seed=DEFAULT_SEED, codec=None,
            noise=NO_NOISE):
    """Build the caches of every level (both splits) that are missing or stale."""
    levels = [parse_level(level) for level in levels]
    source = _Source(data_path, cache_dir, seed, codec, noise)
    for level in levels:
        if all(source.cached(level, split) is not None for split in SPLITS):
            print(f"{source.name} bitrate {level}: cached at {source.path(level, 'train').parent}")
        else:
            _build(source, level, skip_bad)


# ---------------------------------------------------------------- command line

def main(argv=None):
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--bitrate", nargs="+", type=parse_level, default=None,
                        help="levels to prepare: kbps and/or lossless "
                             f"[default: {' '.join(map(str, DEFAULT_LEVELS))} lossless]")
    parser.add_argument("--data", default=None,
                        help="folder of class folders or IDMT-SMT-Audio-Effects [default: generated set]")
    parser.add_argument("--cache_dir", default=None, help="cache root [default: <repo>/data]")
    parser.add_argument("--skip_bad", action="store_true",
                        help="skip unreadable audio files (counted) instead of stopping")
    parser.add_argument("--seed", type=seed_value, default=DEFAULT_SEED,
                        help="seed of the train/test split and of --generate")
    parser.add_argument("--generate", action="store_true",
                        help="render the built-in IDMT-like set into <cache_dir>/audio/generated")
    parser.add_argument("--clips_per_class", type=int, default=150,
                        help="with --generate: dry notes, each through every effect [default: 150]")
    add_codec_flags(parser, SPEC, many=True)
    parser.add_argument("--download", action="store_true",
                        help="fetch IDMT-SMT-Audio-Effects from Zenodo (MD5 checked) and unpack it "
                             "into <cache_dir>/audio/IDMT-SMT-AUDIO-EFFECTS")
    args = parser.parse_args(argv)
    if args.generate and args.download:
        raise UsageError("--generate and --download each make a source; give one of them")
    if args.download:
        if args.data is not None:
            raise UsageError("--download writes the IDMT folder itself; drop --data (or drop --download)")
        args.data = download_idmt(args.cache_dir)
        print(f"IDMT-SMT-Audio-Effects ready at {args.data}; train on it with --data {args.data}")
        if not args.bitrate:
            return
    if args.generate:
        if args.data is not None:
            raise UsageError("--generate writes the built-in set; drop --data (or drop --generate)")
        from audio.generate import generate
        root = generated_root(args.cache_dir)
        manifest = generate(root, args.clips_per_class, args.seed, cache_dir=args.cache_dir)
        print(f"built-in set ready at {root} ({len(manifest['clips'])} clips)")
        if not args.bitrate:
            return
    levels = args.bitrate or [*DEFAULT_LEVELS, LOSSLESS]
    for codec in args.codec:  # all checked before any work
        for level in levels:
            if level != LOSSLESS:
                room(SPEC, codec).check_level(level)
    for codec, noise in ((c, n) for n in args.sensor_noise for c in args.codec):
        prepare(levels, args.data, args.cache_dir, args.skip_bad, args.seed, codec, noise)


if __name__ == "__main__":
    cli_main(main)
