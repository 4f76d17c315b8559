"""Sweeps: the grid of training runs of one domain, planned here, run by
helmholtz.sweep.scheduler on this machine or by helmholtz.sweep.ray_engine on a Ray cluster.

A sweep is a list of runs, each one call of the domain's train.py:

    <python> <domain>/train.py --<level_name> L --setting S --seed K --log_dir ROOT [train.py flags]

The domain is a package named on the command line; its SPEC
(helmholtz.domain) gives the levels, models and trainer. Grids: `paper` is
what the original scripts ran (the default model at every level of the
spec's `levels`, the five others at its `paper_level`); `full` is every model
at every level of `full_levels`. `--levels` replaces the grid's list of levels,
`--models` keeps only the named models; every grid point runs once per seed.
Flags after `--` go to every run; they are parsed by the domain's own
trainer's parser when the sweep is planned, so a bad one stops the sweep (and
`--dry_run`) before any run starts.

Each run writes its own run folder (helmholtz.run.layout) and its output to its own
log file, <log_dir>/sweep-logs/<domain>-<model>-<level_name>_<level>-seed_<k>.log.
A run whose folder holds result.json (for at least the epochs asked for) is
complete and skipped, so a stopped sweep is started again with the same
command and finishes what is missing. A run whose folder is locked by a live
trainer (helmholtz.run.layout.lock_holder: another sweep, or one started by hand)
is not started: it is reported as running elsewhere, with the holder's pid
and host. A failed run does not stop the others; the failures are listed at
the end with their log file and last lines, and the sweep exits 1.
"""
import contextlib
import io
import shlex
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from helmholtz import domain as domains
from helmholtz.cli import DEFAULT_SEED, NUM_EPOCH, Parser, folder_problem
from helmholtz.data import codecs
from helmholtz.errors import UsageError
from helmholtz.run import trainer as trainers
from helmholtz.run.layout import RESULT, default_log_dir, is_complete, read_json, run_dir
from helmholtz.sweep.scheduler import (PROGRESS_EVERY, discover_gpus, echo, local_slots,
                                       lock_holder, parse_gpus, run_local, stop_on_signals)

GRIDS = ("paper", "full")
ENGINES = ("local", "ray")
LOG_FOLDER = "sweep-logs"


# --- what to run: pure functions of the arguments -------------------------------------------

@dataclass(frozen=True)
class Run:
    domain: str
    model: str
    level: object  # an int, or "lossless"
    seed: int
    folder: Path   # its run folder: complete when result.json is there
    log: Path      # where its output goes
    command: tuple

    @property
    def name(self):
        return f"{self.domain} {self.model} {self.folder.parent.name} seed {self.seed}"


def grid_points(domain, grid="paper", levels=None, models=None):
    """The (model, level) pairs of a grid, in order, each once."""
    spec = domains.load(domain)
    if grid not in GRIDS:
        raise UsageError(f"unknown grid {grid!r}; use one of: {', '.join(GRIDS)}")
    for m in models or ():
        if m not in spec.models:
            raise UsageError(f"unknown {domain} model {m!r}; use one of: {', '.join(spec.models)}")
    if levels:  # the domain's own rules, as its trainer applies them
        levels = [spec.parse_level(str(level)) for level in levels]
    else:
        levels = spec.levels if grid == "paper" else spec.full_levels
    default, others = spec.models[0], spec.models[1:]
    if grid == "paper":
        points = [(default, level) for level in levels] + [(m, spec.paper_level) for m in others]
    else:
        points = [(m, level) for m in spec.models for level in levels]
    if models:
        points = [p for p in points if p[0] in models]
    return list(dict.fromkeys(points))


# Flags the launcher sets on every run; in the pass-through they would clash. The
# level's flag is the domain's (--<level_name>): choose levels with --levels.
OWNED_FLAGS = {
    "--setting": "choose models with --models", "--model": "choose models with --models",
    "--seed": "choose seeds with --seeds", "--log_dir": "give --log_dir to the sweep, before --",
    "--train_dir": "runs go to their own folders under --log_dir",
}


def flag_value(args, flag):
    """The value of the last `flag V` or `flag=V` in a list of arguments, else None."""
    value = None
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(flag + "="):
            value = a.split("=", 1)[1]
    return value


def check_train_args(spec, train_args):
    owned = {**OWNED_FLAGS, f"--{spec.level_name}": "choose levels with --levels"}
    for a in train_args:
        flag = a.split("=", 1)[0]
        if flag in owned:
            raise UsageError(f"{flag} after -- is set by the sweep for each run; {owned[flag]}")


def plan(domain, grid="paper", seeds=(DEFAULT_SEED,), levels=None, models=None, log_dir=None,
         train_args=(), python=sys.executable, trainer=None):
    """Every run of a sweep, seed by seed: its run folder, log file and command."""
    spec = domains.load(domain)
    train_args = list(train_args)
    check_train_args(spec, train_args)
    # Run folders depend on the dataset; where a domain derives its name from the data
    # (a --data folder's name) it is the trainer that knows it, so those runs are checked
    # by the trainer itself (it exits 0 when complete).
    dataset = flag_value(train_args, "--dataset") or spec.default_dataset
    codec, noise = flag_value(train_args, "--codec"), flag_value(train_args, "--sensor_noise")
    noise = codecs.noise_value(spec)(noise) if noise is not None and spec.codecs else codecs.NO_NOISE
    if codec is not None:
        room = codecs.room(spec, codec)
        levels = levels or room.LEVELS  # the codec's own grid
        for level in levels:  # a level outside the codec's range stops the sweep here
            if spec.parse_level(str(level)) != "lossless":
                room.check_level(spec.parse_level(str(level)))
    log_dir = Path(log_dir or default_log_dir()).absolute()
    trainer = Path(trainer or domains.trainer_path(spec)).absolute()
    runs = []
    for seed in dict.fromkeys(seeds):
        for model, level in grid_points(domain, grid, levels, models):
            folder = run_dir(log_dir, domain, dataset, spec.default_dataset,
                             model, spec.level_name, level, seed)
            if spec.codecs:
                folder = codecs.run_folder(folder, spec, level, codec, noise)
            log = log_dir / LOG_FOLDER / ("-".join(folder.relative_to(log_dir).parts) + ".log")
            command = (str(python), str(trainer), f"--{spec.level_name}", str(level),
                       "--setting", str(spec.models.index(model)), "--seed", str(seed),
                       "--log_dir", str(log_dir), *train_args)
            runs.append(Run(domain, model, level, seed, folder, log, command))
    return runs


def check_pass_through(domain, run):
    """Parse one run's command with the domain's trainer parser (no TensorFlow is
    imported), so that a bad flag after -- stops the sweep before any run starts."""
    spec = domains.load(domain)
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            trainers.parse_args(spec, list(run.command[2:]))
    except SystemExit as e:
        if e.code in (0, None):
            raise  # --help after --: train.py's help was shown
        problem = said.getvalue().strip().removeprefix("error: ").removesuffix("; see --help")
        raise UsageError(f"after --: {problem}; see python {domain}/train.py --help") from None
    except UsageError as e:
        raise UsageError(f"after --: {e}") from None


def is_done(folder, num_epoch):
    """Complete as train.py sees it: result.json is there, for at least `num_epoch` epochs
    (asked for more, train.py extends the run)."""
    if not is_complete(folder):
        return False
    try:
        return read_json(Path(folder) / RESULT).get("epochs", num_epoch) >= num_epoch
    except (OSError, ValueError):
        return False  # unreadable: let train.py decide


def is_diverged(folder):
    """Whether the run stopped on a non-finite loss: train.py does not train it again
    without --force."""
    try:
        return read_json(Path(folder) / RESULT).get("diverged") is True
    except (OSError, ValueError):
        return False


def split_complete(runs, train_args=()):
    """(runs to start, runs already complete or diverged), judged with the pass-through's
    --num_epoch (else train.py's default); with --force nothing counts as complete."""
    if "--force" in train_args:
        return list(runs), []
    text = flag_value(train_args, "--num_epoch") or NUM_EPOCH
    try:
        num_epoch = int(text)
    except ValueError:
        raise UsageError(f"after --: --num_epoch {text} is not a whole number of epochs") from None
    done = {r for r in runs if is_done(r.folder, num_epoch) or is_diverged(r.folder)}
    return [r for r in runs if r not in done], [r for r in runs if r in done]


def held_elsewhere(runs):
    """{run: "pid 1234 on host"} for the runs whose folder a live trainer has locked."""
    held = {run: lock_holder(run.folder) for run in runs}
    return {run: holder for run, holder in held.items() if holder}


# --- command line --------------------------------------------------------------------------

def parse_args(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    train_args = []
    if "--" in argv:
        cut = argv.index("--")
        argv, train_args = argv[:cut], argv[cut + 1:]
    p = Parser(prog="sweep.py", description="Run a grid of trainings of one domain; complete runs "
               "are skipped, so the same command resumes a stopped sweep.",
               epilog="Flags after -- go to every train.py call, e.g. -- --num_epoch 50 --batch_size 256.")
    p.add_argument("domain", help="the domain's package (its SPEC: helmholtz/domain.py)")
    p.add_argument("--grid", choices=GRIDS, default="paper",
                   help="paper: default model at every level, the others at the paper level; "
                        "full: every model at every level")
    p.add_argument("--seeds", type=int, nargs="+", default=[DEFAULT_SEED],
                   help="run every grid point once per seed")
    p.add_argument("--levels", nargs="+",
                   help="levels instead of the grid's, e.g. 1 5 lossless (default: the grid's)")
    p.add_argument("--models", nargs="+", help="keep only these models of the grid (default: all)")
    p.add_argument("--codec", help="the codec of every run (default: the domain's first; "
                   "its grid of levels unless --levels)")
    p.add_argument("--log_dir", default=str(default_log_dir()), help="root of the run folders")
    p.add_argument("--dry_run", action="store_true",
                   help="list what would run and what is complete (default: off)")
    p.add_argument("--python", default=sys.executable, help="interpreter for train.py")
    p.add_argument("--trainer", help="training script (default: <domain>/train.py)")
    p.add_argument("--progress_every", type=float,
                   help="seconds between progress lines when the output is not a terminal "
                        f"(default: {PROGRESS_EVERY:g}; a terminal shows a live display)")
    p.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: this machine; ray: the tasks of a Ray cluster")
    local = p.add_argument_group("local engine")
    local.add_argument("--gpus", help="GPU ids, e.g. 0,1, or none (default: those found)")
    local.add_argument("--per_gpu", type=int, help="runs at once on each GPU (default: 1)")
    local.add_argument("--jobs", type=int, help="runs at once without a GPU (default: 1)")
    ray = p.add_argument_group("ray engine")
    ray.add_argument("--address", help="Ray head address, or local (default: auto)")
    ray.add_argument("--gpus_per_run", type=float,
                     help="GPU (fraction) per run (default: 1 if the cluster has GPUs, else 0)")
    ray.add_argument("--cpus_per_run", type=float, help="CPUs per run (default: 1)")
    args = p.parse_args(argv)
    spec = domains.load(args.domain)

    other_engine = {"local": ("address", "gpus_per_run", "cpus_per_run"),
                    "ray": ("gpus", "per_gpu", "jobs")}
    used = [f for f in other_engine[args.engine] if getattr(args, f) is not None]
    if used:
        fix = "add --engine ray" if args.engine == "local" else "with Ray use --gpus_per_run/--cpus_per_run"
        raise UsageError(f"--{used[0]} is not for the {args.engine} engine; {fix}")
    for name in ("per_gpu", "jobs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UsageError(f"--{name} {getattr(args, name)} must be 1 or more")
    if min(args.seeds) < 0:
        raise UsageError(f"seed {min(args.seeds)} is negative; use seeds 0 or more")
    if args.progress_every is not None and args.progress_every <= 0:
        raise UsageError(f"--progress_every {args.progress_every:g} must be more than 0 seconds")
    if (args.gpus_per_run or 0) < 0 or (args.cpus_per_run is not None and args.cpus_per_run <= 0):
        raise UsageError("--gpus_per_run must be 0 or more and --cpus_per_run more than 0")
    if not shutil.which(args.python):
        raise UsageError(f"no Python interpreter at {args.python}; give one with --python")
    trainer = Path(args.trainer or domains.trainer_path(spec))
    if not trainer.is_file():
        raise UsageError(f"no training script at {trainer}; give one with --trainer")
    problem = folder_problem(args.log_dir, writable=True)
    if problem:
        raise UsageError(f"--log_dir {args.log_dir}: {problem}; choose another folder")
    if args.codec is not None:
        codecs.room(spec, args.codec)  # an unknown codec stops the sweep here
        train_args += ["--codec", args.codec]
    return args, train_args


def main(argv=None):
    args, train_args = parse_args(argv)
    runs = plan(args.domain, args.grid, args.seeds, args.levels, args.models, args.log_dir,
                train_args, args.python, args.trainer)
    if Path(runs[0].command[1]) == domains.trainer_path(domains.load(args.domain)):
        check_pass_through(args.domain, runs[0])  # another --trainer checks its own flags
    todo, done = split_complete(runs, train_args)
    held = held_elsewhere(todo)
    todo = [r for r in todo if r not in held]
    if args.engine == "local":
        gpus = discover_gpus() if args.gpus is None else parse_gpus(args.gpus)
        slots = local_slots(gpus, args.per_gpu or 1, args.jobs or 1)
        where = (f"GPUs {','.join(gpus)}, {args.per_gpu or 1} run(s) each" if gpus else
                 f"CPU, {len(slots)} run(s) at once, {slots[0]['TF_NUM_INTRAOP_THREADS']} threads each")
    else:
        where = f"Ray at {args.address or 'auto'}"
    diverged = [r for r in done if is_diverged(r.folder)]
    echo(f"{len(runs)} runs: {len(todo)} to run ({where}), {len(done) - len(diverged)} complete"
         + (f", {len(diverged)} diverged (not run again; --force after -- starts them again)"
            if diverged else "")
         + (f", {len(held)} running elsewhere" if held else "")
         + f"; logs in {Path(args.log_dir).absolute() / LOG_FOLDER}")
    for r, holder in held.items():
        echo(f"elsewhere {r.name}: running elsewhere ({holder}); not started here")
    if args.dry_run:
        for r in done:
            echo(f"{'diverged' if r in diverged else 'complete'} {r.name}")
        for r in todo:
            echo(f"run      {r.name}: {shlex.join(r.command)}")
        return 0
    if not todo:
        return 0
    if threading.current_thread() is threading.main_thread():
        stop_on_signals()
    if args.engine == "local":
        outcomes = run_local(todo, slots, args.progress_every or PROGRESS_EVERY)
    else:
        from helmholtz.sweep.ray_engine import run_ray
        outcomes = run_ray(todo, args.address or "auto", args.gpus_per_run, args.cpus_per_run or 1,
                           args.progress_every or PROGRESS_EVERY)
    failed = [o for o in outcomes if o.failed]
    elsewhere = [o for o in outcomes if o.elsewhere]
    echo(f"sweep finished: {sum(o.ok for o in outcomes)} ran, {len(done)} were complete, "
         f"{len(held) + len(elsewhere)} running elsewhere, {len(failed)} failed")
    if held or elsewhere:
        echo("Runs that another live trainer holds were not started here; they finish there "
             "(the same command afterwards checks them).")
    for o in failed:
        echo(f"\nFAILED {o.run.name} (exit {o.returncode}); log: {o.run.log}")
        for line in o.tail.splitlines():
            echo(f"    {line}")
    return 1 if failed else 0
