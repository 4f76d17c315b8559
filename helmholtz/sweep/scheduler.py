"""Running a sweep's trainings on this machine: devices, per-run environments and
processes.

One run per GPU at a time (or `per_gpu` K), each pinned with
CUDA_VISIBLE_DEVICES; with no GPU, `jobs` N at a time on the CPU cores, the
threads split between them. Each run's output goes to its own log file; while
they go, helmholtz.run.progress shows what is done, running and queued.

Each training runs in its own process group. SIGINT and SIGTERM to the sweep
are passed on to every run in flight (as the same signal; a run that has not
stopped after GRACE seconds is killed), and the sweep exits 130; on Linux a
run also gets SIGTERM when the sweep dies, even by SIGKILL
(PR_SET_PDEATHSIG), so no training goes on unnoticed. The runs never inherit
an ignored SIGINT (a shell's background job ignores it; the sweep itself then
does too: stop it with SIGTERM).
"""
import contextlib
import ctypes
import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from queue import SimpleQueue
from threading import Lock

from tqdm import tqdm

from helmholtz.run.layout import lock_holder
from helmholtz.run.progress import Board

TAIL_LINES = 15
GRACE = 10  # seconds a run has to stop after the signal, before it is killed
PROGRESS_EVERY = 60.0  # seconds between the progress lines of a sweep written to a log
_ECHO_LOCK = Lock()


def echo(text):
    """One whole line per call: runs finish on several threads at once, and
    print() writes the text and its newline separately, so lines could interleave.
    Written above the progress display on a terminal (tqdm.write)."""
    with _ECHO_LOCK:
        tqdm.write(text, file=sys.stdout)
        sys.stdout.flush()


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
    # The cores this process may use (taskset, cgroups, a SLURM allocation), not the machine's.
    return [cpu_env(max(1, (cores or len(os.sched_getaffinity(0))) // jobs))] * jobs


def cpu_env(threads):
    return {"CUDA_VISIBLE_DEVICES": "", "TF_NUM_INTRAOP_THREADS": str(threads),
            "OMP_NUM_THREADS": str(threads)}


def describe(env):
    gpu = env.get("CUDA_VISIBLE_DEVICES")
    return f"GPU {gpu}" if gpu else f"CPU, {env.get('TF_NUM_INTRAOP_THREADS', 'all')} threads"


# --- running -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    run: object         # a helmholtz.sweep.grid.Run: its name, folder, log and command
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
                # _child_setup only sets signals (no locks, no imports): safe beside threads.
                # The death signal is tied to this thread, which waits on the run till it ends.
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


def run_local(runs, slots, progress_every=PROGRESS_EVERY):
    """Run `runs` on this machine, at most one per slot (environment) at a time, with a
    progress report every `progress_every` seconds (a live display on a terminal)."""
    free, in_flight, n = SimpleQueue(), InFlight(), len(runs)
    board = Board(n, echo, progress_every)
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
                board.started(run)
                outcome = execute(run, env, in_flight)
                if outcome is None or in_flight.stopped:
                    return outcome
                outcome = settle(outcome)
            board.finished(run)
            finished(i, n, outcome)
            return outcome
        finally:
            free.put(env)

    with ThreadPoolExecutor(max(1, len(slots))) as pool:
        futures = [pool.submit(one, i, run) for i, run in enumerate(runs, 1)]
        try:
            pending = set(futures)
            while pending:
                ended, pending = wait(pending, timeout=board.interval)
                for f in ended:
                    f.result()  # a run's thread that raised stops the sweep now
                board.tick()
            return [f.result() for f in futures]
        except BaseException as e:
            pool.shutdown(wait=False, cancel_futures=True)
            in_flight.stop(getattr(e, "signum", signal.SIGINT))
            raise
        finally:
            board.close()
