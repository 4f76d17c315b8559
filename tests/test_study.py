"""The reference study's launcher (scripts/study.py): the design's runs, commands that
train.py accepts, resuming, and a records folder that keeps checkpoints out of git.
Nothing trains here: the plan is read through the sweep's own planner and dry run."""
import importlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys

import pytest

import audio
import cifar
from helmholtz import REPO
from helmholtz.errors import UsageError
from helmholtz.sweep import grid

STUDY = REPO / "scripts" / "study.py"
CHECKPOINT_NAMES = ("best.keras", "last.keras", ".lock", ".history.next.csv",
                    ".result.json.k2j4.tmp", ".last.keras.x9.tmp.keras")
RECORD_NAMES = ("config.json", "history.csv", "result.json", "predictions.npz")


@pytest.fixture
def study():
    spec = importlib.util.spec_from_file_location("study", STUDY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def folders(tmp_path):
    return ["--log_dir", str(tmp_path / "runs"), "--out", str(tmp_path / "out"),
            "--cache_dir", str(tmp_path / "cache")]


def planned(study, argv, parts=None):
    """[(part, train.py's parsed flags, run)] for every run of the study's sweeps, as
    the sweep plans them and as train.py would read its command."""
    args = study.parse_args(argv)
    out = []
    for part in parts or study.PARTS:
        for step in study.part_steps(part, args):
            if step.kind == "sweep":
                todo, done = study.sweep_runs(step)
                for run in todo + done:
                    parse = importlib.import_module(f"{run.domain}.train").parse_args
                    out.append((part, parse(list(run.command[2:])), run))
    return out


def test_the_plan_is_the_design(study, folders):
    runs = planned(study, folders)
    levels = {"cifar": (1, 5, 10, 25, "lossless"), "audio": (8, 16, 32, 64, "lossless")}
    test_levels = {"cifar": (1, 5, 10, 15, 20, 25, 50, 75, 100, "lossless"),
                   "audio": (8, 16, 32, 64, 96, 128, "lossless")}
    models = {"cifar": cifar.MODELS, "audio": audio.MODELS}
    counts = {part: sum(p == part for p, _, _ in runs) for part in study.PARTS}
    assert counts == {"image": 15, "audio": 15, "controls": 60, "bf16": 6}
    seeds = {}
    for part, flags, run in runs:
        domain = run.domain
        # every run: the corrected protocol, tested at every level of its domain
        assert flags.fixed
        assert tuple(flags.test_levels) == test_levels[domain]
        assert flags.precision == ("mixed_bfloat16" if part == "bf16" else "float32")
        if domain == "cifar":
            assert flags.dataset == "fashion-mnist"
        key = (part == "bf16", domain, models[domain][flags.setting], flags.level)
        seeds.setdefault(key, set()).add(flags.seed)
    # the same three seeds at every point of the design
    assert set(map(frozenset, seeds.values())) == {frozenset({0, 1, 2})}
    points = {key[1:] for key in seeds if not key[0]}
    for domain, low in (("cifar", 10), ("audio", 32)):
        first, *others = models[domain]
        # the level sweep on the paper's first model, the other five at two levels
        assert {lv for d, m, lv in points if (d, m) == (domain, first)} == set(levels[domain])
        for model in others:
            assert {lv for d, m, lv in points if (d, m) == (domain, model)} == {low, "lossless"}
    bf16 = {key[1:] for key in seeds if key[0]}
    assert bf16 == {("cifar", "all-cnns", 1), ("cifar", "all-cnns", "lossless")}
    # the controls train for fewer epochs than the first models
    epochs = {(part, run.domain): flags.num_epoch for part, flags, run in runs}
    assert epochs[("controls", "cifar")] < epochs[("image", "cifar")]
    assert epochs[("controls", "audio")] < epochs[("audio", "audio")]
    # bf16 runs and their float32 twins never share a run folder
    folders_planned = [run.folder for _, _, run in runs]
    assert len(set(folders_planned)) == len(folders_planned)


def test_sizes_are_flags_and_reach_every_run(study, folders):
    runs = planned(study, [*folders, "--image_subset", "700", "--image_epochs", "12",
                           "--image_test", "300", "--audio_epochs", "14", "--seeds", "4", "5", "6"],
                   parts=["image", "audio"])
    for _, flags, run in runs:
        assert flags.seed in (4, 5, 6)
        if run.domain == "cifar":
            assert (flags.subset, flags.num_epoch, flags.test_subset) == (700, 12, 300)
        else:
            assert flags.num_epoch == 14


def dry_run(folders, *extra):
    return subprocess.run([sys.executable, str(STUDY), "--dry_run", *folders, *extra],
                          capture_output=True, text=True, timeout=120)


def hours_left(output):
    found = re.search(r"estimated wall time left: (\d+) h (\d+) min", output)
    return int(found[1]) + int(found[2]) / 60


def test_dry_run_lists_every_run_within_four_hours_and_writes_nothing(tmp_path, folders):
    done = dry_run(folders)
    assert done.returncode == 0, done.stderr
    listed = [line for line in done.stdout.splitlines() if line.startswith("run      ")]
    assert len(listed) == 96
    assert all("--fixed" in line for line in listed)
    assert "cifar all-cnns quality_lossless seed 2" in done.stdout
    # the default sizes are chosen to fit the budget, at the speeds the estimate assumes
    assert 1 < hours_left(done.stdout) <= 4
    assert not any(tmp_path.iterdir())


def complete(run, epochs=None):
    """A finished run's records; by default with the epochs its command asks for."""
    if epochs is None:
        epochs = int(run.command[run.command.index("--num_epoch") + 1])
    run.folder.mkdir(parents=True)
    (run.folder / "config.json").write_text("{}")
    (run.folder / "result.json").write_text(json.dumps({"epochs": epochs}))


def test_complete_runs_are_skipped_and_the_estimate_shrinks(study, folders):
    before = dry_run(folders, "--part", "image")
    image = [run for _, _, run in planned(study, folders, parts=["image"])]
    for run in image[:10]:
        complete(run)
    complete(image[10], epochs=5)  # fewer epochs than asked: train.py extends it, still to do
    after = dry_run(folders, "--part", "image")
    assert after.returncode == 0, after.stderr
    assert "15 runs: 5 to run" in after.stdout
    assert "complete cifar all-cnns quality_1 seed 0" in after.stdout
    assert "image      15 runs,  10 complete" in after.stdout
    assert hours_left(after.stdout) < hours_left(before.stdout)


def test_a_finished_study_only_renews_the_report(study, folders, monkeypatch):
    for _, _, run in planned(study, folders):
        complete(run)
    args = study.parse_args(folders)
    for part in study.PARTS:
        for step in study.part_steps(part, args):
            if step.output is not None:  # baselines and example figures
                step.output.parent.mkdir(parents=True, exist_ok=True)
                step.output.write_text("done\n")
    called = []
    monkeypatch.setattr(study, "call", lambda command: (called.append(command), 0)[1])
    assert study.main(folders) == 0
    assert [c[1:] for c in called] == [["scripts/report.py", str(args.log_dir), "--out", str(args.out)]]


def test_a_failed_data_step_skips_its_part_and_a_stop_ends_the_study(study, folders, monkeypatch):
    called = []

    def fake_call(command):
        called.append(command[1])
        return 1 if command[1] == "audio/data.py" else 0
    monkeypatch.setattr(study, "call", fake_call)
    assert study.main([*folders, "--part", "image", "audio"]) == 1
    # the image part ran; the audio part stopped at its data; no run records, so no report
    assert called == ["cifar/data.py", "cifar/examples.py", "scripts/sweep.py", "audio/data.py"]

    called.clear()
    monkeypatch.setattr(study, "call", lambda command: (called.append(command[1]), 130)[1])
    assert study.main(folders) == 130
    assert called == ["cifar/data.py"]


def test_a_bad_pass_through_flag_stops_before_anything_runs(study, folders, monkeypatch):
    monkeypatch.setattr(study, "IMAGE_DATASET", "mnist")  # train.py's parser refuses it
    monkeypatch.setattr(study, "call", lambda *a, **k: pytest.fail("nothing may run"))
    with pytest.raises(UsageError, match="after --: .*--dataset"):
        study.main(folders)
    bad = dry_run(folders, "--image_subset", "0")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "--image_subset" in bad.stderr


@pytest.mark.skipif(not shutil.which("git") or not (REPO / ".git").exists(), reason="needs git")
def test_the_records_folder_keeps_checkpoints_out_of_git(study):
    run = grid.plan("cifar", "full", [0], [1], ["all-cnns"], study.STUDY / "runs",
                     ["--dataset", "fashion-mnist"])[0]
    relative = run.folder.relative_to(REPO)

    def ignored(path):
        return subprocess.run(["git", "check-ignore", "--no-index", "-q", str(path)],
                              cwd=REPO).returncode == 0
    assert all(ignored(relative / name) for name in CHECKPOINT_NAMES)
    assert not any(ignored(relative / name) for name in RECORD_NAMES)
    assert not ignored(study.STUDY.relative_to(REPO) / "report.md")


@pytest.mark.skipif(not shutil.which("make"), reason="needs make")
def test_make_study_runs_every_part():
    shown = subprocess.run(["make", "-n", "study", "STUDY_JOBS=2"], cwd=REPO, capture_output=True,
                           text=True, timeout=30).stdout
    assert "scripts/study.py --part all --jobs 2" in shown


def flag_values(command, flag):
    """The values after `flag` in a command, up to the next flag."""
    rest = command[command.index(flag) + 1:]
    return rest[:next((i for i, a in enumerate(rest) if a.startswith("--")), len(rest))]


def test_baselines_and_example_figures_write_their_own_files_and_are_done_when_they_exist(
        study, folders, capfd):
    args = study.parse_args(folders)
    steps = {part: study.part_steps(part, args) for part in ("image", "audio")}
    written = [s for part in steps.values() for s in part if s.output is not None]
    out = study.Path(args.out)
    assert sorted(s.output.relative_to(out).as_posix() for s in written) == [
        *(f"baseline/bitrate_{level}.json" for level in ("16", "32", "64", "8", "lossless")),
        "examples_audio.png", "examples_cifar.png"]
    for step in written:
        # each step's command writes its file itself (baseline.py --json, examples.py --out)
        assert str(step.output) in step.command
        # a figure is drawn after its part's data step, from the levels that step caches
        if step.kind == "figure":
            data, figure = steps["image" if "cifar" in step.command[1] else "audio"][:2]
            assert figure is step and data.kind == "data"
            flag = "--quality" if "cifar" in step.command[1] else "--bitrate"
            assert 1 < len(flag_values(step.command, flag)) <= 6
            assert set(flag_values(step.command, flag)) <= set(flag_values(data.command, flag))
    # not done until its file exists; then done
    assert all(study.assess([s])[s][0] > 0 for s in written)
    for step in written:
        step.output.parent.mkdir(parents=True, exist_ok=True)
        step.output.write_text("done\n")
    assert all(study.assess([s])[s][0] == 0 for s in written)

    # run_step passes the output through and writes nothing of its own
    step = study.Step("audio", "baseline", [sys.executable, "-c", "print('accuracy 0.71')"],
                      "baseline", 0, out / "baseline" / "bitrate_96.json")
    assert study.run_step(step) == 0
    assert "accuracy 0.71" in capfd.readouterr().out and not step.output.exists()
    failing = study.Step("audio", "baseline", [sys.executable, "-c", "import sys; sys.exit(3)"],
                         "baseline", 0, out / "baseline" / "bitrate_96.json")
    assert study.run_step(failing) == 3


def test_the_committed_audio_records_name_each_clips_dry_note(tmp_path):
    """The committed study's audio records carry `group`: 30 notes, each heard through the 12
    effects once, the same in every run; scripts/regroup.py rebuilt them from the split."""
    import numpy as np
    records = sorted((REPO / "docs" / "results" / "study" / "runs" / "audio").rglob("predictions.npz"))
    assert len(records) == 45
    first = None
    for path in records:
        with np.load(path) as saved:
            groups, labels = saved["group"], saved["labels"]
        first = groups if first is None else first
        assert np.array_equal(groups, first)
        for g in np.unique(groups):
            assert sorted(labels[groups == g]) == list(range(12))
    assert len(np.unique(first)) == 30
    # run again, it finds nothing to do; on other data it stops before writing
    copy = tmp_path / "runs"
    shutil.copytree(records[0].parent, copy / "run")
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "regroup.py"), str(copy),
                           "--clips_per_class", "150"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("0 of 1 audio runs regrouped")
    with np.load(copy / "run" / "predictions.npz") as saved:
        arrays = {k: saved[k] for k in saved.files if k != "group"}
    np.savez(copy / "run" / "predictions.npz", **arrays)
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "regroup.py"), str(copy),
                           "--clips_per_class", "100"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    with np.load(copy / "run" / "predictions.npz") as saved:
        assert "group" not in saved.files
