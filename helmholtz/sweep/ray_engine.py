"""Running a sweep's trainings as tasks of a Ray cluster.

The cluster shares the file system: the repository (the trainer), the Python
at --python and the log folder at the same paths on every node. The same
runs, skipping, log files, progress and failure report as on this machine; a
run counts as running once its log has been written to since the sweep began.
"""
import os
import time

from helmholtz.errors import UsageError
from helmholtz.run.progress import Board
from helmholtz.sweep.scheduler import PROGRESS_EVERY, Outcome, cpu_env, echo, execute, finished, settle


def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError('the Ray engine needs Ray; install it with: pip install "ray[default]"') from None
    return ray


def written_since(path, t0):
    try:
        return os.stat(path).st_mtime >= t0
    except OSError:
        return False


def run_ray(runs, address="auto", gpus_per_run=None, cpus_per_run=1, progress_every=PROGRESS_EVERY):
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
        outcomes, n, t0 = {}, len(runs), time.time()
        board = Board(n, echo, progress_every)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=board.interval)
                for run in pending.values():
                    if written_since(run.log, t0):  # execute() writes its line first
                        board.started(run)
                if ready:
                    run = pending.pop(ready[0])
                    try:
                        outcome = ray.get(ready[0])
                    except ray.exceptions.RayError as e:
                        outcome = Outcome(run, None, 0.0, str(e).strip()[-2000:])
                    outcomes[run] = outcome = settle(outcome)
                    board.finished(run)
                    finished(len(outcomes), n, outcome)
                board.tick()
        except BaseException:
            for ref in pending:
                ray.cancel(ref)  # interrupts execute(), which stops its training
            raise
        finally:
            board.close()
        return [outcomes[r] for r in runs]
    finally:
        ray.shutdown()
