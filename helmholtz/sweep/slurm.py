"""SLURM job arrays: the runs of a sweep that are not complete, one array task each.

    python scripts/slurm.py cifar --seeds 0 1 2 --partition gpu --time 12:00:00 -- --num_epoch 200
    sbatch logs/slurm/cifar-1a2b3c4d.sbatch

The runs are chosen as helmholtz.sweep.grid chooses them, with the same flags
(domain, --grid, --seeds, --levels, --models, --log_dir, --python, --trainer,
and train.py flags after --), and the same rule: a complete run is left out,
and so is a run whose folder a live trainer holds. Two files are written
under --out (default <log_dir>/slurm/):

- `<domain>-<hash>.commands`: one train.py command per line, one per run;
- `<domain>-<hash>.sbatch`: a job array `--array=1-N`, task i runs line i
  (`sed -n ${SLURM_ARRAY_TASK_ID}p`), its output in
  <log_dir>/sweep-logs/<job name>-<job id>_<i>.log.

The hash is that of both files' contents, so files are never rewritten: a
job array still running keeps reading its own list when a later call writes
a shorter one. A run that completes before its task starts costs nothing:
train.py finds it complete and exits 0. After the array, the same command
lists what is still missing (failed or timed-out runs, which resume).
"""
import argparse
import hashlib
import os
import re
import shlex
import sys
from pathlib import Path

from helmholtz.cli import Parser, positive_int
from helmholtz.data.cache import write_text
from helmholtz.errors import UsageError
from helmholtz.run.outputs import outside_run_folders
from helmholtz.sweep import grid

# Flags of the local and Ray engines: SLURM places the runs itself.
ENGINE_FLAGS = ("--engine", "--gpus", "--per_gpu", "--jobs", "--address", "--progress_every")
TIME = re.compile(r"\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+(:\d{2}){0,2}")  # sbatch's --time forms
MEMORY = re.compile(r"\d+[KMGT]?")
NAME = re.compile(r"[\w.,@+-]+")
SBATCH_ARG = re.compile(r"--[a-z][a-z-]*(=[^\s'\"\\]+)?")


def _checked(pattern, what, example):
    def check(text):
        if not pattern.fullmatch(text):
            raise argparse.ArgumentTypeError(f"expected {what} such as {example}, got {text!r}")
        return text
    return check


def non_negative_int(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number 0 or more, got {text!r}")
    return int(text)


def slurm_parser():
    p = Parser(prog="slurm.py", allow_abbrev=False,
               description="Write a SLURM job array of the runs of a sweep that are not complete.",
               epilog="Every other flag is the sweep's (scripts/sweep.py --help): domain, --grid, "
                      "--seeds, --levels, --models, --log_dir, --python, --trainer, --dry_run; "
                      "flags after -- go to every train.py call.")
    p.add_argument("--partition", type=_checked(NAME, "a partition name", "gpu"),
                   help="partition to run on (default: the cluster's default)")
    p.add_argument("--time", type=_checked(TIME, "a time limit", "12:00:00 or 1-00:00:00"),
                   help="time limit per run (default: the partition's)")
    p.add_argument("--gpus_per_run", type=non_negative_int, default=1,
                   help="GPUs per run, 0 for none (default 1)")
    p.add_argument("--cpus_per_run", type=positive_int, default=4, help="CPUs per run (default 4)")
    p.add_argument("--mem", type=_checked(MEMORY, "a memory size", "32G"),
                   help="memory per run (default: the partition's)")
    p.add_argument("--max_parallel", type=positive_int,
                   help="at most this many runs at once (default: as many as SLURM allows)")
    p.add_argument("--job_name", type=_checked(NAME, "a job name", "cifar-paper"),
                   help="job name (default helmholtz-<domain>)")
    p.add_argument("--sbatch_arg", action="append", default=[],
                   type=_checked(SBATCH_ARG, "an sbatch option", "--account=myproject"),
                   help="another #SBATCH line, written --sbatch_arg=--account=myproject (repeatable)")
    p.add_argument("--out", help="folder for the files (default <log_dir>/slurm)")
    return p


def parse_args(argv=None):
    """(SLURM options, the sweep's arguments, train.py arguments) of a command line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    options, rest = slurm_parser().parse_known_args(argv[:cut])
    for a in rest:
        if a.split("=", 1)[0] in ENGINE_FLAGS:
            raise UsageError(f"{a.split('=', 1)[0]} is a flag of the local and Ray engines; with "
                             "SLURM each run is one array task: use --gpus_per_run, --cpus_per_run")
    args, train_args = grid.parse_args(rest + argv[cut:])
    return options, args, train_args


def sbatch_text(options, commands_path, script_path, n, log_folder, workdir, job_name):
    """The batch script of a job array of `n` tasks, task i running line i of `commands_path`."""
    log = Path(log_folder) / f"{job_name}-%A_%a.log"
    lines = ["#!/bin/bash",
             f"# {n} training runs, one per line of {commands_path.name}; submit with: sbatch {script_path}",
             f"#SBATCH --job-name={job_name}",
             f"#SBATCH --array=1-{n}" + (f"%{options.max_parallel}" if options.max_parallel else ""),
             f"#SBATCH --cpus-per-task={options.cpus_per_run}",
             f"#SBATCH --output={log}"]
    if options.gpus_per_run:
        lines.append(f"#SBATCH --gres=gpu:{options.gpus_per_run}")
    for flag in ("partition", "time", "mem"):
        if getattr(options, flag):
            lines.append(f"#SBATCH --{flag}={getattr(options, flag)}")
    lines += [f"#SBATCH {a}" for a in options.sbatch_arg]
    lines += ["set -euo pipefail",
              f"cd {shlex.quote(str(workdir))}  # where the commands were written: relative paths hold",
              f'command=$(sed -n "${{SLURM_ARRAY_TASK_ID}}p" {shlex.quote(str(commands_path))})',
              'echo "task $SLURM_ARRAY_TASK_ID on $(hostname): $command"',
              'eval "$command"']
    return "\n".join(lines) + "\n"


def write_job(options, args, train_args, workdir=None):
    """Plan the sweep, leave out complete and held runs, write the two files.
    Returns (commands path or None when nothing is left, runs to do, complete, held)."""
    runs = grid.plan(args.domain, args.grid, args.seeds, args.levels, args.models, args.log_dir,
                      train_args, args.python, args.trainer)
    if args.trainer is None:
        grid.check_pass_through(args.domain, runs[0])  # another --trainer checks its own flags
    todo, done = grid.split_complete(runs, train_args)
    held = grid.held_elsewhere(todo)
    todo = [r for r in todo if r not in held]
    if not todo or args.dry_run:
        return None, todo, done, held
    commands = "".join(shlex.join(r.command) + "\n" for r in todo)
    log_dir = Path(args.log_dir).absolute()
    log_folder = log_dir / grid.LOG_FOLDER
    if re.search(r"\s", str(log_folder)):  # an #SBATCH line ends at white space
        raise UsageError(f"--log_dir {log_dir} has white space, which #SBATCH --output cannot "
                         "hold; choose a folder without")
    out = Path(options.out or log_dir / "slurm").absolute()
    outside_run_folders(out)
    job_name = options.job_name or f"helmholtz-{args.domain}"
    workdir = Path(workdir or os.getcwd()).absolute()
    # Named by their contents: a path is written once and never changes.
    stem = hashlib.sha256((commands + repr(sorted(vars(options).items())) + str(workdir)).encode())
    commands_path = out / f"{args.domain}-{stem.hexdigest()[:8]}.commands"
    script_path = commands_path.with_suffix(".sbatch")
    script = sbatch_text(options, commands_path, script_path, len(todo), log_folder, workdir, job_name)
    for path, text in ((commands_path, commands), (script_path, script)):
        if path.is_dir() or (path.exists() and path.read_text() != text):
            raise UsageError(f"{path} exists and is not what this command writes; move it away "
                             "or choose another folder with --out")
        if not path.exists():
            write_text(path, text)
    log_folder.mkdir(parents=True, exist_ok=True)  # SLURM does not create it: tasks would fail
    return commands_path, todo, done, held


def main(argv=None):
    options, args, train_args = parse_args(argv)
    commands_path, todo, done, held = write_job(options, args, train_args)
    total = len(todo) + len(done) + len(held)
    print(f"{args.domain}: {total} runs: {len(todo)} to submit, {len(done)} complete"
          + (f", {len(held)} running elsewhere (left out)" if held else ""))
    for r, holder in held.items():
        print(f"elsewhere {r.name}: {holder}")
    if args.dry_run:
        for r in todo:
            print(shlex.join(r.command))
        return 0
    if commands_path is None:
        print("nothing to submit")
        return 0
    script_path = commands_path.with_suffix(".sbatch")
    print(f"wrote {commands_path} ({len(todo)} lines) and {script_path}")
    print(f"submit with: sbatch {script_path}")
    return 0
