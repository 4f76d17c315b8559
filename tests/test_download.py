"""Downloads through pooch with a known checksum: CIFAR-10, Fashion-MNIST, the soundfont's
Debian package and the IDMT-SMT-Audio-Effects archive, served from this machine over http
(no internet), by their official address or through HELMHOLTZ_DOWNLOAD_MIRROR; a wrong
checksum, a truncated transfer, a missing file or a server gone mid-transfer ends in one
line, exit 2, nothing kept."""
import functools
import hashlib
import http.server
import io
import os
import socket
import struct
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from audio import data as audio_data
from audio import generate as audio_generate
from audio import sources as audio_sources
from cifar import sources as cifar_sources
from helmholtz import REPO
from helmholtz.data.download import MIRROR, NO_SYSTEM_DATA
from helmholtz.errors import UsageError, cli_main

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# Where apt keeps the package files it fetched (.ci/run: apt-get install --download-only).
SOUNDFONT_DEB = Path("/var/cache/apt/archives") / Path(audio_generate.SOUNDFONT_DEB_URL).name


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder's files; under /truncated/ a file stops halfway through the
    length its header announced, under /gone/ the server stops halfway through it."""
    server_version = "test"

    def log_message(self, *args):
        pass

    def do_GET(self):
        mode, _, rest = self.path.lstrip("/").partition("/")
        if mode not in ("truncated", "gone"):
            return super().do_GET()
        data = Path(self.directory, rest).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:len(data) // 2])
        self.wfile.flush()
        if mode == "gone":  # the connection reset, nobody listening any more
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            threading.Thread(target=self.server.shutdown).start()
        self.close_connection = True


@pytest.fixture
def served(tmp_path):
    """(folder, base URL): the folder's files served over http on 127.0.0.1."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file())


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


def test_cifar_and_idmt_come_through_the_mirror_by_their_own_names(served, cifar_archive, tmp_path,
                                                                  monkeypatch, capsys):
    folder, base = served
    (folder / cifar_sources.CIFAR_ARCHIVE).write_bytes(cifar_archive.read_bytes())
    idmt = idmt_archive(folder / audio_sources.IDMT_ARCHIVE)
    monkeypatch.setattr(cifar_sources, "CIFAR_MD5", md5(cifar_archive))  # the tiny archives' own
    monkeypatch.setattr(audio_sources, "IDMT_MD5", md5(idmt))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras"))
    monkeypatch.setenv(MIRROR, f"{base}/")
    cache = tmp_path / "cache"
    cifar_sources.find_source("cifar10", cache_dir=cache).read()
    audio_data.main(["--download", "--cache_dir", str(cache)])
    out = capsys.readouterr().out
    for name in (cifar_sources.CIFAR_ARCHIVE, audio_sources.IDMT_ARCHIVE):
        assert f"downloading {base}/{name} -> {cache / 'downloads' / name}" in out
        assert (cache / "downloads" / name).read_bytes() == (folder / name).read_bytes()


# ---------------------------------------------------------------- Fashion-MNIST, through a mirror

FASHION_NAMES = list(cifar_sources.FASHION_CONTENT)


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    """As on a machine without the Debian data: the downloads go to a fresh cache."""
    monkeypatch.setenv(NO_SYSTEM_DATA, "1")
    return tmp_path / "cache"


def serve_debian_fashion(folder):
    """The real Debian files (re-gzipped: other bytes than the official downloads)."""
    if not all((FASHION_DIR / name).is_file() for name in FASHION_NAMES):
        pytest.skip("needs the Debian package dataset-fashion-mnist")
    for name in FASHION_NAMES:
        (folder / name).symlink_to(FASHION_DIR / name)


def test_fashion_mnist_without_system_data_comes_through_the_mirror_checked(served, no_system_data,
                                                                             monkeypatch):
    folder, base = served
    serve_debian_fashion(folder)
    monkeypatch.setenv(MIRROR, base + "/")
    source = cifar_sources.find_source("fashion-mnist", cache_dir=no_system_data)
    assert source.where == cifar_sources.FASHION_URL  # not the Debian folder, though it is here
    splits = source.read()
    assert [len(splits[s][1]) for s in ("train", "test")] == [60000, 10000]
    kept = no_system_data / "downloads" / "fashion-mnist"
    assert files_under(no_system_data / "downloads") == sorted(f"fashion-mnist/{n}" for n in FASHION_NAMES)
    again = cifar_sources.find_source("fashion-mnist", cache_dir=no_system_data)
    assert again.where == str(kept) and again.checksum == source.checksum  # same caches
    monkeypatch.delenv(NO_SYSTEM_DATA)
    assert cifar_sources.find_source("fashion-mnist", cache_dir=no_system_data).where == str(FASHION_DIR)


@pytest.mark.parametrize("trouble", ["other content", "truncated", "404", "server gone"])
def test_a_failed_fashion_download_is_one_line_exit_2_and_nothing_kept(trouble, served, no_system_data,
                                                                       fashion_folder, monkeypatch, capsys):
    folder, base = served
    for name in FASHION_NAMES:  # real idx files, but 30 images: not the pinned content
        (folder / name).write_bytes((fashion_folder / name).read_bytes())
    path = {"truncated": "/truncated", "server gone": "/gone", "404": "/nothing-here"}.get(trouble, "")
    monkeypatch.setenv(MIRROR, base + path)
    code, err = one_error_line(
        capsys, lambda: cifar_sources.find_source("fashion-mnist", cache_dir=no_system_data).read())
    assert code == 2 and f"{base}{path}/train-images-idx3-ubyte.gz" in err
    assert {"other content": "has checksum", "404": "404"}.get(trouble, "cannot download") in err
    assert "dataset-fashion-mnist" in err, err  # the way round it
    assert files_under(no_system_data) == [], err


@pytest.mark.parametrize("mirror", ["mirror.example/files", "/srv/mirror", "http://"])
def test_a_mirror_that_is_no_web_address_is_one_line_exit_2(mirror, no_system_data, monkeypatch, capsys):
    monkeypatch.setenv(MIRROR, mirror)
    code, err = one_error_line(
        capsys, lambda: cifar_sources.find_source("fashion-mnist", cache_dir=no_system_data).read())
    assert code == 2 and f"{MIRROR}={mirror} is not a web address" in err
    assert not no_system_data.exists()


# ---------------------------------------------------------------- the soundfont, from Debian's package file

@pytest.fixture
def soundfont_deb():
    if not SOUNDFONT_DEB.is_file():
        pytest.skip(f"needs the package file {SOUNDFONT_DEB} (apt-get install --download-only "
                    "fluid-soundfont-gm, as .ci/run does)")
    return SOUNDFONT_DEB


# ---------------------------------------------------------------- the demo's data steps

def test_demo_data_steps_run_without_system_data_through_a_loopback_mirror(served, tmp_path, soundfont_deb):
    """Fashion-MNIST from the real Debian files, the soundfont unpacked from the real package
    file, both served as a mirror would; then the audio set and the image caches."""
    pytest.importorskip("tinysoundfont")
    folder, base = served
    serve_debian_fashion(folder)
    (folder / soundfont_deb.name).symlink_to(soundfont_deb)
    cache = tmp_path / "cache"
    env = {**os.environ, "HELMHOLTZ_CACHE": str(cache), NO_SYSTEM_DATA: "1", MIRROR: base,
           "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "scripts/demo.py", "--data_only", "--audio_clips_per_class", "1"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"downloading {base}/train-images-idx3-ubyte.gz" in proc.stdout
    assert f"downloading {base}/{soundfont_deb.name}" in proc.stdout
    kept = files_under(cache / "downloads")
    assert kept == sorted([audio_generate.SOUNDFONT.name, *(f"fashion-mnist/{n}" for n in FASHION_NAMES)])
    soundfont = cache / "downloads" / audio_generate.SOUNDFONT.name  # the package file removed
    assert hashlib.sha256(soundfont.read_bytes()).hexdigest() == audio_generate.SOUNDFONT_SHA256
    manifest = audio_generate.json.loads((cache / "audio" / "generated" / "manifest.json").read_text())
    assert len(manifest["clips"]) == 12 and manifest["settings"]["soundfont"] == str(soundfont)
    assert (cache / "fashion-mnist").is_dir()  # the image caches, built from the download
