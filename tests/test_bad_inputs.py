"""Bad input, as a table: (command, flags, exit status, a fragment of the message).

Every case must end with one line on stderr, starting "error:", naming the
problem, with exit status 2 and no traceback, and must write nothing. The
table runs in this process (each command's main(argv) under cli_main); a few
cases run as real processes too, for the no-traceback guarantee end to end.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helmholtz.errors import cli_main

REPO = Path(__file__).resolve().parents[1]

# Placeholders: {file} an existing file; {foreign} a folder holding someone's file;
# {damaged_config}, {damaged_history} run folders with a damaged file; {locked} a
# run folder another live process trains; {run} a run folder of other settings;
# {nowhere} a path that does not exist; {nonutf} a class folder set with a file
# name that is not UTF-8; {other_tool} a folder with another tool's config.json and
# history.csv; {nanwav} a class folder set with a WAV file holding NaN and inf.
CASES = [
    # cifar/train.py: numbers
    ("cifar/train.py", "--learning_rate -1", "--learning_rate: expected a number above 0"),
    ("cifar/train.py", "--learning_rate 0", "--learning_rate: expected a number above 0"),
    ("cifar/train.py", "--learning_rate nan", "--learning_rate: expected a finite number"),
    ("cifar/train.py", "--learning_rate inf", "--learning_rate: expected a finite number"),
    ("cifar/train.py", "--learning_rate abc", "--learning_rate: expected a finite number"),
    ("cifar/train.py", "--decay_rate=-1e-6", "--decay_rate: expected a number of at least 0"),
    ("cifar/train.py", "--decay_rate nan", "--decay_rate: expected a finite number"),
    ("cifar/train.py", "--seed -1", "--seed: expected a whole number 0..4294967295"),
    ("cifar/train.py", "--seed 4294967296", "--seed: expected a whole number 0..4294967295"),
    ("cifar/train.py", "--seed 1.5", "--seed: expected a whole number"),
    ("cifar/train.py", "--batch_size 0", "--batch_size: expected a positive whole number"),
    ("cifar/train.py", "--num_epoch -3", "--num_epoch: expected a positive whole number"),
    ("cifar/train.py", "--subset 0", "--subset: expected a positive whole number"),
    ("cifar/train.py", "--test_subset x", "--test_subset: expected a positive whole number"),
    ("cifar/train.py", "--precision bf16", "--precision: invalid choice"),
    ("cifar/train.py", "--quality 0", "quality"),
    ("cifar/train.py", "--quality 101", "quality"),
    ("cifar/train.py", "--test_quality 25 abc", "quality"),
    ("cifar/train.py", "--setting 6", "unknown setting 6"),
    ("cifar/train.py", "--model resnet", "unknown model 'resnet'"),
    ("cifar/train.py", "--dataset mnist", "--dataset: invalid choice"),
    ("cifar/train.py", "--colour", "unrecognized arguments: --colour"),
    ("cifar/train.py", "--codec heic", "unknown codec 'heic' for cifar; choose one of jpeg, webp"),
    ("cifar/train.py", "--codec webp --test_quality 0", "quality"),
    ("cifar/train.py", "--test_codec webp heic", "unknown codec 'heic' for cifar; choose one of jpeg"),
    ("cifar/train.py", "--sensor_noise 65", "--sensor_noise 65 is out of range"),
    ("cifar/train.py", "--sensor_noise -1", "--sensor_noise -1 is out of range"),
    ("cifar/train.py", "--sensor_noise nan", "--sensor_noise nan is out of range"),
    # cifar/train.py: folders
    ("cifar/train.py", "--log_dir {file}/logs", "is a file, not a folder"),
    ("cifar/train.py", "--train_dir {file}", "is a file, not a folder"),
    ("cifar/train.py", "--train_dir {file}/run", "is a file, not a folder"),
    ("cifar/train.py", "--cache_dir {file}/cache", "is a file, not a folder"),
    ("cifar/train.py", "--train_dir {foreign}", "holds files that are not a run's (thesis.tex)"),
    ("cifar/train.py", "--train_dir {foreign} --force", "holds files that are not a run's"),
    ("cifar/train.py", "--train_dir {damaged_config}", "config.json is damaged (invalid JSON"),
    ("cifar/train.py", "--train_dir {damaged_history}", "history.csv is damaged (epoch row 2"),
    ("cifar/train.py", "--train_dir {locked}", "is being trained by pid"),
    ("cifar/train.py", "--train_dir {run}", "holds a run with other settings ("),
    ("cifar/train.py", "--train_dir {other_tool}", "is no run folder of this program"),
    ("cifar/train.py", "--train_dir {other_tool} --force", "is no run folder of this program"),
    ("cifar/train.py", "--train_dir {other_tool} --restart_damaged", "is no run folder of this"),
    ("cifar/train.py", "--data {nowhere} --dataset fashion-mnist", "Fashion-MNIST files missing"),
    # audio/train.py
    ("audio/train.py", "--bitrate 7", "bitrate 7 kbps is not one LAME accepts"),
    ("audio/train.py", "--bitrate abc", "bitrate"),
    ("audio/train.py", "--test_bitrate 33", "bitrate 33"),
    ("audio/train.py", "--val 1.5", "--val must be a fraction"),
    ("audio/train.py", "--codec flac", "unknown codec 'flac' for audio; choose one of mp3, opus"),
    ("audio/train.py", "--codec aac --bitrate 8", "bitrate 8 kbps is outside AAC's range"),
    ("audio/train.py", "--codec vorbis --bitrate 32", "bitrate 32 kbps is outside Vorbis's range"),
    ("audio/train.py", "--codec opus --test_bitrate 320", "outside Opus's range"),
    ("audio/train.py", "--test_codec opus wma", "unknown codec 'wma' for audio; choose one of mp3"),
    ("audio/train.py", "--sensor_noise 3", "--sensor_noise 3 is out of range; give an SNR in dB"),
    ("audio/train.py", "--seed -1", "--seed: expected a whole number 0..4294967295"),
    ("audio/train.py", "--setting 9", "unknown setting 9"),
    ("audio/train.py", "--num_epoch 0", "--num_epoch: expected a positive whole number"),
    ("audio/train.py", "--precision half", "--precision: invalid choice"),
    ("audio/train.py", "--log_dir {file}", "is a file, not a folder"),
    ("audio/train.py", "--cache_dir {file}", "is a file, not a folder"),
    ("audio/train.py", "--data {nowhere}", "data folder"),
    ("audio/train.py", "--data {nonutf}", "the file name is not UTF-8"),
    ("audio/train.py", "", "audio/generated"),  # no --data and the built-in set not generated
    ("audio/train.py", "--data {nanwav}", "bad.wav holds non-finite samples (NaN or inf)"),
    # data preparation
    ("cifar/data.py", "--quality 0", "quality '0' is not valid"),
    ("cifar/data.py", "--dataset bogus", "--dataset: invalid choice"),
    ("cifar/data.py", "--codec jpeg avif bmp", "unknown codec 'bmp'"),
    ("cifar/data.py", "--sensor_noise 2 100", "--sensor_noise 100 is out of range"),
    ("cifar/data.py", "--cache_dir {file}/c", "is a file, not a folder"),
    ("cifar/data.py", "--dataset fashion-mnist --data {nowhere}", "Fashion-MNIST files missing"),
    ("audio/data.py", "--bitrate 7", "bitrate 7 kbps is not one LAME accepts"),
    ("audio/data.py", "--seed -1 --generate", "--seed: expected a whole number"),
    ("audio/data.py", "--codec aac --bitrate 64 8", "bitrate 8 kbps is outside AAC's range"),
    ("audio/data.py", "--codec wma", "unknown codec 'wma'"),
    ("audio/data.py", "--cache_dir {file}/c", "is a file, not a folder"),
    ("audio/data.py", "--clips_per_class 0 --generate", "--clips_per_class 0"),
    ("audio/data.py", "--data {nowhere}", "data folder"),
    ("audio/data.py", "--data {nonutf}", "the file name is not UTF-8"),
    ("audio/data.py", "--data {nanwav}", "bad.wav holds non-finite samples (NaN or inf); fix or "
                                         "remove it, or pass --skip_bad"),
]

# Run also as real processes: the no-traceback guarantee from the command line.
PROCESS_CASES = [
    ("cifar/train.py", "--learning_rate nan", "--learning_rate: expected a finite number"),
    ("cifar/train.py", "--train_dir {foreign} --force", "holds files that are not a run's"),
    ("cifar/train.py", "--train_dir {other_tool} --force", "is no run folder of this program"),
    ("cifar/train.py", "--train_dir {damaged_history}", "history.csv is damaged"),
    ("audio/train.py", "--seed 4294967296", "--seed: expected a whole number"),
    ("audio/data.py", "--data {nonutf}", "the file name is not UTF-8"),
]

HOLD_LOCK = """
    import sys, time
    from helmholtz.run.layout import run_lock
    lock = run_lock(sys.argv[1]); lock.acquire()
    print("ready", flush=True); time.sleep(600)
"""


def cifar_config(folder):
    """config.json of a cifar/train.py run in `folder` with the default flags, as
    the settings its main() opens the run folder with."""
    import json
    import cifar.train
    from helmholtz.run import trainer

    def record(folder, settings, *args):
        raise SystemExit(json.dumps({**settings, "code_family": 2, "versions": {}}))
    real, trainer.open_run = trainer.open_run, record
    try:
        with pytest.raises(SystemExit) as stop:
            cifar.train.main(["--train_dir", str(folder)])
    finally:
        trainer.open_run = real
    return stop.value.code


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "file").write_text("a file")
    (root / "foreign").mkdir()
    (root / "foreign" / "thesis.tex").write_text("years of work")
    run = root / "run"
    run.mkdir()
    config = '{"domain": "cifar", "seed": 0, "num_epoch": 200, "batch_size": 64, "versions": {}}'
    (run / "config.json").write_text(config)
    for name, files in (("damaged_config", {"config.json": '{"domain": "cifar",'}),
                        ("damaged_history", {"config.json": cifar_config(root / "damaged_history"),
                                             "last.keras": "",
                                             "history.csv": "epoch,loss,accuracy,val_loss,"
                                             "val_accuracy,lr,seconds\n1,1,1,1,1,1,1\n2,1,1,x\n"})):
        (root / name).mkdir(exist_ok=True)
        for file, text in files.items():
            (root / name / file).write_text(text)
    (root / "locked").mkdir()
    (root / "other_tool").mkdir()
    (root / "other_tool" / "config.json").write_text('{"tool": "another", "seed": 1}')
    (root / "other_tool" / "history.csv").write_text("step,loss\n1,0.5\n")
    import numpy as np
    import soundfile
    for folder in ("a", "b"):
        (root / "nanwav" / folder).mkdir(parents=True)
        for i in range(3):
            soundfile.write(root / "nanwav" / folder / f"clip{i}.wav", np.full(4410, 0.1, np.float32),
                            44100, subtype="FLOAT")
    soundfile.write(root / "nanwav" / "a" / "bad.wav", np.full(4410, np.nan, np.float32), 44100,
                    subtype="FLOAT")
    nonutf = root / "nonutf"
    for folder in ("a", "b"):
        (nonutf / folder).mkdir(parents=True)
        (nonutf / folder / "clip.wav").write_bytes(b"RIFF")
    os.rename(bytes(nonutf / "a" / "clip.wav"), bytes(nonutf / "a") + b"/\xff.wav")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLD_LOCK), str(root / "locked")],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    yield {name: str(root / name) for name in
           ("file", "foreign", "damaged_config", "damaged_history", "locked", "run", "nonutf",
            "other_tool", "nanwav")} | {
        "nowhere": str(root / "nowhere"), "root": root}
    holder.kill()
    holder.wait()


def argv(command, flags, places, tmp_path):
    args = flags.format(**places).split()
    if command.endswith("train.py") and "--log_dir" not in args and "--train_dir" not in args:
        args += ["--log_dir", str(tmp_path / "logs")]  # never the repository's logs/
    return args


def snapshot(root):
    return sorted((str(p), p.stat().st_size) for p in Path(root).rglob("*") if p.name != ".lock")


@pytest.fixture
def quiet_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HELMHOLTZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")


def command_main(command):
    import importlib
    return importlib.import_module(command.removesuffix(".py").replace("/", ".")).main


@pytest.mark.parametrize("command, flags, fragment", CASES,
                         ids=[f"{c} {f}" for c, f, _ in CASES])
def test_bad_input_is_one_line_and_exit_2(command, flags, fragment, places, tmp_path, quiet_env,
                                          capsys):
    before = snapshot(places["root"])
    main = command_main(command)
    with pytest.raises(SystemExit) as stop:
        cli_main(lambda: main(argv(command, flags, places, tmp_path)))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert stop.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert snapshot(places["root"]) == before  # nothing written, nothing removed
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.name != ".lock"]


@pytest.mark.parametrize("command, flags, fragment", PROCESS_CASES,
                         ids=[f"{c} {f}" for c, f, _ in PROCESS_CASES])
def test_bad_input_from_the_command_line_has_no_traceback(command, flags, fragment, places,
                                                          tmp_path):
    env = {**os.environ, "HELMHOLTZ_CACHE": str(tmp_path / "cache"), "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(REPO / command), *argv(command, flags, places, tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not list(tmp_path.rglob("*.*"))  # no run folder, cache or temporary file left
