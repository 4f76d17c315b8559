"""One rule for every command that writes: it creates files, or replaces files it
wrote itself; a file it did not write (or a symlink) is refused with one line,
exit status 2, and every byte under the test's folder is as before (sha256).
No command but the trainer writes inside a run folder, and --force acts only on
this program's run folders."""
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from helmholtz.errors import cli_main
from helmholtz.run.outputs import MANIFEST

REPO = Path(__file__).resolve().parents[1]
STAND_IN = REPO / "tests" / "stand_in_train.py"
LABELS = (np.arange(40) % 10).astype(np.int16)


def make_run(logs, level, seed):
    """A complete run folder as the trainer leaves it (no checkpoints)."""
    folder = logs / "cifar" / "all-cnns" / f"quality_{level}" / f"seed_{seed}"
    folder.mkdir(parents=True)
    config = dict(domain="cifar", dataset="cifar10", model="all-cnns", setting=0, params=701386,
                  level_name="quality", level=level, seed=seed, num_epoch=3, batch_size=128,
                  fixed=True, precision="float32", subset=None, versions={},
                  bits_per_sample={25: 6000.0, "lossless": 24000.0}[level])
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n" + "".join(
        f"{e},1.0,0.5,1.0,0.{e + seed},0.01,1.00\n" for e in range(1, 4)))
    (folder / "result.json").write_text(json.dumps({"complete": True, "epochs": 3,
                                                    "test_accuracy": 0.5}))
    pred = np.where(np.arange(40) < 20 + seed, LABELS, (LABELS + 1) % 10).astype(np.int16)
    np.savez(folder / "predictions.npz", labels=LABELS, **{f"pred@{level}": pred})
    return folder


@pytest.fixture
def logs(tmp_path):
    for level in (25, "lossless"):
        for seed in (0, 1):
            make_run(tmp_path / "logs", level, seed)
    return tmp_path / "logs"


def fingerprint(root):
    """Every entry under `root`: a file's sha256, a symlink's target, a folder's name."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[key] = "-> " + os.readlink(path)
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[key] = "folder"
    return out


def script(name):
    """scripts/<name>.py as a module (its main)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def command(name):
    from helmholtz import commands
    from helmholtz.report import tensorboard
    from helmholtz.sweep import slurm
    import audio.baseline
    import cifar.examples
    import cifar.train
    if name in ("demo", "study"):
        return script(name)
    return {"report": commands.report_main, "collect": commands.collect_main,
            "tensorboard": tensorboard.main, "slurm": slurm.main, "train": cifar.train.main,
            "examples": cifar.examples.main, "baseline": audio.baseline.main}[name]


def seed_files(tmp_path, files):
    """Write `files` ({relative path: text, or ("link", target)}) under tmp_path."""
    victim = tmp_path / "victim.txt"
    victim.write_text("a file someone keeps")
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            path.symlink_to(victim)
        else:
            path.write_text(content)


RUN = "logs/cifar/all-cnns/quality_25/seed_0"
EVENTS = "tb/cifar/all-cnns/quality_25/seed_0/events.out.tfevents.1.host.1.1.history"
LINK = ("link",)
# (command, flags, files seeded first, a fragment of the one error line)
CASES = [
    ("report", "logs --out rep", {"rep/report.md": "my notes"}, "rep/report.md is a file this program did not write"),
    ("report", "logs --out rep", {"rep/results.csv": "a,b\n1,2\n"}, "rep/results.csv is a file"),
    ("report", "logs --out rep", {"rep/tests.csv": LINK}, "rep/tests.csv is a symlink"),
    ("report", "logs --out rep", {"rep/grid_x.png": LINK}, "rep/grid_x.png is a symlink"),
    ("report", f"logs --out {RUN}/rep", {}, "inside the run folder"),
    ("report", f"logs --out {RUN}", {}, "inside the run folder"),
    ("collect", "logs --out out/results.csv", {"out/results.csv": "a,b\n"}, "out/results.csv is a file"),
    ("collect", "logs --out out/results.csv", {"out/results_long.csv": "a\n"}, "results_long.csv is a file"),
    ("collect", "logs --out out/results.csv", {"out/results.csv": LINK}, "results.csv is a symlink"),
    ("collect", "logs", {"logs/results.csv": "my own table\n"}, "logs/results.csv is a file"),
    ("collect", f"logs --out {RUN}/history.csv", {}, "inside the run folder"),
    ("tensorboard", "logs --out tb", {EVENTS: "someone's events"}, "this program did not write"),
    ("tensorboard", "logs --out tb", {EVENTS: LINK}, "is a symlink"),
    ("tensorboard", f"logs --out {RUN}/tb", {}, "into the run folders"),
    ("slurm", f"cifar --levels 5 --models all-cnns --log_dir logs --trainer {STAND_IN} --out {RUN}",
     {}, "inside the run folder"),
    ("examples", "--out rep/examples_cifar.png", {"rep/examples_cifar.png": "my picture"},
     "examples_cifar.png is a file this program did not write"),
    ("examples", f"--out {RUN}/examples_cifar.png", {}, "inside the run folder"),
    ("baseline", "--bitrate 8 --json rep/baseline.json", {"rep/baseline.json": '{"mine": 1}'},
     "baseline.json is a file this program did not write"),
    ("demo", "--out rep --log_dir runs", {"rep/report.md": "my notes"}, "rep/report.md is a file"),
    ("study", "--out rep --dry_run", {"rep/results.csv": "mine\n"}, "rep/results.csv is a file"),
    ("study", f"--out {RUN} --dry_run", {}, "inside the run folder"),
    ("train", "--train_dir other --force", {"other/config.json": '{"tool": "another"}',
                                            "other/history.csv": "step,loss\n1,2\n"},
     "is no run folder of this program"),
    ("train", "--train_dir other --force", {"other/history.csv": LINK}, "not a run's (history.csv)"),
    ("train", "--train_dir other", {"other/last.keras": "weights of another tool"},
     "is no run folder of this program"),
]


@pytest.mark.parametrize("name, flags, files, fragment", CASES,
                         ids=[f"{c[0]} {c[1]} {sorted(c[2])}" for c in CASES])
def test_a_writing_command_refuses_what_it_did_not_write_and_changes_nothing(
        name, flags, files, fragment, logs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HELMHOLTZ_CACHE", str(tmp_path / "cache"))
    seed_files(tmp_path, files)
    before = fingerprint(tmp_path)
    with pytest.raises(SystemExit) as stop:
        cli_main(lambda: command(name)(flags.split()))
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert fragment in err[0], err
    assert fingerprint(tmp_path) == before


def test_commands_replace_their_own_outputs_and_leave_the_rest(logs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    seed_files(tmp_path, {"rep/notes.md": "mine", "rep/link.txt": LINK, "out/mine.csv": "a\n",
                          "tb/README": "mine"})
    theirs = {k: v for k, v in fingerprint(tmp_path).items() if k.startswith(("rep/", "out/", "tb/"))}
    for _ in range(2):  # the second time, each replaces what it wrote the first time
        command("report")(["logs", "--out", "rep", "--n_boot", "50"])
        command("collect")(["logs", "--out", "out/results.csv", "--n_boot", "50"])
        command("tensorboard")(["logs", "--out", "tb"])
    capsys.readouterr()
    now = fingerprint(tmp_path)
    assert {k: now[k] for k in theirs} == theirs
    assert {"report.md", "results.csv", "tests.csv"} <= set((tmp_path / "rep" / MANIFEST).read_text().split())
    assert (tmp_path / "out" / MANIFEST).read_text().split() == ["results.csv", "results_long.csv"]
    events = list((tmp_path / "tb/cifar/all-cnns/quality_25/seed_0").glob("events.*.history"))
    assert len(events) == 1  # replaced, not doubled
    assert not [p for p in logs.rglob("*") if p.name in (MANIFEST, "report.md")]  # runs untouched


def test_an_older_versions_outputs_are_replaced(logs, tmp_path, monkeypatch, capsys):
    """Outputs written before the manifest: a results table (its columns) and a report
    folder (its report.md's first line) are this program's and are replaced."""
    monkeypatch.chdir(tmp_path)
    command("report")(["logs", "--out", "rep", "--n_boot", "50"])
    command("collect")(["logs", "--n_boot", "50"])
    for manifest in (tmp_path / "rep" / MANIFEST, logs / MANIFEST):
        manifest.unlink()
    command("report")(["logs", "--out", "rep", "--n_boot", "50"])
    command("collect")(["logs", "--n_boot", "50"])
    assert "wrote" in capsys.readouterr().out


def test_a_new_run_folder_is_marked_and_force_acts_on_marked_folders_only(tmp_path, monkeypatch):
    from helmholtz.run.folder import open_run
    from helmholtz.run.layout import MARKER, is_run_folder
    settings = {"domain": "cifar", "model": "all-cnns", "seed": 0, "batch_size": 128, "num_epoch": 3,
                "level": 25}
    run = open_run(tmp_path / "run", settings)
    assert not (tmp_path / "run" / MARKER).exists()  # not before the run really starts
    run.write_config({**settings, "versions": {}})
    run.close()
    assert (tmp_path / "run" / MARKER).is_file() and is_run_folder(tmp_path / "run")
    (tmp_path / "run" / "notes.txt").write_text("mine")  # beside a run: never touched
    (tmp_path / "run" / "history.csv").write_text("epoch,loss\n1,x\n")
    open_run(tmp_path / "run", settings, force=True).close()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".helmholtz-run", ".lock",
                                                                   "notes.txt"]
