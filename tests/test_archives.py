"""Archives and audio input as a careless or hostile source would give them: sizes
checked before anything is read, unpacked names kept inside their folder, and
non-finite samples refused naming the file (or skipped and counted)."""
import io
import tarfile
import tracemalloc
import zipfile

import numpy as np
import pytest
import soundfile

from audio import SAMPLE_RATE
from audio import data as audio_data
from audio import sources as audio_sources
from cifar import sources as cifar_sources
from helmholtz.errors import UsageError, cli_main


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buffer.getvalue()


def wav_bytes(seconds=0.1):
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(int(seconds * SAMPLE_RATE), np.float32), SAMPLE_RATE,
                    format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def files_below(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- the IDMT unpacker

def test_idmt_unpacker_keeps_every_write_inside_its_root(tmp_path):
    clip = wav_bytes()
    inner = zip_bytes({"Bass monophon/NoFX/B11-1.wav": clip,
                       "Bass monophon/../B11-2.wav": clip,        # folder '..'
                       "/abs/Chorus/B11-3.wav": clip})             # absolute: kept by its last parts
    archive = tmp_path / "archive.zip"
    archive.write_bytes(zip_bytes({"top/Bass monophon.zip": inner,
                                   "top/...zip": inner,            # an instrument named '..'
                                   "top/..\\..\\x.zip": inner}))
    root = tmp_path / "deep" / "root"
    root.parent.mkdir()
    audio_sources.unpack_idmt(archive, root)
    assert files_below(tmp_path / "deep") == ["root/Bass monophon/Samples/Chorus/B11-3.wav",
                                              "root/Bass monophon/Samples/NoFX/B11-1.wav"]
    assert files_below(tmp_path) == ["archive.zip", *(f"deep/{p}" for p in files_below(tmp_path / "deep"))]


@pytest.mark.parametrize("cap, fragment", [("MAX_CLIP_BYTES", "would unpack past"),
                                           ("MAX_UNPACKED_BYTES", "would unpack past"),
                                           ("MAX_PART_BYTES", "would unpack past")])
def test_idmt_unpacker_checks_declared_sizes_before_reading_and_leaves_nothing(
        tmp_path, monkeypatch, cap, fragment):
    clips = [np.random.default_rng(i).bytes(44_000) for i in range(4)]  # 44 kB each, unpackable
    inner = zip_bytes({f"Bass monophon/NoFX/B11-{i}.wav": clip for i, clip in enumerate(clips)})
    archive = tmp_path / "archive.zip"
    archive.write_bytes(zip_bytes({"top/Bass monophon.zip": inner}))
    monkeypatch.setattr(audio_sources, cap, 100_000 if cap == "MAX_UNPACKED_BYTES" else 10_000)
    root = tmp_path / "root"
    with pytest.raises(UsageError, match=fragment):
        audio_sources.unpack_idmt(archive, root)
    assert files_below(tmp_path) == ["archive.zip"]  # no root, no partial folder


def test_a_zip_bomb_of_a_clip_is_refused_by_its_declared_size(tmp_path):
    inner = zip_bytes({"Bass monophon/NoFX/B11-1.wav": bytes(64 << 20)})  # 64 MB of zeros, 60 kB
    archive = tmp_path / "archive.zip"
    archive.write_bytes(zip_bytes({"top/Bass monophon.zip": inner}))
    with pytest.raises(UsageError, match="would unpack past 16 MB"):
        audio_sources.unpack_idmt(archive, tmp_path / "root")
    assert files_below(tmp_path) == ["archive.zip"]


# ---------------------------------------------------------------- the CIFAR archive

def test_a_cifar_archive_member_larger_than_a_batch_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name in cifar_sources.CIFAR_MEMBERS:
            size = 200 << 20 if name == "data_batch_1" else 10  # 200 MB of zeros: 200 kB packed
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    assert path.stat().st_size < 2 << 20
    source = cifar_sources.find_source("cifar10", str(path))
    tracemalloc.start()
    try:
        with pytest.raises(UsageError, match="data_batch_1 holds 209,715,200 bytes, more than a "
                                             "CIFAR-10 batch"):
            source.read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20


def test_a_gzip_idx_file_that_unpacks_past_any_fashion_file_is_refused(tmp_path, monkeypatch):
    import gzip
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + bytes(4000))
    monkeypatch.setattr(cifar_sources, "MAX_IDX_BYTES", 1000)
    with pytest.raises(UsageError, match="unpacks to more than"):
        cifar_sources._read_idx(path, ndim=3)


# ---------------------------------------------------------------- non-finite audio

@pytest.fixture
def nan_source(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("low", "high"):
        (tmp_path / "clips" / name).mkdir(parents=True)
        for i in range(5):
            x = (0.1 * rng.standard_normal(SAMPLE_RATE // 4)).astype(np.float32)
            soundfile.write(tmp_path / "clips" / name / f"{name}_{i}.wav", x, SAMPLE_RATE,
                            subtype="FLOAT")
    bad = np.zeros(SAMPLE_RATE // 4, np.float32)
    bad[100], bad[200] = np.nan, np.inf
    soundfile.write(tmp_path / "clips" / "low" / "low_nan.wav", bad, SAMPLE_RATE, subtype="FLOAT")
    return tmp_path / "clips"


def test_non_finite_audio_is_refused_naming_the_file_then_skipped_and_counted(nan_source, tmp_path,
                                                                              capsys):
    cache = tmp_path / "cache"
    argv = ["--data", str(nan_source), "--bitrate", "8", "--cache_dir", str(cache)]
    with pytest.raises(SystemExit) as stop:
        cli_main(lambda: audio_data.main(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1, err
    assert "low_nan.wav holds non-finite samples" in err[0] and "--skip_bad" in err[0]
    assert not list(cache.rglob("*.h5"))

    audio_data.main([*argv, "--skip_bad"])
    assert "skipped 1" in capsys.readouterr().err
    splits = [audio_data.load_split(8, s, nan_source, cache, skip_bad=True) for s in audio_data.SPLITS]
    assert sum(len(s["label"]) for s in splits) == 10
    assert all(np.isfinite(s["data"].astype(np.float32)).all() for s in splits)
