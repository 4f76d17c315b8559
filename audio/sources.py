"""Where the audio clips come from, and the train/test split.

Sources (`--data PATH`; without it, the built-in generated set):

- A folder of class folders, `<root>/<class>/*.wav`, the layout the original
  code read. Each class folder needs at least one .wav; other files are ignored.
- The official IDMT-SMT-Audio-Effects layout (v1), recognised when a child of
  the root has a `Samples/` folder:
      <root>/Gitarre monophon/Samples/<Effect>/*.wav
      <root>/Gitarre polyphon/Samples/<Effect>/*.wav
      <root>/Bass monophon/Samples/<Effect>/*.wav
  The class is the effect folder's name (NoFX, Chorus, Distortion, EQ,
  FeedbackDelay, Flanger, Overdrive, Phaser, Reverb, SlapbackDelay, Tremolo,
  Vibrato; matched ignoring case, spaces, '-' and '_'), pooled over the three
  instrument folders. File names such as `G61-40100-1111-20593.wav` also code
  the note (instrument and playing, MIDI pitch 40 on string 1 at fret 00), the
  effect and its setting, and the take; the folder is what we go by for the
  class, the name's first two fields for the note (see split_items).
  `python audio/data.py --download` fetches the archive from Zenodo (MD5
  checked) and unpacks it into this layout (see download_idmt).
- The generated set (`python audio/data.py --generate`), a folder of class
  folders at <cache_dir>/audio/generated (see audio/generate.py).

The 80/20 train/test split keeps every version of a dry note in one split
where the file names say which note a clip was made from (the generated set,
IDMT), and otherwise goes by single files; per class int(0.8 * n) clips go to
train as in the original, where the notes allow. It is made from the paths
and the seed alone, before any codec, so it is the same at every bitrate (the
original's was unseeded and per file).
"""
import hashlib
import math
import re
import shutil
import zipfile
from pathlib import Path, PurePosixPath

import soundfile

from audio import CLASSES, DEFAULT_DATASET, SAMPLE_RATE
from audio.codec import resample
from helmholtz.data.cache import cache_dir as default_cache_dir
from helmholtz.data.download import fetch
from helmholtz.errors import UsageError

TRAIN_FRACTION = 0.8  # per class, the original's int(n * 0.8)
DEFAULT_SEED = 2337
IDMT_NAME = "idmt"
# File names that say which dry note a clip was made from: (pattern, whether the
# key also needs the instrument folder, the path's first part)
NOTE_NAMES = (
    (re.compile(r"note(\d+)-[^/]+\.wav"), False),                      # generated: note00012-Chorus-2.wav
    (re.compile(r"([A-Z]\d\d-\d{5})-\d{4}-\d+\.wav", re.IGNORECASE), True),  # IDMT
)
# The archive on Zenodo (record 7544032, version 1.0.0, CC BY-NC-ND 4.0), ~55,000 clips.
IDMT_URL = "https://zenodo.org/records/7544032/files/IDMT-SMT-AUDIO-EFFECTS.zip"
IDMT_MD5 = "91e845a1b347352993ebd5ba948d5a7c"
IDMT_ARCHIVE = "IDMT-SMT-AUDIO-EFFECTS.zip"
IDMT_FOLDER = "IDMT-SMT-AUDIO-EFFECTS"
# Caps on what unpack_idmt writes, checked against each member's declared size before it is
# read: the real archive's clips are 2 s of 16-bit mono (about 180 kB), about 10 GB in all.
MAX_CLIP_BYTES = 16 << 20
MAX_PART_BYTES = 16 << 30  # one instrument zip, copied out of the archive
MAX_UNPACKED_BYTES = 32 << 30


# ---------------------------------------------------------------- sources

def generated_root(cache_dir=None):
    return default_cache_dir(cache_dir) / "audio" / "generated"


def resolve_source(data_path=None, cache_dir=None):
    """(dataset name, root folder): the generated set, a class-folder root, or IDMT."""
    if data_path is None:
        root = generated_root(cache_dir)
        if not root.is_dir():
            raise UsageError(f"the built-in audio set is not generated yet (looked in {root}); "
                             "run `python audio/data.py --generate`, or pass --data PATH")
        return DEFAULT_DATASET, root
    root = Path(data_path).expanduser()
    if not root.is_dir():
        raise UsageError(f"data folder {root} not found; pass --data with a folder of class "
                         "folders (<class>/*.wav) or the IDMT-SMT-Audio-Effects folder")
    root = root.resolve()
    return (IDMT_NAME if _idmt_instruments(root) else root.name), root


def _subdirs(folder):
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _wavs(folder):
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".wav")


def _idmt_instruments(root):
    return [d for d in _subdirs(root) if (d / "Samples").is_dir()]


def _canonical_class(folder_name):
    key = folder_name.lower().replace(" ", "").replace("-", "").replace("_", "")
    return {c.lower(): c for c in CLASSES}.get(key, folder_name)


def scan(root):
    """(class names, [(path relative to root, label)]) of a source root."""
    instruments = _idmt_instruments(root)
    if instruments:  # IDMT: <instrument>/Samples/<Effect>/*.wav, pooled over instruments
        folders = [(_canonical_class(d.name), d) for i in instruments for d in _subdirs(i / "Samples")]
    else:
        folders = [(d.name, d) for d in _subdirs(root)]
    by_class = {}
    for name, folder in folders:
        wavs = _wavs(folder)
        if not wavs:
            raise UsageError(f"class folder {folder} has no .wav files; "
                             "add clips to it or remove it")
        by_class.setdefault(name, []).extend(wavs)
    if len(by_class) < 2:
        raise UsageError(f"{root} holds {len(by_class)} class folder(s) with .wav files; "
                         "a classifier needs at least two (<root>/<class>/*.wav, or the IDMT "
                         "layout <root>/<instrument>/Samples/<Effect>/*.wav)")
    # Known effect names in the study's order (so labels agree across sources), others after.
    classes = [c for c in CLASSES if c in by_class] + sorted(set(by_class) - set(CLASSES))
    items = [(p.relative_to(root).as_posix(), label)
             for label, name in enumerate(classes) for p in by_class[name]]
    for rel, _ in items:  # names are recorded in the caches as UTF-8 text
        try:
            rel.encode()
        except UnicodeEncodeError:
            shown = rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            raise UsageError(f"{root}/{shown}: the file name is not UTF-8; rename it") from None
    return classes, items


def source_checksum(root, items):
    """Hash of the file list with classes, sizes and modification times."""
    h = hashlib.sha256()
    for rel, label in items:
        st = (root / rel).stat()
        h.update(f"{rel}\t{label}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def note_key(rel):
    """Which dry note the clip at `rel` was made from, if its file name says; else None.

    Generated set: `<Class>/note<j>-...wav` -> 'note<j>'. IDMT: the name's first
    two fields, instrument and playing (G61) and pitch, string and fret (40100),
    within the instrument folder: `Gitarre monophon/Samples/Chorus/G61-40100-
    3311-20593.wav` -> 'Gitarre monophon/G61-40100'. Every effect version of a
    note shares the key; two takes of one note would share it too.
    """
    name = rel.rsplit("/", 1)[-1]
    for pattern, per_folder in NOTE_NAMES:
        found = pattern.fullmatch(name)
        if found:
            return f"{rel.split('/', 1)[0]}/{found[1]}" if per_folder else f"note{int(found[1])}"
    return None


def split_items(items, seed=DEFAULT_SEED):
    """{'train': [...], 'test': [...]}, every clip of a note (`note_key`) in one split.

    Notes, and files that name none, are ranked by a seeded hash of their key
    (the file's path when it names no note; the original shuffled unseeded);
    in that order each goes to test while no class of it would pass its
    test count n - int(0.8 * n), so per class int(0.8 * n) files train as in
    the original where whole notes allow (always when every note has one clip
    per class, as in the generated set), never fewer. Without note names this
    is the per-file rule: per class the first n - int(0.8 * n) files in hash
    order are the test files. Depends on file identity only.
    """
    groups = {}
    for rel, label in items:
        groups.setdefault(note_key(rel) or rel, []).append((rel, label))
    rank = lambda key: hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()  # noqa: E731
    counts = {}
    for _, label in items:
        counts[label] = counts.get(label, 0) + 1
    room = {label: n - int(n * TRAIN_FRACTION) for label, n in counts.items()}
    out = {"train": [], "test": []}
    for key in sorted(groups, key=rank):
        needs = {}
        for _, label in groups[key]:
            needs[label] = needs.get(label, 0) + 1
        fits = all(room[label] >= n for label, n in needs.items())
        if fits:
            for label, n in needs.items():
                room[label] -= n
        out["test" if fits else "train"] += groups[key]
    return {split: sorted(members, key=lambda it: (it[1], it[0])) for split, members in out.items()}



def read_clip(path):
    """Mono float32 at 44.1 kHz; raises ValueError naming the file if it cannot be read."""
    try:
        samples, sr = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as e:  # libsndfile errors are RuntimeErrors
        raise ValueError(f"cannot read {path} ({str(e).strip()})") from None
    if len(samples) == 0:
        raise ValueError(f"cannot read {path} (no samples)")
    return resample(samples.mean(axis=1), sr, SAMPLE_RATE)


def clip_length(path):
    """Length in samples at 44.1 kHz, from the header; ValueError if unreadable."""
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError) as e:
        raise ValueError(f"cannot read {path} ({str(e).strip()})") from None
    return math.ceil(info.frames * SAMPLE_RATE / info.samplerate)


# ---------------------------------------------------------------- the IDMT archive

def idmt_root(cache_dir=None):
    """Where download_idmt unpacks the archive: pass it as --data."""
    return default_cache_dir(cache_dir) / "audio" / IDMT_FOLDER


def download_idmt(cache_dir=None):
    """Fetch the IDMT-SMT-Audio-Effects archive from Zenodo (MD5 checked, kept in
    <cache_dir>/downloads/) and unpack it into the v1 layout at idmt_root(); a
    second call finds both and returns at once. Returns the root."""
    root = idmt_root(cache_dir)
    if root.is_dir():
        return root
    archive = default_cache_dir(cache_dir) / "downloads" / IDMT_ARCHIVE
    fetch(IDMT_URL, f"md5:{IDMT_MD5}", archive, size="several GB",
          fix=f"fetch it from https://doi.org/10.5281/zenodo.7544032 yourself, unpack it and its "
              "instrument zips, and pass the folder with --data")
    print(f"unpacking {archive} -> {root}")
    unpack_idmt(archive, root)
    return root


def _part_name(zip_name):
    """'Gitarre_polyphon2.zip' -> ('Gitarre polyphon2', 'Gitarre polyphon')."""
    part = PurePosixPath(zip_name).stem.replace("_", " ").strip()
    return part, re.sub(r"\s*2$", "", part)


def _safe_name(name):
    """`name` when it is one plain folder or file name (no '.', '..', separators), else None."""
    return None if name in ("", ".", "..") or any(c in name for c in "/\\\0") else name


def _checked_size(archive, info, cap, unpacked):
    """`unpacked` plus the member's declared size; a UsageError past its cap or the total's."""
    if info.file_size > cap or unpacked + info.file_size > MAX_UNPACKED_BYTES:
        limit = cap if info.file_size > cap else MAX_UNPACKED_BYTES
        raise UsageError(f"{archive}: {info.filename} would unpack past {limit >> 20} MB, more "
                         "than the IDMT archive holds; it is not that archive: delete it and run "
                         "again to download it anew")
    return unpacked + info.file_size


def _inside(partial, dest):
    """dest, checked to resolve inside the unpack folder."""
    if not dest.resolve().is_relative_to(partial.resolve()):
        raise UsageError(f"{dest} lies outside {partial}; not unpacked")
    return dest


def _unpack_parts(archive, outer, parts, partial):
    """Each instrument zip of `parts` into `partial`; clips per instrument."""
    counts, unpacked = {}, 0
    for part, info in sorted(parts.items()):
        instrument = _part_name(info.filename)[1]
        _checked_size(archive, info, MAX_PART_BYTES, 0)
        inner_path = _inside(partial, partial / f".{part}.zip")
        partial.mkdir(parents=True, exist_ok=True)
        with outer.open(info) as src, open(inner_path, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        with zipfile.ZipFile(inner_path) as inner:
            for member in inner.infolist():
                path = PurePosixPath(member.filename)
                if member.is_dir() or path.suffix.lower() != ".wav" or len(path.parts) < 2:
                    continue
                effect, name = _safe_name(path.parent.name), _safe_name(path.name)
                if effect is None or name is None:
                    continue
                dest = _inside(partial, partial / instrument / "Samples" / effect / name)
                if dest.exists():
                    continue  # the same clip in two parts: once
                unpacked = _checked_size(f"{archive}: {info.filename}", member, MAX_CLIP_BYTES,
                                         unpacked)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with inner.open(member) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                counts[instrument] = counts.get(instrument, 0) + 1
        inner_path.unlink()
    return counts


def unpack_idmt(archive, root):
    """Unpack the Zenodo archive to <root>/<instrument>/Samples/<Effect>/*.wav.

    The archive holds one zip per part of an instrument ('Bass monophon.zip',
    'Bass monophon2.zip', ...): a part named with a 2 holds more effects of the
    same instrument and goes into its folder, so that every version of a note
    shares one instrument folder (note_key). A part given twice (with '_' for
    spaces) is unpacked once. Each clip's effect is its folder's name. Written
    under a temporary name and renamed when complete: an interrupted unpack
    starts over, and one that fails leaves nothing. Names that are no plain
    folder or file name are left out, every write is checked to land inside the
    folder, and declared sizes are checked against caps before anything is read."""
    root = Path(root)
    partial = root.with_name(f".{root.name}.partial")
    if partial.exists():
        shutil.rmtree(partial)  # an unpack of ours that was interrupted
    try:
        outer = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise UsageError(f"{archive} is not a readable zip archive ({e}); delete it and run "
                         "again to download it anew") from None
    with outer:
        parts = {}
        for info in outer.infolist():
            if info.filename.lower().endswith(".zip") and _safe_name(_part_name(info.filename)[1]):
                part, _ = _part_name(info.filename)
                if part not in parts or "_" in PurePosixPath(parts[part].filename).name:
                    parts[part] = info
        if not parts:
            raise UsageError(f"{archive} holds no instrument zips; unpack it by hand into "
                             "<folder>/<instrument>/Samples/<Effect>/*.wav and pass --data <folder>")
        try:
            counts = _unpack_parts(archive, outer, parts, partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    partial.rename(root)
    print(", ".join(f"{name}: {n} clips" for name, n in sorted(counts.items())))
    return root
