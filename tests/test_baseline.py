"""The baseline as a record (audio/baseline.py --json) and as the report shows it
(helmholtz/report/baselines.py), with the example figures the report folder holds."""
import json

import numpy as np
import pytest
import soundfile

from audio import SAMPLE_RATE
from audio import baseline
from helmholtz.errors import cli_main
from helmholtz.report.baselines import baseline_section, example_figures

KEYS = {"name", "level", "accuracy", "test_size", "train_size", "classes", "confusion"}


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    """Three classes of tones an octave and more apart, 10 clips each."""
    root = tmp_path_factory.mktemp("tones")
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    for name, freq in (("low", 110.0), ("mid", 330.0), ("high", 990.0)):
        (root / name).mkdir()
        for i in range(10):
            x = 0.3 * np.sin(2 * np.pi * freq * (1 + 0.02 * i) * t) * np.exp(-3 * t)
            soundfile.write(root / name / f"{name}_{i}.wav", x, SAMPLE_RATE, subtype="PCM_16")
    return root


def test_the_json_record_holds_what_the_baseline_printed(tones, tmp_path, capsys):
    cache, record = tmp_path / "cache", tmp_path / "out" / "baseline" / "bitrate_8.json"
    baseline.main(["--data", str(tones), "--bitrate", "8", "--cache_dir", str(cache),
                   "--json", str(record)])
    printed = capsys.readouterr().out.splitlines()
    saved = json.loads(record.read_text())
    assert set(saved) == KEYS
    assert saved["name"] == "logistic regression on pooled mel statistics"
    assert (saved["level"], saved["classes"]) == (8, ["high", "low", "mid"])
    assert (saved["train_size"], saved["test_size"]) == (24, 6)
    assert saved["accuracy"] == np.trace(saved["confusion"]) / 6
    # stdout as without --json: the accuracy line, then the confusion matrix
    line = next(i for i, text in enumerate(printed) if text.startswith("logistic"))
    assert (f"bitrate 8: test accuracy {saved['accuracy']:.3f} (6 test clips, 24 train"
            in printed[line])
    assert [row.split()[1:] for row in printed[line + 2:line + 5]] == [
        [str(v) for v in row] for row in saved["confusion"]]
    assert [p.name for p in record.parent.iterdir()] == ["bitrate_8.json"]  # no temporary left


def test_no_record_when_the_baseline_fails(tones, tmp_path, capsys):
    out = tmp_path / "out"
    for argv in (["--data", str(tmp_path / "missing"), "--bitrate", "8"],  # no source
                 ["--data", str(tones), "--bitrate", "33"],                # a level LAME refuses
                 ["--data", str(tones), "--bitrate", "8", "--json", str(tmp_path)]):  # a folder
        argv = [*argv, "--cache_dir", str(tmp_path / "cache")]
        if "--json" not in argv:
            argv += ["--json", str(out / "bitrate_8.json")]
        with pytest.raises(SystemExit) as stop:
            cli_main(lambda: baseline.main(argv))
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err
    assert not out.exists()


def record(folder, level, accuracy, name="logistic regression on pooled mel statistics"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"x_{level}.json").write_text(json.dumps(
        {"name": name, "level": level, "accuracy": accuracy, "test_size": 360,
         "train_size": 1440, "classes": ["a", "b"], "confusion": [[1, 0], [0, 1]]}))


def test_the_baseline_section_is_a_table_by_level_with_lossless_last(tmp_path):
    assert baseline_section(tmp_path) == []
    for level, accuracy in (("lossless", 0.7125), (64, 0.69), (8, 0.5), (16, 0.61)):
        record(tmp_path / "baseline", level, accuracy)
    (tmp_path / "baseline" / "broken.json").write_text("{")
    md = baseline_section(tmp_path)
    rows = [line for line in md if line.startswith("| logistic")]
    # Clopper-Pearson bounds, from the beta quantiles:
    # beta.ppf(0.05, k, n - k + 1) and beta.ppf(0.95, k + 1, n - k), k correct of n = 360
    assert [row.split(" | ")[1:] for row in rows] == [
        ["8", "50.00 (45.54 to 54.46)", "360 |"], ["16", "61.00 (56.69 to 65.40)", "360 |"],
        ["64", "69.00 (64.63 to 72.91)", "360 |"], ["lossless", "71.25 (66.92 to 75.04)", "360 |"]]
    assert md[md.index(rows[0]) - 2].startswith("| baseline | level | test acc. % (90%) | test examples")
    assert any("broken.json" in line for line in md)


def test_example_figures_are_the_examples_pngs_of_the_folder(tmp_path):
    assert example_figures(tmp_path) == []
    for name in ("examples_b.png", "examples_a.png", "accuracy_vs_level.png", "examples_c.txt"):
        (tmp_path / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    assert example_figures(tmp_path) == ["examples_a.png", "examples_b.png"]
