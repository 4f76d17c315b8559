"""Check that training runs on this machine's GPU: `make gpu-check`.

1. lists the devices (nvidia-smi and TensorFlow's);
2. trains one short image run (all-cnns, Fashion-MNIST, batch 128) and one audio
   run (cnn_x3_mlp_0, the generated set, batch 50), the paper's batch sizes, each
   in float32 and in mixed precision (`--precision auto`: bf16 on Ampere and
   later, float16 before), on GPU 0;
3. runs a 4-run image sweep with `--per_gpu 4` on GPU 0 and checks that each of
   its runs ran there;
4. prints each run's throughput (training samples per second over its last
   epoch, validation included), the sweep's in total, and the most GPU memory
   each process held (nvidia-smi, sampled every half second).

Without a GPU it says so in one line and exits 1, measuring nothing; it exits 1
too when a check fails, 0 when all pass. The runs and their logs go to a
temporary folder (--keep FOLDER: that one); the data come from the caches
(downloaded first if need be: docs/data.md).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from helmholtz import REPO
from helmholtz.cli import Parser
from helmholtz.errors import cli_main

SAMPLE_EVERY = 0.5  # seconds between nvidia-smi's memory samples
# What TensorFlow logs (at TF_CPP_MIN_LOG_LEVEL=0) when a process places a device on a GPU.
ON_GPU = "device:GPU:0 with"


def ran_on_gpu(log):
    try:
        return ON_GPU in Path(log).read_text(errors="replace")
    except OSError:
        return False


def parse_args(argv=None):
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2, help="epochs per run (the last one is timed)")
    p.add_argument("--image_subset", type=int, default=20000, help="training images per image run")
    p.add_argument("--clips_per_class", type=int, default=40, help="generated audio clips per class")
    p.add_argument("--keep", metavar="FOLDER",
                   help="folder for the runs and their logs (default: a temporary one)")
    return p.parse_args(argv)


def nvidia_smi(*query):
    """Rows of `nvidia-smi --query-...` as lists of strings, or None without nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return None
    out = subprocess.run(["nvidia-smi", *query, "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, timeout=30)
    if out.returncode:
        return None
    return [[cell.strip() for cell in line.split(",")] for line in out.stdout.splitlines() if line.strip()]


class MemoryWatch:
    """The most GPU memory (MiB) each process held, with its command line, while it ran."""

    def __init__(self):
        self.peak, self.commands, self.stop = {}, {}, threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop.wait(SAMPLE_EVERY):
            for pid, used in nvidia_smi("--query-compute-apps=pid,used_memory") or []:
                if not (pid.isdigit() and used.isdigit()):
                    continue
                self.peak[pid] = max(self.peak.get(pid, 0), int(used))
                if pid not in self.commands:
                    try:  # visible when nvidia-smi sees this machine's process ids (no container)
                        self.commands[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    except OSError:
                        self.commands[pid] = []

    def of(self, *words):
        """Peak MiB of the processes whose command line holds every one of `words`."""
        words = [w.encode() for w in words]
        return [self.peak[pid] for pid, argv in self.commands.items() if all(w in argv for w in words)]

    def close(self):
        self.stop.set()
        self.thread.join()


def run_result(log_dir):
    """(samples per second over the last epoch, precision) of the one run below log_dir."""
    [config] = Path(log_dir).rglob("config.json")
    rows = (config.parent / "history.csv").read_text().splitlines()
    last = dict(zip(rows[0].split(","), rows[-1].split(",")))
    c = json.loads(config.read_text())
    return c["steps_per_epoch"] * c["batch_size"] / float(last["seconds"]), c["precision"]


def call(command, log, env):
    with open(log, "w") as f:
        return subprocess.call(command, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env=env)


def main(argv=None):
    args = parse_args(argv)
    gpus = nvidia_smi("--query-gpu=index,name,memory.total,driver_version")
    from helmholtz.backend import tf
    tf_gpus = tf.config.list_physical_devices("GPU")
    if not gpus or not tf_gpus:
        seen = ", ".join(d.name for d in tf.config.list_physical_devices()) or "none"
        print(f"gpu-check: no GPU here (nvidia-smi: {'none' if not gpus else len(gpus)}; "
              f"TensorFlow's devices: {seen}); nothing measured", file=sys.stderr)
        return 1
    for index, name, memory, driver in gpus:
        print(f"GPU {index}: {name}, {memory} MiB, driver {driver}")
    print(f"TensorFlow {tf.__version__}: {', '.join(d.name for d in tf.config.list_physical_devices())}")

    root = Path(args.keep or tempfile.mkdtemp(prefix="gpu-check-"))
    root.mkdir(parents=True, exist_ok=True)
    # TensorFlow's notes on: the logs then say on which device each run placed its work.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpus[0][0], "TF_CPP_MIN_LOG_LEVEL": "0"}
    py, problems, watch = sys.executable, [], MemoryWatch()
    epochs = ["--num_epoch", str(args.epochs)]
    image = ["cifar/train.py", "--fixed", "--dataset", "fashion-mnist", "--quality", "lossless",
             "--setting", "0", "--batch_size", "128", "--subset", str(args.image_subset),
             "--test_subset", "2000", *epochs]
    audio = ["audio/train.py", "--fixed", "--bitrate", "lossless", "--setting", "0", "--batch_size", "50",
             *epochs]
    print(f"runs and logs in {root}")
    if call([py, "audio/data.py", "--generate", "--clips_per_class", str(args.clips_per_class)],
            root / "generate.log", env):
        problems.append(f"the audio set could not be generated; see {root / 'generate.log'}")
    try:
        print("\none run each, GPU 0, the paper's batch sizes:")
        for half, command in (("image", image), ("audio", audio)):
            for precision in ("float32", "auto"):
                logs = root / f"{half}-{precision}"
                t0 = time.time()
                code = call([py, *command, "--precision", precision, "--log_dir", str(logs)],
                            root / f"{logs.name}.log", env)
                log = root / f"{logs.name}.log"
                if code:
                    problems.append(f"the {half} run in {precision} failed; see {log}")
                    continue
                if not ran_on_gpu(log):
                    problems.append(f"the {half} run in {precision} did not run on the GPU; see {log}")
                rate, used = run_result(logs)
                memory = watch.of(str(logs))
                print(f"  {half:5} {used:15} {rate:8.0f} samples/s  {time.time() - t0:5.0f} s in all  "
                      f"GPU memory {f'{max(memory)} MiB' if memory else 'not visible to nvidia-smi'}")

        print("\na 4-run sweep, --per_gpu 4 on GPU 0:")
        logs = root / "sweep"
        levels = ["1", "5", "25", "lossless"]
        t0 = time.time()
        code = call([py, "scripts/sweep.py", "cifar", "--grid", "full", "--models", "all-cnns",
                     "--levels", *levels, "--gpus", gpus[0][0], "--per_gpu", "4", "--log_dir", str(logs),
                     "--", "--fixed", "--dataset", "fashion-mnist", "--batch_size", "128", "--subset", str(args.image_subset),
                     "--test_subset", "2000", *epochs], root / "sweep.log", env)
        wall = time.time() - t0
        if code:
            problems.append(f"the sweep failed; see {root / 'sweep.log'} and {logs / 'sweep-logs'}")
        total = 0.0
        for level in levels:
            folder = logs / "cifar-fashion-mnist" / "all-cnns" / f"quality_{level}"
            if not (folder / "seed_0" / "result.json").is_file():
                problems.append(f"the sweep's run at quality {level} did not complete")
                continue
            rate, _ = run_result(folder)
            memory = watch.of(str(logs), "--quality", level)
            log = logs / "sweep-logs" / f"cifar-fashion-mnist-all-cnns-quality_{level}-seed_0.log"
            if not ran_on_gpu(log):
                problems.append(f"the sweep's run at quality {level} did not run on GPU 0; see {log}")
            total += rate
            print(f"  quality {level:8} {rate:8.0f} samples/s  GPU memory "
                  f"{f'{max(memory)} MiB' if memory else 'not visible to nvidia-smi'}  "
                  f"{'on GPU 0' if ran_on_gpu(log) else 'NOT on the GPU'}")
        print(f"  together {total:8.0f} samples/s (sum of the runs' last epochs); the sweep took {wall:.0f} s")
    finally:
        watch.close()
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
