"""SLURM job arrays: the paper grid's commands, complete runs left out, the batch script
runs line i as task i, bad flags end in one line."""
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import audio
import cifar
from helmholtz import REPO
from helmholtz.errors import UsageError
from helmholtz.sweep import slurm
from helmholtz.sweep.grid import plan

STAND_IN = REPO / "tests" / "stand_in_train.py"
SCRIPT = REPO / "scripts" / "slurm.py"


def complete(run, epochs=200):
    run.folder.mkdir(parents=True, exist_ok=True)
    (run.folder / "result.json").write_text(json.dumps({"complete": True, "epochs": epochs}))


def write(argv, workdir):
    options, args, train_args = slurm.parse_args(argv)
    return slurm.write_job(options, args, train_args, workdir=workdir)


@pytest.mark.parametrize("domain", [cifar, audio], ids=["cifar", "audio"])
def test_paper_grid_lists_every_run_not_complete_as_a_train_py_command(domain, tmp_path):
    logs = tmp_path / "logs"
    runs = plan(domain.DOMAIN, "paper", seeds=[0, 1], log_dir=logs)
    assert len(runs) == 2 * (len(domain.DEFAULT_LEVELS) + 5)
    finished = [runs[0], runs[-1]]
    for run in finished:
        complete(run)
    complete(runs[1], epochs=2)  # fewer epochs than asked: train.py extends it, so it is listed

    commands, todo, done, held = write([domain.DOMAIN, "--seeds", "0", "1", "--log_dir", str(logs),
                                        "--partition", "gpu", "--time", "1-00:00:00"], tmp_path)
    assert done == finished and not held
    lines = commands.read_text().splitlines()
    assert len(lines) == len(runs) - 2
    parse_args = importlib.import_module(f"{domain.DOMAIN}.train").parse_args
    listed = []
    for line in lines:
        argv = shlex.split(line)
        assert argv[:2] == [sys.executable, str(REPO / domain.DOMAIN / "train.py")]
        parsed = vars(parse_args(argv[2:]))  # the trainer's own parser takes every line
        level = parsed.get("level", parsed.get(domain.LEVEL_NAME))  # as the trainer names it
        listed.append((domain.MODELS[parsed["setting"]], level, parsed["seed"]))
        assert Path(parsed["log_dir"]) == logs
    assert listed == [(r.model, r.level, r.seed) for r in runs if r not in finished]

    script = commands.with_suffix(".sbatch").read_text()
    assert f"#SBATCH --array=1-{len(lines)}\n" in script
    assert f'sed -n "${{SLURM_ARRAY_TASK_ID}}p" {commands}' in script
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=1-00:00:00", "#SBATCH --gres=gpu:1",
                 "#SBATCH --cpus-per-task=4"):
        assert line + "\n" in script


def test_task_i_runs_line_i_and_the_next_call_lists_what_is_left(tmp_path):
    logs = tmp_path / "logs"
    argv = ["audio", "--levels", "8", "16", "32", "--models", "cnn_x3_mlp_0", "--log_dir", str(logs),
            "--trainer", str(STAND_IN), "--gpus_per_run", "0", "--max_parallel", "2",
            "--", "--num_epoch", "3"]
    commands, todo, done, _ = write(argv, tmp_path)
    script = commands.with_suffix(".sbatch")
    assert "#SBATCH --array=1-3%2\n" in script.read_text() and "--gres" not in script.read_text()
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "2"}
    ran = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert (todo[1].folder / "result.json").is_file()  # task 2 trained the second run only
    assert not any((r.folder / "result.json").exists() for r in (todo[0], todo[2]))
    assert (logs / "sweep-logs").is_dir()  # SLURM writes the task logs there; it must exist

    again, left, done, _ = write(argv, tmp_path)
    assert done == [todo[1]] and left == [todo[0], todo[2]]
    assert again != commands and commands.read_text().count("\n") == 3  # the first list is kept
    assert write(argv, tmp_path)[0] == again  # same state, same files

    for run in left:
        complete(run, epochs=3)
    assert write(argv, tmp_path)[0] is None  # nothing to submit: no files


def test_files_not_written_here_are_left_alone(tmp_path):
    argv = ["cifar", "--levels", "5", "--models", "all-cnns", "--log_dir", str(tmp_path / "logs"),
            "--trainer", str(STAND_IN)]
    commands, *_ = write(argv, tmp_path)
    commands.write_text("someone else's\n")
    with pytest.raises(UsageError, match="exists and is not what this command writes"):
        write(argv, tmp_path)
    assert commands.read_text() == "someone else's\n"


@pytest.mark.parametrize("args, says", [
    (["--jobs", "2"], "--jobs is a flag of the local and Ray engines"),
    (["--time", "1 day"], "argument --time: expected a time limit"),
    (["--sbatch_arg=--account=a b"], "argument --sbatch_arg: expected an sbatch option"),
    (["--", "--num_epoch", "0"], "after --:"),
])
def test_bad_flags_end_in_one_line_and_write_nothing(args, says, tmp_path):
    logs = tmp_path / "logs"
    cmd = [sys.executable, str(SCRIPT), "cifar", "--log_dir", str(logs), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2
    assert re.fullmatch(r"error: [^\n]+\n", done.stderr) and says in done.stderr, done.stderr
    assert not (logs / "slurm").exists()
