"""Example figures (cifar/examples.py, audio/examples.py): drawn from the caches the
trainers read, the same examples at every level, and one line for bad input."""
import numpy as np
import pytest
import soundfile
from PIL import Image

from audio import CLASSES, SAMPLE_RATE
from audio import data as audio_data
from audio import examples as audio_examples
from cifar import data as cifar_data
from cifar import examples as cifar_examples
from helmholtz.errors import cli_main


def run_cli(main, argv, capsys):
    """Run a command line that must fail; return its one-line error (exit status 2)."""
    with pytest.raises(SystemExit) as stop:
        cli_main(lambda: main(argv))
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def png_size(path):
    with Image.open(path) as image:
        return image.format, image.size


# ---------------------------------------------------------------- images

@pytest.fixture(scope="module")
def image_cache(fashion_folder, tmp_path_factory):
    """Real Fashion-MNIST caches (10 test images) at quality 1 and lossless, upright
    (--fixed), and lossless as the original encoded it (transposed)."""
    cache = tmp_path_factory.mktemp("images")
    common = ["--dataset", "fashion-mnist", "--data", str(fashion_folder), "--cache_dir", str(cache)]
    cifar_data.main([*common, "--fixed", "--quality", "1", "lossless"])
    cifar_data.main([*common, "--quality", "lossless"])
    return cache


def test_image_examples_show_the_cached_test_images_upright_at_each_level(
        image_cache, fashion_folder, tmp_path):
    out = tmp_path / "examples_cifar.png"
    common = ["--dataset", "fashion-mnist", "--data", str(fashion_folder),
              "--cache_dir", str(image_cache)]
    cifar_examples.main([*common, "--fixed", "--quality", "1", "lossless", "--out", str(out)])
    fig = cifar_examples.draw("fashion-mnist", [1, "lossless"], image_cache, "upright", 6,
                              fashion_folder)
    assert png_size(out) == ("PNG", tuple(round(v * fig.dpi) for v in fig.get_size_inches()))
    axes = np.array(image_axes(fig)).reshape(6, 2)
    # columns: the levels with their mean payload over the test split
    for col, level in enumerate((1, "lossless")):
        split = cifar_data.load_split("fashion-mnist", level, "test", fashion_folder, image_cache,
                                      "upright")
        assert f"{split['payload'].mean():.0f} B/image" in axes[0, col].get_title()
        # rows: six test images of six classes, the same at every level, pixels as cached
        shown = np.stack([ax.images[0].get_array() for ax in axes[:, col]])
        chosen = cifar_examples.pick(split["label"], 6)
        assert len(set(split["label"][chosen])) == 6
        np.testing.assert_array_equal(shown, split["data"][chosen, ..., 0])
    assert "quality 1" in axes[0, 0].get_title() and "lossless" in axes[0, 1].get_title()
    # the original's transposed caches are shown upright too
    transposed = cifar_examples.draw("fashion-mnist", ["lossless"], image_cache, "transposed", 6,
                                     fashion_folder)
    np.testing.assert_array_equal(
        [ax.images[0].get_array() for ax in image_axes(transposed)],
        [ax.images[0].get_array() for ax in axes[:, 1]])


def test_image_examples_refuse_an_unknown_level_or_a_missing_cache(image_cache, fashion_folder,
                                                                   tmp_path, capsys):
    out = tmp_path / "examples.png"
    common = ["--dataset", "fashion-mnist", "--data", str(fashion_folder),
              "--cache_dir", str(image_cache), "--fixed", "--out", str(out)]
    assert "101" in run_cli(cifar_examples.main, [*common, "--quality", "1", "101"], capsys)
    err = run_cli(cifar_examples.main, [*common, "--quality", "1", "5", "lossless"], capsys)
    assert (f"python cifar/data.py --dataset fashion-mnist --fixed --quality 5 --cache_dir "
            f"{image_cache} --data {fashion_folder}") in err
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- audio

def write_tones(root, classes, notes=5, seconds=0.5):
    """Class folders of short harmonic tones, named as the generated set names its notes
    (a note's versions share its number), each class with its own spectrum."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for j in range(notes):
            f = 110.0 * (1 + j / 4)
            x = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, c + 2)) * np.exp(-3 * t)
            soundfile.write(root / name / f"note{j}-v.wav", 0.3 * x, SAMPLE_RATE, subtype="PCM_16")


@pytest.fixture(scope="module")
def audio_cache(tmp_path_factory):
    """A tiny stand-in for the generated set (5 classes x 5 notes) and its features at
    8 kbps and lossless, built as the study builds them."""
    cache = tmp_path_factory.mktemp("audio")
    write_tones(audio_data.generated_root(cache), CLASSES[:5])
    audio_data.main(["--cache_dir", str(cache), "--bitrate", "8", "lossless"])
    return cache


def test_audio_examples_show_the_cached_spectrograms_of_clips_of_different_classes(
        audio_cache, tmp_path):
    out = tmp_path / "examples_audio.png"
    audio_examples.main(["--cache_dir", str(audio_cache), "--bitrate", "8", "lossless",
                         "--out", str(out)])
    fig = audio_examples.draw([8, "lossless"], audio_cache, rows=4)
    assert png_size(out) == ("PNG", tuple(round(v * fig.dpi) for v in fig.get_size_inches()))
    axes = np.array(image_axes(fig)).reshape(4, 2)
    rows = None
    for col, level in enumerate((8, "lossless")):
        split = audio_data.load_split(level, "test", cache_dir=audio_cache)
        chosen = audio_examples.pick(split["label"], len(split["classes"]), 4)
        names = [split["classes"][split["label"][i]] for i in chosen]
        assert len(set(names)) == 4 and names[0] == "NoFX"
        assert rows in (None, [split["files"][i] for i in chosen])  # the same clips at each level
        rows = [split["files"][i] for i in chosen]
        # the dB mel spectrograms the CNN is fed, as cached
        shown = np.stack([ax.images[0].get_array() for ax in axes[:, col]])
        np.testing.assert_array_equal(shown, split["data"][chosen, ..., 0].astype(np.float32))
        assert f"{split['payload'].mean() / 1000:.1f} kB/clip" in axes[0, col].get_title()
    assert "8 kbps" in axes[0, 0].get_title() and "lossless" in axes[0, 1].get_title()
    assert [ax.get_ylabel().split("\n")[0] for ax in axes[:, 0]] == names


def test_audio_examples_refuse_an_unknown_level_or_a_missing_cache(audio_cache, tmp_path, capsys):
    out = tmp_path / "examples.png"
    assert "33" in run_cli(audio_examples.main, ["--cache_dir", str(audio_cache), "--bitrate",
                                                 "8", "33", "--out", str(out)], capsys)
    err = run_cli(audio_examples.main, ["--cache_dir", str(audio_cache), "--bitrate", "8", "16",
                                        "--out", str(out)], capsys)
    assert f"python audio/data.py --cache_dir {audio_cache} --bitrate 16" in err
    empty = tmp_path / "empty"
    err = run_cli(audio_examples.main, ["--cache_dir", str(empty), "--bitrate", "8",
                                        "--out", str(out)], capsys)
    assert f"python audio/data.py --generate --cache_dir {empty} --bitrate 8" in err
    assert not list(tmp_path.iterdir())
