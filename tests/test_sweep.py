"""The sweep launcher: grids, flags, skipping complete runs, failures, GPU pinning, signals,
locks, Ray.

Runs use tests/stand_in_train.py, which takes train.py's flags and writes a
run folder in a fraction of a second.
"""
import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import audio
import cifar
from helmholtz import REPO
from helmholtz.errors import UsageError
from helmholtz.sweep.grid import grid_points, plan, split_complete
from helmholtz.sweep.scheduler import Outcome, discover_gpus, local_slots, parse_gpus, run_local, settle

STAND_IN = REPO / "tests" / "stand_in_train.py"
SWEEP = REPO / "scripts" / "sweep.py"


def sweep(log_dir, *args, timeout=60):
    """Run scripts/sweep.py with the stand-in trainer; the finished process."""
    cmd = [sys.executable, str(SWEEP), *args[:1], "--trainer", str(STAND_IN),
           "--log_dir", str(log_dir), *args[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def calls(log_dir):
    """(domain, setting, level, seed) of every stand-in call, in order."""
    path = Path(log_dir) / "stand_in_calls.txt"
    return [tuple(line.split()) for line in path.read_text().splitlines()] if path.exists() else []


def results(log_dir):
    return {p.parent.relative_to(log_dir).as_posix(): json.loads(p.read_text())
            for p in Path(log_dir).rglob("result.json")}


# --- the plan --------------------------------------------------------------------------------

def test_paper_grid_is_the_default_model_at_every_level_and_the_others_at_the_paper_level():
    for domain in (cifar, audio):
        runs = plan(domain.DOMAIN, "paper", seeds=[0], log_dir="logs", trainer=STAND_IN)
        assert len(runs) == len(domain.DEFAULT_LEVELS) + 5
        default = [r.level for r in runs if r.model == domain.MODELS[0]]
        assert default == list(domain.DEFAULT_LEVELS)
        others = {(r.model, r.level) for r in runs if r.model != domain.MODELS[0]}
        assert others == {(m, domain.PAPER_LEVEL) for m in domain.MODELS[1:]}
    assert len(plan("cifar", "paper", seeds=[0, 1, 2], log_dir="logs", trainer=STAND_IN)) == 3 * 14


def test_the_audio_paper_grid_is_what_the_original_scripts_ran():
    # audio/scripts/train-all-cnns.sh and train-all-settings.sh of the original
    original = [("cnn_x3_mlp_0", kbps) for kbps in (8, 16, 32, 64, 96, 128)] + \
               [(m, 32) for m in audio.MODELS[1:]]
    assert grid_points("audio", "paper") == original
    assert 160 in {level for _, level in grid_points("audio", "full")}  # made, never trained on


def test_full_grid_levels_and_models_options():
    assert len(grid_points("cifar", "full")) == 6 * 9
    assert len(grid_points("audio", "full")) == 6 * 7
    assert grid_points("cifar", "paper", levels=["1", "5", "lossless"], models=["all-cnns"]) == \
        [("all-cnns", 1), ("all-cnns", 5), ("all-cnns", "lossless")]
    assert grid_points("audio", "full", levels=[32], models=["cnn_x2_mlp_128", "cnn_x4_mlp_128"]) == \
        [("cnn_x4_mlp_128", 32), ("cnn_x2_mlp_128", 32)]


@pytest.mark.parametrize("call, message", [
    (lambda: grid_points("speech"), "unknown domain"),
    (lambda: grid_points("cifar", "tiny"), "unknown grid"),
    (lambda: grid_points("cifar", models=["resnet"]), "unknown cifar model 'resnet'"),
    (lambda: grid_points("cifar", levels=["101"]), "quality '101' is not valid"),
    (lambda: grid_points("audio", levels=["33"]), "bitrate 33 kbps is not one LAME accepts"),
    (lambda: plan("cifar", train_args=["--seed", "3"]), "--seed after --"),
    (lambda: plan("audio", train_args=["--train_dir=x"]), "--train_dir after --"),
])
def test_bad_grid_input_names_the_problem(call, message):
    with pytest.raises(UsageError, match=message):
        call()


def test_run_folder_log_and_command(tmp_path):
    [run] = plan("cifar", "full", seeds=[2], levels=[5], models=["all-cnnsx2"], log_dir=tmp_path,
                 train_args=["--dataset", "fashion-mnist", "--num_epoch", "3"], python="py",
                 trainer=STAND_IN)
    assert run.folder == tmp_path / "cifar-fashion-mnist" / "all-cnnsx2" / "quality_5" / "seed_2"
    assert run.log == tmp_path / "sweep-logs" / "cifar-fashion-mnist-all-cnnsx2-quality_5-seed_2.log"
    assert run.command == ("py", str(STAND_IN), "--quality", "5", "--setting", "2", "--seed", "2",
                           "--log_dir", str(tmp_path), "--dataset", "fashion-mnist", "--num_epoch", "3")
    [audio_run] = plan("audio", "full", levels=[64], models=["cnn_x3_mlp_128"], log_dir=tmp_path,
                       train_args=["--dataset=idmt"])
    assert audio_run.folder == tmp_path / "audio-idmt" / "cnn_x3_mlp_128" / "bitrate_64" / "seed_0"
    assert audio_run.command[2:4] == ("--bitrate", "64")
    assert audio_run.command[1] == str(REPO / "audio" / "train.py")


def test_complete_runs_are_skipped_unless_forced_or_extended(tmp_path):
    runs = plan("cifar", "paper", levels=[1, 5], models=["all-cnns"], log_dir=tmp_path)
    runs[0].folder.mkdir(parents=True)
    (runs[0].folder / "result.json").write_text('{"epochs": 200}')
    (runs[1].folder).mkdir(parents=True)  # started, never finished: not complete
    (runs[1].folder / "config.json").write_text("{}")
    assert split_complete(runs) == ([runs[1]], [runs[0]])
    assert split_complete(runs, ["--force"]) == (runs, [])
    # train.py extends a complete run when asked for more epochs, so the sweep runs it
    assert split_complete(runs, ["--num_epoch", "300"]) == (runs, [])
    (runs[0].folder / "result.json").write_text('{"epochs": 5}')
    assert split_complete(runs, ["--num_epoch=5"]) == ([runs[1]], [runs[0]])
    assert split_complete(runs) == (runs, [])  # train.py's default is 200 epochs


def test_a_diverged_run_is_not_started_again_and_the_sweep_says_so(tmp_path):
    runs = plan("cifar", "paper", levels=[1, 5], models=["all-cnns"], log_dir=tmp_path)
    runs[0].folder.mkdir(parents=True)
    (runs[0].folder / "result.json").write_text(
        '{"complete": false, "diverged": true, "diverged_epoch": 3, "epochs": 3}')
    assert split_complete(runs) == ([runs[1]], [runs[0]])  # not after 200 epochs: still done
    assert split_complete(runs, ["--force"]) == (runs, [])
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "sweep.py"), "cifar", "--grid",
                          "paper", "--levels", "1", "5", "--models", "all-cnns", "--log_dir",
                          str(tmp_path), "--dry_run"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "1 to run" in out.stdout and "0 complete, 1 diverged (not run again" in out.stdout
    assert "diverged cifar all-cnns quality_1 seed 0" in out.stdout


# --- devices ---------------------------------------------------------------------------------

def test_gpu_discovery_and_slots():
    smi = lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, "GPU 0: H100 (UUID: a)\nGPU 1: H100 (UUID: b)\n")
    assert discover_gpus({}, which=lambda name: "/usr/bin/nvidia-smi", run=smi) == ["0", "1"]
    assert discover_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}, which=lambda name: None) == ["2", "3"]
    assert discover_gpus({"CUDA_VISIBLE_DEVICES": ""}, which=lambda name: "/x", run=smi) == []
    assert discover_gpus({}, which=lambda name: None) == []
    assert parse_gpus("none") == [] and parse_gpus("0, 1") == ["0", "1"]

    slots = local_slots(["0", "1"], per_gpu=2)
    assert [s["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1", "0", "1"]
    assert all(s["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for s in slots)
    cpu = local_slots([], jobs=3, cores=16)
    assert len(cpu) == 3 and all(s["CUDA_VISIBLE_DEVICES"] == "" for s in cpu)
    assert {s["TF_NUM_INTRAOP_THREADS"] for s in cpu} == {s["OMP_NUM_THREADS"] for s in cpu} == {"5"}


def most_at_once(intervals):
    """The largest number of (start, end) intervals that overlap at one time."""
    return max(sum(s <= start < e for s, e in intervals) for start, _ in intervals)


def test_gpu_pinning_spreads_runs_at_most_per_gpu_at_once(tmp_path):
    out = sweep(tmp_path, "cifar", "--grid", "full", "--models", "all-cnns", "--levels",
                *map(str, (1, 5, 10, 15, 20, 25, 50, 75)), "--gpus", "0,1", "--per_gpu", "2",
                "--", "--sleep", "0.6")
    assert out.returncode == 0, out.stdout + out.stderr
    runs = results(tmp_path).values()
    assert len(runs) == 8
    assert {r["cuda_visible_devices"] for r in runs} == {"0", "1"}  # exactly one device each
    for gpu in ("0", "1"):
        assert most_at_once([(r["start"], r["end"]) for r in runs if r["cuda_visible_devices"] == gpu]) == 2


def test_cpu_jobs_hide_gpus_and_split_threads(tmp_path):
    out = sweep(tmp_path, "audio", "--models", "cnn_x3_mlp_0", "--levels", "16", "32",
                "--gpus", "none", "--jobs", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    threads = str(max(1, len(os.sched_getaffinity(0)) // 2))
    assert [(r["cuda_visible_devices"], r["threads"]) for r in results(tmp_path).values()] == \
        [("", threads)] * 2


def test_cpu_jobs_split_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # as under taskset -c 0
    assert local_slots([], jobs=1) == [{"CUDA_VISIBLE_DEVICES": "", "TF_NUM_INTRAOP_THREADS": "1",
                                        "OMP_NUM_THREADS": "1"}]
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert [slot["TF_NUM_INTRAOP_THREADS"] for slot in local_slots([], jobs=2)] == ["4", "4"]


def test_run_local_returns_outcomes_in_plan_order(tmp_path):
    runs = plan("audio", "full", levels=[16, 32, 64], models=["cnn_x3_mlp_0"], log_dir=tmp_path,
                train_args=["--fail", "32:0"], trainer=STAND_IN)
    outcomes = run_local(runs, local_slots([], jobs=2, cores=2))
    assert [o.run for o in outcomes] == runs
    assert [o.ok for o in outcomes] == [True, False, True]
    assert "failing 32:0 as told" in outcomes[1].tail


# --- the command line ------------------------------------------------------------------------

def test_dry_run_lists_runs_and_runs_nothing(tmp_path):
    out = sweep(tmp_path, "cifar", "--seeds", "0", "1", "--dry_run")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("28 runs: 28 to run")
    assert sum(line.startswith("run ") for line in lines) == 28
    assert "--quality 25 --setting 5 --seed 1" in out.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_stopped_sweep_started_again_runs_only_what_is_missing(tmp_path):
    args = ("cifar", "--grid", "full", "--models", "all-cnns")
    assert sweep(tmp_path, *args, "--levels", "1", "5").returncode == 0
    unfinished = tmp_path / "cifar" / "all-cnns" / "quality_10" / "seed_0"
    unfinished.mkdir(parents=True)
    (unfinished / "config.json").write_text("{}")

    dry = sweep(tmp_path, *args, "--levels", "1", "5", "10", "20", "--dry_run")
    assert "4 runs: 2 to run" in dry.stdout and "2 complete" in dry.stdout
    assert "complete cifar all-cnns quality_5 seed 0" in dry.stdout

    out = sweep(tmp_path, *args, "--levels", "1", "5", "10", "20")
    assert out.returncode == 0, out.stdout + out.stderr
    assert [c[2] for c in calls(tmp_path)] == ["1", "5", "10", "20"]
    assert len(results(tmp_path)) == 4
    assert sweep(tmp_path, *args, "--levels", "1", "5", "10", "20").returncode == 0
    assert len(calls(tmp_path)) == 4  # nothing left to run


def test_a_failed_run_is_reported_and_the_others_still_run(tmp_path):
    out = sweep(tmp_path, "cifar", "--seeds", "0", "1", "--models", "all-cnns", "--levels", "1", "5",
                "--", "--fail", "5:0")
    assert out.returncode == 1
    assert len(calls(tmp_path)) == 4 and len(results(tmp_path)) == 3
    log = tmp_path / "sweep-logs" / "cifar-all-cnns-quality_5-seed_0.log"
    report = out.stdout[out.stdout.index("sweep finished"):]
    assert "3 ran" in report and "1 failed" in report
    assert f"FAILED cifar all-cnns quality_5 seed 0 (exit 1); log: {log}" in report
    assert "stand-in: failing 5:0 as told" in report  # the last lines of its log
    # Started again: only the failed run goes, and now succeeds.
    again = sweep(tmp_path, "cifar", "--seeds", "0", "1", "--models", "all-cnns", "--levels", "1", "5")
    assert again.returncode == 0 and calls(tmp_path)[4:] == [("cifar", "0", "5", "0")]


@pytest.mark.parametrize("args, message", [
    (["speech"], "unknown domain 'speech'"),
    (["cifar", "--grid", "tiny"], "invalid choice: 'tiny'"),
    (["cifar", "--models", "resnet"], "unknown cifar model 'resnet'"),
    (["audio", "--levels", "33"], "bitrate 33 kbps"),
    (["cifar", "--", "--log_dir", "x"], "--log_dir after --"),
    (["cifar", "--per_gpu", "0"], "--per_gpu 0"),
    (["cifar", "--address", "local"], "add --engine ray"),
    (["cifar", "--engine", "ray", "--gpus", "0"], "--gpus is not for the ray engine"),
    (["cifar", "--", "--num_epoch", "ten"], "--num_epoch ten is not a whole number"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    out = sweep(tmp_path, *args)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: ") and message in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_shell_scripts_run_the_original_grids(tmp_path):
    expected = {"train-all-cnns.sh": lambda d: [(d.MODELS[0], level) for level in d.DEFAULT_LEVELS],
                "train-all-settings.sh": lambda d: [(m, d.PAPER_LEVEL) for m in d.MODELS[1:]]}
    for domain in (cifar, audio):
        for script, points in expected.items():
            out = subprocess.run(["bash", str(REPO / domain.DOMAIN / script), "--trainer", str(STAND_IN),
                                  "--log_dir", str(tmp_path), "--seeds", "4", "--dry_run"],
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            listed = [line.split(":")[0].split()[2:5] for line in out.stdout.splitlines()
                      if line.startswith("run ")]
            assert listed == [[m, f"{domain.LEVEL_NAME}_{level}", "seed"] for m, level in points(domain)]


@pytest.mark.timeout(60)
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed")
def test_ray_engine_runs_skips_and_reports_failures(tmp_path):
    args = ("audio", "--models", "cnn_x3_mlp_0", "--levels", "16", "32", "64")
    assert sweep(tmp_path, *args[:-2], "--levels", "16").returncode == 0  # complete before
    out = sweep(tmp_path, *args, "--engine", "ray", "--address", "local", "--cpus_per_run", "1",
                "--progress_every", "0.5", "--", "--fail", "64:0", timeout=55)
    assert out.returncode == 1, out.stdout + out.stderr
    assert re.search(r"^progress \S+: [01]/2 done, \d running, \d queued$", out.stdout, re.M), out.stdout
    levels = [c[2] for c in calls(tmp_path)]
    assert levels[0] == "16" and sorted(levels[1:]) == ["32", "64"]  # 16 was not run again
    assert "FAILED audio cnn_x3_mlp_0 bitrate_64 seed 0 (exit 1)" in out.stdout
    assert "stand-in: failing 64:0 as told" in out.stdout
    ran = results(tmp_path)["audio/cnn_x3_mlp_0/bitrate_32/seed_0"]
    assert ran["cuda_visible_devices"] == "" and ran["threads"] == "1"


# --- flags after --: parsed by the domain's train.py when the sweep is planned ------------------

@pytest.mark.parametrize("args, message", [
    (["cifar", "--", "--num_epochs", "3"], "after --: unrecognized arguments: --num_epochs 3"),
    (["cifar", "--", "--batch_size", "0"], "after --: argument --batch_size"),
    (["audio", "--", "--val", "2"], "after --: --val must be a fraction"),
    (["audio", "--", "--precision", "fp8"], "after --: argument --precision: invalid choice"),
])
def test_a_bad_flag_after_dashes_stops_the_dry_run_before_any_run(tmp_path, args, message):
    out = subprocess.run([sys.executable, str(SWEEP), *args[:1], "--log_dir", str(tmp_path / "logs"),
                          "--dry_run", *args[1:]], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stdout
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: ") and message in out.stderr
    if "argument" in message:  # argparse's own lines point to the trainer's help
        assert out.stderr.endswith(f"; see python {args[0]}/train.py --help\n")
    assert out.stdout == "" and not (tmp_path / "logs").exists()


def test_a_log_dir_below_a_file_is_one_line_before_any_run(tmp_path):
    (tmp_path / "file").write_text("mine")
    out = sweep(tmp_path / "file" / "logs", "cifar", "--models", "all-cnns", "--levels", "5")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--log_dir" in out.stderr
    assert "is a file" in out.stderr and calls(tmp_path) == [] and out.stdout == ""
    assert (tmp_path / "file").read_text() == "mine"


def test_good_flags_after_dashes_pass_the_trainer_parser(tmp_path):
    out = subprocess.run([sys.executable, str(SWEEP), "cifar", "--log_dir", str(tmp_path), "--dry_run",
                          "--models", "all-cnns", "--levels", "5", "--", "--num_epoch", "3",
                          "--dataset", "fashion-mnist", "--fixed"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "--num_epoch 3 --dataset fashion-mnist --fixed" in out.stdout
    probe = subprocess.run([sys.executable, "-c", "import sys; from helmholtz.sweep.grid import "
                            "check_pass_through, plan; check_pass_through('cifar', plan('cifar')[0]); "
                            "print('tensorflow' in sys.modules, 'keras' in sys.modules)"],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == ["False", "False"], probe.stderr


# --- signals, process groups, locks ------------------------------------------------------------

def alive(pid):
    """Whether a process runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def started_pids(log_dir, count, timeout=15):
    """The pids of the first `count` stand-in runs, once each has written its config."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        configs = [json.loads(p.read_text()) for p in Path(log_dir).rglob("config.json")
                   if p.stat().st_size]
        if len(configs) >= count:
            return configs
        time.sleep(0.05)
    raise AssertionError(f"{count} runs did not start within {timeout} s")


def signals(log_dir):
    path = Path(log_dir) / "stand_in_signals.txt"
    return sorted(line.split()[0] for line in path.read_text().splitlines()) if path.exists() else []


SLOW = ["cifar", "--trainer", str(STAND_IN), "--models", "all-cnns", "--levels", "1", "5", "10",
        "--jobs", "2", "--", "--sleep", "60"]


def test_a_sweep_stopped_with_sigterm_in_the_background_stops_its_runs_within_seconds(tmp_path):
    # A shell script's background job starts with SIGINT ignored; its runs must not inherit that.
    command = shlex.join([sys.executable, str(SWEEP), *SLOW[:1], "--log_dir", str(tmp_path), *SLOW[1:]])
    script = f"{command} > {tmp_path}/out.txt 2>&1 & echo $!; wait"
    shell = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, text=True)
    sweep_pid = int(shell.stdout.readline())
    runs = started_pids(tmp_path, 2)
    assert {r["pgid"] for r in runs} == {r["pid"] for r in runs}  # each run is its own group
    assert sweep_pid not in {r["pgid"] for r in runs}
    t0 = time.time()
    os.kill(sweep_pid, signal.SIGTERM)
    shell.wait(timeout=30)
    assert time.time() - t0 < 5
    assert signals(tmp_path) == ["SIGTERM", "SIGTERM"]  # passed on, not killed after a grace
    assert not any(alive(r["pid"]) for r in runs)
    assert "run the same command again" in (tmp_path / "out.txt").read_text()


def _as_in_the_foreground():
    # A shell starts background jobs with SIGINT ignored, and the sweep keeps it
    # so (a background sweep is not Ctrl-C's to stop); this test may itself run
    # in such a job, so its sweep gets SIGINT's default, as in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_sweep_interrupted_in_the_foreground_passes_sigint_on(tmp_path):
    proc = subprocess.Popen([sys.executable, str(SWEEP), *SLOW[:1], "--log_dir", str(tmp_path), *SLOW[1:]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_in_the_foreground)
    runs = started_pids(tmp_path, 2)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.time() - t0 < 5
    assert proc.returncode == 130 and "run the same command again" in err
    assert signals(tmp_path) == ["SIGINT", "SIGINT"]
    assert not any(alive(r["pid"]) for r in runs)
    assert len(calls(tmp_path)) == 2 and results(tmp_path) == {}  # the third never started


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_runs_die_with_a_sweep_killed_with_sigkill(tmp_path):
    proc = subprocess.Popen([sys.executable, str(SWEEP), *SLOW[:1], "--log_dir", str(tmp_path), *SLOW[1:]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = started_pids(tmp_path, 2)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.time() + 5
    while any(alive(r["pid"]) for r in runs) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(alive(r["pid"]) for r in runs), "a run outlived its sweep"
    assert signals(tmp_path) == ["SIGTERM", "SIGTERM"]


HOLD = ("import sys, time; from helmholtz.run.layout import run_lock; lock = run_lock(sys.argv[1]); "
        "lock.acquire(); print('held', flush=True); time.sleep(120)")


def hold_lock(folder):
    """Another process that holds the run folder's lock, as a live trainer does."""
    folder.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_run_locked_by_a_live_trainer_is_not_started_and_not_called_failed(tmp_path):
    busy = tmp_path / "cifar" / "all-cnns" / "quality_5" / "seed_0"
    holder = hold_lock(busy)
    try:
        args = ("cifar", "--models", "all-cnns", "--levels", "1", "5")
        dry = sweep(tmp_path, *args, "--dry_run")
        assert "2 runs: 1 to run" in dry.stdout and "1 running elsewhere" in dry.stdout
        assert f"running elsewhere (pid {holder.pid} on " in dry.stdout
        out = sweep(tmp_path, *args)
        assert out.returncode == 0, out.stdout + out.stderr
        assert calls(tmp_path) == [("cifar", "0", "1", "0")]  # the locked run was never started
        assert f"cifar all-cnns quality_5 seed 0: running elsewhere (pid {holder.pid} on " in out.stdout
        assert "FAILED" not in out.stdout and "--force" not in out.stdout
        assert "1 ran, 0 were complete, 1 running elsewhere, 0 failed" in out.stdout
    finally:
        holder.kill()
        holder.wait()
    # the holder died: its lock went with it, and the run is started
    out = sweep(tmp_path, "cifar", "--models", "all-cnns", "--levels", "1", "5")
    assert out.returncode == 0 and calls(tmp_path)[1:] == [("cifar", "0", "5", "0")]


def test_a_run_that_fails_because_its_lock_was_taken_meanwhile_is_running_elsewhere(tmp_path):
    [run] = plan("cifar", levels=[5], models=["all-cnns"], log_dir=tmp_path, trainer=STAND_IN)
    refused = Outcome(run, 2, 0.1, "error: ... is being trained by ...")
    assert settle(refused).failed  # nobody holds the lock: a real failure
    holder = hold_lock(run.folder)
    try:
        settled = settle(refused)
        assert not settled.failed and settled.elsewhere.startswith(f"pid {holder.pid} on ")
    finally:
        holder.kill()
        holder.wait()
