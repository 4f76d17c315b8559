"""Sweeps: the grid of training runs of one domain, launched here or on a Ray cluster.

A sweep is a list of runs, each one call of the domain's train.py:

    <python> <domain>/train.py --<level_name> L --setting S --seed K --log_dir ROOT [train.py flags]

Grids: `paper` is what the original scripts ran (the default model at every
level of the domain's DEFAULT_LEVELS, the five others at its PAPER_LEVEL);
`full` is every model at every level of FULL_LEVELS (DEFAULT_LEVELS where a
domain has no other). `--levels` replaces the grid's list of levels,
`--models` keeps only the named models; every grid point runs once per seed.
Flags after `--` go to every run; they are parsed by the domain's own
train.py parser when the sweep is planned, so a bad one stops the sweep (and
`--dry_run`) before any run starts.

Each run writes its own run folder (helmholtz.runs) and its output to its own
log file, <log_dir>/sweep-logs/<domain>-<model>-<level_name>_<level>-seed_<k>.log.
A run whose folder holds result.json (for at least the epochs asked for) is
complete and skipped, so a stopped sweep is started again with the same
command and finishes what is missing.
A failed run does not stop the others; the failures are listed at the end
with their log file and last lines, and the sweep exits 1. A run whose
folder is locked by a live trainer (helmholtz.runs.lock_holder: another
sweep, or one started by hand) is not started: it is reported as running
elsewhere, with the holder's pid and host.

Each training runs in its own process group. SIGINT and SIGTERM to the sweep
are passed on to every run in flight (as the same signal; a run that has not
stopped after GRACE seconds is killed), and the sweep exits 130; on Linux a
run also gets SIGTERM when the sweep dies, even by SIGKILL, so no training
goes on unnoticed. The runs never inherit an ignored SIGINT (a shell's
background job ignores it; the sweep itself then does too: stop it with SIGTERM).

Engines: `local` runs on this machine, one run per GPU at a time (or
`--per_gpu K`), each pinned with CUDA_VISIBLE_DEVICES; with no GPU it runs
`--jobs N` at a time on the CPU cores, the threads split between them.
`ray` sends the same runs to a Ray cluster that shares the file system
(repository and log_dir at the same paths on every node).
"""
import contextlib
import ctypes
import functools
import importlib
import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from queue import SimpleQueue
from threading import Lock

from helmholtz import REPO
from helmholtz.cli import Parser, trainer_parser
from helmholtz.errors import UsageError
from helmholtz.runs import RESULT, default_log_dir, is_complete, read_json, run_dir

try:
    from helmholtz.runs import lock_holder
except ImportError:  # run folders without locks: none is ever held
    def lock_holder(folder):
        return None

DOMAINS = ("cifar", "audio")
GRIDS = ("paper", "full")
ENGINES = ("local", "ray")
LOG_FOLDER = "sweep-logs"
TAIL_LINES = 15
GRACE = 10  # seconds a run has to stop after the signal, before it is killed
_ECHO_LOCK = Lock()


def echo(text):
    """One whole line per call: runs finish on several threads at once, and
    print() writes the text and its newline separately, so lines could interleave."""
    with _ECHO_LOCK:
        sys.stdout.write(f"{text}\n")
        sys.stdout.flush()


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


def domain_constants(domain):
    if domain not in DOMAINS:
        raise UsageError(f"unknown domain {domain!r}; use one of: {', '.join(DOMAINS)}")
    return importlib.import_module(domain)


def grid_points(domain, grid="paper", levels=None, models=None):
    """The (model, level) pairs of a grid, in order, each once."""
    consts = domain_constants(domain)
    if grid not in GRIDS:
        raise UsageError(f"unknown grid {grid!r}; use one of: {', '.join(GRIDS)}")
    for m in models or ():
        if m not in consts.MODELS:
            raise UsageError(f"unknown {domain} model {m!r}; use one of: {', '.join(consts.MODELS)}")
    if levels:  # the domain's own rules, as train.py applies them (imported only when needed)
        parse_level = importlib.import_module(f"{domain}.data").parse_level
        levels = [parse_level(str(level)) for level in levels]
    elif grid == "paper":
        levels = consts.DEFAULT_LEVELS
    else:
        levels = getattr(consts, "FULL_LEVELS", consts.DEFAULT_LEVELS)
    default, others = consts.MODELS[0], consts.MODELS[1:]
    if grid == "paper":
        points = [(default, level) for level in levels] + [(m, consts.PAPER_LEVEL) for m in others]
    else:
        points = [(m, level) for m in consts.MODELS for level in levels]
    if models:
        points = [p for p in points if p[0] in models]
    return list(dict.fromkeys(points))


# Flags the launcher sets on every run; in the pass-through they would clash.
OWNED_FLAGS = {
    "--quality": "choose levels with --levels", "--bitrate": "choose levels with --levels",
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


def check_train_args(train_args):
    for a in train_args:
        flag = a.split("=", 1)[0]
        if flag in OWNED_FLAGS:
            raise UsageError(f"{flag} after -- is set by the sweep for each run; {OWNED_FLAGS[flag]}")


def plan(domain, grid="paper", seeds=(0,), levels=None, models=None, log_dir=None,
         train_args=(), python=sys.executable, trainer=None):
    """Every run of a sweep, seed by seed: its run folder, log file and command."""
    consts = domain_constants(domain)
    train_args = list(train_args)
    check_train_args(train_args)
    # Run folders depend on the dataset; for audio --data it is the trainer that knows the
    # name, so those runs are checked by the trainer itself (it exits 0 when complete).
    dataset = flag_value(train_args, "--dataset") or consts.DEFAULT_DATASET
    log_dir = Path(log_dir or default_log_dir()).absolute()
    trainer = Path(trainer or REPO / domain / "train.py").absolute()
    runs = []
    for seed in dict.fromkeys(seeds):
        for model, level in grid_points(domain, grid, levels, models):
            folder = run_dir(log_dir, domain, dataset, consts.DEFAULT_DATASET,
                             model, consts.LEVEL_NAME, level, seed)
            log = log_dir / LOG_FOLDER / ("-".join(folder.relative_to(log_dir).parts) + ".log")
            command = (str(python), str(trainer), f"--{consts.LEVEL_NAME}", str(level),
                       "--setting", str(consts.MODELS.index(model)), "--seed", str(seed),
                       "--log_dir", str(log_dir), *train_args)
            runs.append(Run(domain, model, level, seed, folder, log, command))
    return runs


def check_pass_through(domain, run):
    """Parse one run's command with the domain's own train.py parser (no TensorFlow is
    imported), so that a bad flag after -- stops the sweep before any run starts."""
    parse_args = importlib.import_module(f"{domain}.train").parse_args
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            parse_args(list(run.command[2:]))
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


def split_complete(runs, train_args=()):
    """(runs to start, runs already complete), judged with the pass-through's
    --num_epoch (else train.py's default); with --force nothing counts as complete."""
    if "--force" in train_args:
        return list(runs), []
    num_epoch = int(flag_value(train_args, "--num_epoch") or trainer_parser("", 1).get_default("num_epoch"))
    done = {r for r in runs if is_done(r.folder, num_epoch)}
    return [r for r in runs if r not in done], [r for r in runs if r in done]


def held_elsewhere(runs):
    """{run: "pid 1234 on host"} for the runs whose folder a live trainer has locked."""
    held = {run: lock_holder(run.folder) for run in runs}
    return {run: holder for run, holder in held.items() if holder}


# --- where to run: devices and per-run environments -----------------------------------------

def discover_gpus(environ=None, which=shutil.which, run=subprocess.run):
    """GPU ids: CUDA_VISIBLE_DEVICES when it is set (a scheduler's or the user's choice),
    else those `nvidia-smi --list-gpus` lists, else none."""
    environ = os.environ if environ is None else environ
    if "CUDA_VISIBLE_DEVICES" in environ:
        return parse_gpus(environ["CUDA_VISIBLE_DEVICES"])
    if which("nvidia-smi"):
        try:
            out = run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return []
        if out.returncode == 0:
            return [str(i) for i in range(sum(line.startswith("GPU ") for line in out.stdout.splitlines()))]
    return []


def parse_gpus(text):
    """"0,1" -> ["0", "1"]; "", "none" or "-1" -> [] (no GPU)."""
    ids = [g.strip() for g in text.split(",") if g.strip()]
    return [] if ids in ([], ["none"], ["-1"]) else ids


def local_slots(gpus, per_gpu=1, jobs=1, cores=None):
    """One environment per run that may go at once: per_gpu per GPU, else `jobs` on the CPU."""
    if gpus:
        # Interleaved, so the first runs spread over all GPUs.
        slot = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"} if per_gpu > 1 else {}
        return [{**slot, "CUDA_VISIBLE_DEVICES": g} for _ in range(per_gpu) for g in gpus]
    return [cpu_env(max(1, (cores or os.cpu_count() or 1) // jobs))] * jobs


def cpu_env(threads):
    return {"CUDA_VISIBLE_DEVICES": "", "TF_NUM_INTRAOP_THREADS": str(threads),
            "OMP_NUM_THREADS": str(threads)}


def describe(env):
    gpu = env.get("CUDA_VISIBLE_DEVICES")
    return f"GPU {gpu}" if gpu else f"CPU, {env.get('TF_NUM_INTRAOP_THREADS', 'all')} threads"


# --- running -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    run: Run
    returncode: object  # None: it never got to an exit status (not started, or Ray lost the task)
    seconds: float
    tail: str = ""      # last lines of its log, for the failure report
    elsewhere: str = ""  # "pid 1234 on host": its folder is locked by that live trainer

    @property
    def ok(self):
        return self.returncode == 0

    @property
    def failed(self):
        return not self.ok and not self.elsewhere


class Stopped(KeyboardInterrupt):
    """The sweep got SIGINT or SIGTERM; its runs get the same signal."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_on_signals():
    """SIGINT and SIGTERM raise Stopped (once: a second one while stopping is ignored).
    An ignored SIGINT stays ignored: a shell's background job keeps out of Ctrl-C."""
    def stop(signum, frame):
        for s in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(s) is stop:
                signal.signal(s, signal.SIG_IGN)
        raise Stopped(signum)
    signal.signal(signal.SIGTERM, stop)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, stop)


def tail(path, lines=TAIL_LINES):
    """Last lines of a log; progress bars redraw with \\r, so keep only what shows last."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 64 * 1024))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    shown = [line.rstrip().rsplit("\r", 1)[-1] for line in text.split("\n")]
    return "\n".join([line for line in shown if line][-lines:])


def _prctl():
    """libc's prctl on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


PR_SET_PDEATHSIG = 1
_PRCTL = _prctl()


def _child_setup(sweep_pid):
    """In the run's process, before exec: default SIGINT and SIGTERM (an ignored one would
    be inherited), and SIGTERM when the sweep dies (Linux), however it dies."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != sweep_pid:  # the sweep died before the line above
            os._exit(1)


def _signal_group(proc, signum):
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)  # the run and whatever it started


def stop_all(procs, signum=signal.SIGINT, grace=GRACE):
    """Pass `signum` to every run's process group; kill those still there after `grace` s."""
    for proc in procs:
        _signal_group(proc, signum)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


class InFlight:
    """The trainings running now; once stopped, no new one starts."""

    def __init__(self):
        self.procs, self.lock, self.stopped = set(), Lock(), False

    def start(self, run, env):
        """Start a run (its output appended to its log) in its own process group; None
        once stopped."""
        with self.lock:
            if self.stopped:
                return None
            run.log.parent.mkdir(parents=True, exist_ok=True)
            with open(run.log, "a") as log:
                log.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} "
                          f"{shlex.join([f'{k}={v}' for k, v in env.items()] + list(run.command))}\n")
                log.flush()
                proc = subprocess.Popen(run.command, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, env={**os.environ, **env},
                                        process_group=0,
                                        preexec_fn=functools.partial(_child_setup, os.getpid()))
            self.procs.add(proc)
            return proc

    def finished(self, proc):
        with self.lock:
            self.procs.discard(proc)

    def stop(self, signum=signal.SIGINT):
        with self.lock:
            self.stopped = True
            procs = list(self.procs)
        stop_all(procs, signum)


def execute(run, env, in_flight=None):
    """Run one training to its end; None if the sweep was stopped before it started."""
    in_flight = in_flight or InFlight()
    start = time.time()
    proc = in_flight.start(run, env)
    if proc is None:
        return None
    try:
        code = proc.wait()
    except BaseException as e:  # interrupted or cancelled (Ray): take the training down with us
        stop_all([proc], getattr(e, "signum", signal.SIGINT))
        raise
    finally:
        in_flight.finished(proc)
    return Outcome(run, code, time.time() - start, "" if code == 0 else tail(run.log))


def settle(outcome):
    """A run that failed while another live trainer holds its folder's lock was not
    started (the trainer refuses a locked folder): it is running elsewhere."""
    if outcome.ok or outcome.elsewhere:
        return outcome
    holder = lock_holder(outcome.run.folder)
    return replace(outcome, elsewhere=holder) if holder else outcome


def finished(i, n, outcome):
    r = outcome.run
    if outcome.ok:
        echo(f"[{i}/{n}] done     {r.name} in {outcome.seconds:.0f} s")
    elif outcome.elsewhere:
        echo(f"[{i}/{n}] skipped  {r.name}: running elsewhere ({outcome.elsewhere})")
    else:
        echo(f"[{i}/{n}] FAILED   {r.name} (exit {outcome.returncode}); log: {r.log}")


def run_local(runs, slots):
    """Run `runs` on this machine, at most one per slot (environment) at a time."""
    free, in_flight, n = SimpleQueue(), InFlight(), len(runs)
    for env in slots:
        free.put(env)

    def one(i, run):
        env = free.get()
        try:
            if in_flight.stopped:
                return None
            holder = lock_holder(run.folder)  # taken since the sweep was planned
            if holder:
                outcome = Outcome(run, None, 0.0, elsewhere=holder)
            else:
                echo(f"[{i}/{n}] start    {run.name} ({describe(env)})")
                outcome = execute(run, env, in_flight)
                if outcome is None or in_flight.stopped:
                    return outcome
                outcome = settle(outcome)
            finished(i, n, outcome)
            return outcome
        finally:
            free.put(env)

    with ThreadPoolExecutor(max(1, len(slots))) as pool:
        futures = [pool.submit(one, i, run) for i, run in enumerate(runs, 1)]
        try:
            return [f.result() for f in futures]
        except BaseException as e:
            pool.shutdown(wait=False, cancel_futures=True)
            in_flight.stop(getattr(e, "signum", signal.SIGINT))
            raise


def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError('the Ray engine needs Ray; install it with: pip install "ray[default]"') from None
    return ray


def run_ray(runs, address="auto", gpus_per_run=None, cpus_per_run=1):
    """Run `runs` as tasks of a Ray cluster; "local" starts a private one on this machine."""
    ray = import_ray()
    import helmholtz
    # Workers import this module from a copy Ray ships them; the trainers they start
    # must be at the same path on every node (a shared file system), like log_dir.
    options = dict(runtime_env={"py_modules": [helmholtz]}, logging_level="WARNING")
    if address == "local":
        options["include_dashboard"] = False
    try:
        ray.init(address=address, **options)
    except ConnectionError as e:
        raise UsageError(f"no Ray cluster at {address} ({e}); start one with `ray start --head` "
                         "and pass its address, or use --address local") from None
    try:
        cluster_gpus = ray.cluster_resources().get("GPU", 0)
        if gpus_per_run is None:
            gpus_per_run = 1 if cluster_gpus else 0
        if gpus_per_run > cluster_gpus:
            raise UsageError(f"--gpus_per_run {gpus_per_run} but the cluster has {cluster_gpus:g} GPUs; "
                             "use --gpus_per_run 0 (CPU) or a smaller fraction")
        # Ray sets CUDA_VISIBLE_DEVICES for a task with GPUs; a CPU task gets none and its share of threads.
        if gpus_per_run:
            env = {"TF_FORCE_GPU_ALLOW_GROWTH": "true"} if gpus_per_run < 1 else {}
        else:
            env = cpu_env(max(1, int(cpus_per_run)))
        task = ray.remote(execute).options(num_gpus=gpus_per_run, num_cpus=cpus_per_run)
        pending = {task.remote(run, env): run for run in runs}
        echo(f"sent {len(runs)} runs to Ray at {address}, {gpus_per_run:g} GPU and "
             f"{cpus_per_run:g} CPU each")
        outcomes, n = {}, len(runs)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                run = pending.pop(ready[0])
                try:
                    outcome = ray.get(ready[0])
                except ray.exceptions.RayError as e:
                    outcome = Outcome(run, None, 0.0, str(e).strip()[-2000:])
                outcomes[run] = outcome = settle(outcome)
                finished(len(outcomes), n, outcome)
        except BaseException:
            for ref in pending:
                ray.cancel(ref)  # interrupts execute(), which stops its training
            raise
        return [outcomes[r] for r in runs]
    finally:
        ray.shutdown()


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
    p.add_argument("domain", choices=DOMAINS)
    p.add_argument("--grid", choices=GRIDS, default="paper",
                   help="paper: default model at every level, the others at the paper level; "
                        "full: every model at every level")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--levels", nargs="+", help="levels instead of the grid's (e.g. 1 5 lossless)")
    p.add_argument("--models", nargs="+", help="keep only these models of the grid")
    p.add_argument("--log_dir", default=str(default_log_dir()), help="root of the run folders")
    p.add_argument("--dry_run", action="store_true", help="list what would run and what is complete")
    p.add_argument("--python", default=sys.executable, help="interpreter for train.py")
    p.add_argument("--trainer", help="training script (default <repo>/<domain>/train.py)")
    p.add_argument("--engine", choices=ENGINES, default="local")
    local = p.add_argument_group("local engine")
    local.add_argument("--gpus", help="GPU ids, e.g. 0,1, or none (default: those found)")
    local.add_argument("--per_gpu", type=int, help="runs at once on each GPU (default 1)")
    local.add_argument("--jobs", type=int, help="runs at once without a GPU (default 1)")
    ray = p.add_argument_group("ray engine")
    ray.add_argument("--address", help="Ray head address, or local (default: auto)")
    ray.add_argument("--gpus_per_run", type=float, help="GPU (fraction) per run (default 1 if any)")
    ray.add_argument("--cpus_per_run", type=float, help="CPUs per run (default 1)")
    args = p.parse_args(argv)

    other_engine = {"local": ("address", "gpus_per_run", "cpus_per_run"), "ray": ("gpus", "per_gpu", "jobs")}
    used = [f for f in other_engine[args.engine] if getattr(args, f) is not None]
    if used:
        fix = "add --engine ray" if args.engine == "local" else "with Ray use --gpus_per_run/--cpus_per_run"
        raise UsageError(f"--{used[0]} is not for the {args.engine} engine; {fix}")
    for name in ("per_gpu", "jobs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UsageError(f"--{name} {getattr(args, name)} must be 1 or more")
    if min(args.seeds) < 0:
        raise UsageError(f"seed {min(args.seeds)} is negative; use seeds 0 or more")
    if (args.gpus_per_run or 0) < 0 or (args.cpus_per_run is not None and args.cpus_per_run <= 0):
        raise UsageError("--gpus_per_run must be 0 or more and --cpus_per_run more than 0")
    if not shutil.which(args.python):
        raise UsageError(f"no Python interpreter at {args.python}; give one with --python")
    trainer = Path(args.trainer or REPO / args.domain / "train.py")
    if not trainer.is_file():
        raise UsageError(f"no training script at {trainer}; give one with --trainer")
    return args, train_args


def main(argv=None):
    args, train_args = parse_args(argv)
    runs = plan(args.domain, args.grid, args.seeds, args.levels, args.models, args.log_dir,
                train_args, args.python, args.trainer)
    if Path(runs[0].command[1]) == (REPO / args.domain / "train.py").absolute():
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
    echo(f"{len(runs)} runs: {len(todo)} to run ({where}), {len(done)} complete"
         + (f", {len(held)} running elsewhere" if held else "")
         + f"; logs in {Path(args.log_dir).absolute() / LOG_FOLDER}")
    for r, holder in held.items():
        echo(f"elsewhere {r.name}: running elsewhere ({holder}); not started here")
    if args.dry_run:
        for r in done:
            echo(f"complete {r.name}")
        for r in todo:
            echo(f"run      {r.name}: {shlex.join(r.command)}")
        return 0
    if not todo:
        return 0
    if threading.current_thread() is threading.main_thread():
        stop_on_signals()
    if args.engine == "local":
        outcomes = run_local(todo, slots)
    else:
        outcomes = run_ray(todo, args.address or "auto", args.gpus_per_run, args.cpus_per_run or 1)
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
