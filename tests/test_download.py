"""Downloads through pooch with a known checksum: CIFAR-10 and the IDMT-SMT-Audio-Effects
archive, served from this machine over http (no internet); a wrong checksum or no
connection ends in one line, exit 2, nothing kept."""
import functools
import hashlib
import http.server
import io
import os
import threading
import zipfile

import numpy as np
import pytest
import soundfile

from audio import data as audio_data
from audio import sources as audio_sources
from cifar import sources as cifar_sources
from helmholtz.errors import UsageError, cli_main


@pytest.fixture
def served(tmp_path):
    """(folder, base URL): the folder's files served over http on 127.0.0.1."""
    folder = tmp_path / "www"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def one_error_line(capsys, run):
    """Run `run` as a command does; its exit status and the one stderr line."""
    with pytest.raises(SystemExit) as stop:
        cli_main(run)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return stop.value.code, err


# ---------------------------------------------------------------- CIFAR-10

@pytest.fixture
def cifar_served(served, cifar_archive, tmp_path, monkeypatch):
    folder, base = served
    (folder / cifar_sources.CIFAR_ARCHIVE).write_bytes(cifar_archive.read_bytes())
    monkeypatch.setattr(cifar_sources, "CIFAR_URL", f"{base}/{cifar_sources.CIFAR_ARCHIVE}")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))  # no copy found there
    return cifar_archive


def test_cifar_archive_is_downloaded_checked_and_then_found(cifar_served, cifar_splits, tmp_path,
                                                            monkeypatch):
    monkeypatch.setattr(cifar_sources, "CIFAR_MD5", md5(cifar_served))  # the tiny archive's own
    cache = tmp_path / "cache"
    source = cifar_sources.find_source("cifar10", cache_dir=cache)
    assert source.where == cifar_sources.CIFAR_URL
    splits = source.read()
    for split in ("train", "test"):
        np.testing.assert_array_equal(splits[split][0], cifar_splits[split][0])
        np.testing.assert_array_equal(splits[split][1], cifar_splits[split][1])
    kept = cache / "downloads" / cifar_sources.CIFAR_ARCHIVE
    assert kept.read_bytes() == cifar_served.read_bytes()
    assert cifar_sources.find_source("cifar10", cache_dir=cache).where == str(kept)


def test_cifar_download_with_another_md5_is_one_line_exit_2_and_nothing_kept(cifar_served, tmp_path,
                                                                             capsys):
    cache = tmp_path / "cache"  # the official MD5 is expected; the tiny archive has another
    code, err = one_error_line(capsys, lambda: cifar_sources.find_source("cifar10", cache_dir=cache).read())
    assert code == 2
    assert f"has checksum {md5(cifar_served)}, not md5:{cifar_sources.CIFAR_MD5}" in err
    assert not (cache / "downloads").exists() or os.listdir(cache / "downloads") == []


def test_no_connection_is_one_line_exit_2(served, tmp_path, monkeypatch, capsys):
    folder, base = served
    monkeypatch.setattr(cifar_sources, "CIFAR_URL", f"{base}/missing.tar.gz")  # 404
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))
    code, err = one_error_line(
        capsys, lambda: cifar_sources.find_source("cifar10", cache_dir=tmp_path / "cache").read())
    assert code == 2 and "cannot download" in err and "--data PATH" in err


# ---------------------------------------------------------------- IDMT-SMT-Audio-Effects

def wav_bytes(seed):
    out = io.BytesIO()
    noise = np.random.default_rng(seed).uniform(-0.1, 0.1, 4410).astype(np.float32)
    soundfile.write(out, noise, 44100, format="WAV", subtype="PCM_16")
    return out.getvalue()


def zip_bytes(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return out.getvalue()


# The Zenodo archive's shape: one zip per instrument part inside IDMT-SMT-AUDIO-EFFECTS/ twice;
# a part "2" holds more effects of the same instrument (the polyphonic one without Samples/),
# one part is there twice, once with '_' for spaces.
IDMT_PARTS = {
    "Bass monophon.zip": {"Bass monophon/Samples/NoFX/B11-28100-1111-00001.wav": 1,
                          "Bass monophon/Samples/Chorus/B11-28100-1111-00002.wav": 2,
                          "Bass monophon/Samples/NoFX/B11-29200-1111-00003.wav": 3,
                          "Bass monophon/Lists/NoFX.xml": None},
    "Bass monophon2.zip": {"Bass monophon2/Samples/Distortion/B11-28100-3311-00004.wav": 4,
                           "Bass monophon2/Samples/Distortion/B11-29200-3311-00005.wav": 5,
                           "Bass monophon2/Samples/Chorus/B11-29200-1111-00006.wav": 6},
    "Gitarre polyphon2.zip": {"Gitarre polyphon2/NoFX/P64-43110-1111-00007.wav": 7,
                              "Gitarre polyphon2/Chorus/P64-43110-1111-00008.wav": 8,
                              "Gitarre polyphon2/Distortion/P64-43110-3311-00009.wav": 9},
}


def idmt_archive(path):
    inner = {name: zip_bytes({m: (b"<list/>" if s is None else wav_bytes(s)) for m, s in files.items()})
             for name, files in IDMT_PARTS.items()}
    inner["Gitarre_polyphon2.zip"] = inner["Gitarre polyphon2.zip"]
    path.write_bytes(zip_bytes({f"IDMT-SMT-AUDIO-EFFECTS/IDMT-SMT-AUDIO-EFFECTS/{name}": content
                                for name, content in inner.items()}))
    return path


def test_idmt_download_is_one_command_to_the_layout_the_reader_knows(served, tmp_path, monkeypatch):
    folder, base = served
    archive = idmt_archive(folder / audio_sources.IDMT_ARCHIVE)
    monkeypatch.setattr(audio_sources, "IDMT_URL", f"{base}/{audio_sources.IDMT_ARCHIVE}")
    monkeypatch.setattr(audio_sources, "IDMT_MD5", md5(archive))
    cache = tmp_path / "cache"
    audio_data.main(["--download", "--cache_dir", str(cache), "--bitrate", "lossless"])

    root = audio_sources.idmt_root(cache)
    assert audio_sources.resolve_source(root) == (audio_sources.IDMT_NAME, root)
    wavs = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    parts = {"Bass monophon2": "Bass monophon", "Gitarre polyphon2": "Gitarre polyphon/Samples"}
    expected = []
    for files in IDMT_PARTS.values():
        for member, seed in files.items():
            if seed is not None:
                top, rest = member.split("/", 1)
                expected.append(f"{parts.get(top, top)}/{rest}")
    assert wavs == sorted(expected)  # the lists left out, the doubled part once
    assert (root / "Bass monophon/Samples/Chorus/B11-28100-1111-00002.wav").read_bytes() == wav_bytes(2)
    classes, items = audio_sources.scan(root)
    assert classes == ["NoFX", "Chorus", "Distortion"]
    # the parts of one instrument share its folder, so every version of a note is one note
    assert {audio_sources.note_key(rel) for rel, _ in items if "B11-28100" in rel} == \
        {"Bass monophon/B11-28100"}
    splits = audio_sources.split_items(items)
    notes = {split: {audio_sources.note_key(rel) for rel, _ in members} for split, members in splits.items()}
    assert not notes["train"] & notes["test"]
    assert audio_data.load_split("lossless", "test", data_path=root, cache_dir=cache)["files"]

    archive.unlink()  # a second call finds the folder: no download
    audio_data.main(["--download", "--cache_dir", str(cache)])


def test_idmt_download_with_another_md5_is_one_line_exit_2_and_nothing_kept(served, tmp_path,
                                                                            monkeypatch, capsys):
    folder, base = served
    idmt_archive(folder / audio_sources.IDMT_ARCHIVE)
    monkeypatch.setattr(audio_sources, "IDMT_URL", f"{base}/{audio_sources.IDMT_ARCHIVE}")
    cache = tmp_path / "cache"  # the real archive's MD5 is expected
    code, err = one_error_line(capsys, lambda: audio_data.main(["--download", "--cache_dir", str(cache)]))
    assert code == 2 and f"not md5:{audio_sources.IDMT_MD5}" in err
    assert not audio_sources.idmt_root(cache).exists()
    assert not (cache / "downloads").exists() or os.listdir(cache / "downloads") == []
