"""A stand-in for cifar/train.py and audio/train.py in the sweep tests.

Same flags (others are accepted and ignored), same run folder and files
(config.json, history.csv, result.json last), and like train.py it holds the
run folder's lock while it runs and exits 2 when another process holds it; no
training: it runs in a fraction of a second. Test hooks: `--fail LEVEL:SEED`
makes that run exit 1, `--sleep S` makes each run last S seconds; every call
is appended to <log_dir>/stand_in_calls.txt, every SIGINT or SIGTERM it gets
to <log_dir>/stand_in_signals.txt, and config.json/result.json record the
CUDA_VISIBLE_DEVICES and thread count the run saw, its pid and process group,
and when it ran.
"""
import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from filelock import Timeout

import audio
import cifar
from helmholtz.run import layout
from helmholtz.run.layout import CONFIG, HISTORY, HISTORY_COLUMNS, RESULT, is_complete, run_dir

p = argparse.ArgumentParser()
level_flag = p.add_mutually_exclusive_group(required=True)
level_flag.add_argument("--quality")
level_flag.add_argument("--bitrate")
p.add_argument("--setting", type=int, default=0)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--log_dir", required=True)
p.add_argument("--dataset")
p.add_argument("--num_epoch", type=int, default=200)
p.add_argument("--force", action="store_true")
p.add_argument("--fail", action="append", default=[], help="LEVEL:SEED of a run that fails")
p.add_argument("--sleep", type=float, default=0.0)
args, _ = p.parse_known_args()

domain = cifar if args.quality is not None else audio
level = args.quality if args.quality is not None else args.bitrate
dataset = args.dataset or domain.DEFAULT_DATASET
folder = run_dir(args.log_dir, domain.DOMAIN, dataset, domain.DEFAULT_DATASET,
                 domain.MODELS[args.setting], domain.LEVEL_NAME, level, args.seed)
with open(Path(args.log_dir) / "stand_in_calls.txt", "a") as f:
    f.write(f"{domain.DOMAIN} {args.setting} {level} {args.seed}\n")
if is_complete(folder) and not args.force:
    print(f"complete: {folder}")
    sys.exit(0)


def record_signal(signum, frame):
    with open(Path(args.log_dir) / "stand_in_signals.txt", "a") as f:
        f.write(f"{signal.Signals(signum).name} {os.getpid()}\n")
    sys.exit(128 + signum)


for handled in (signal.SIGINT, signal.SIGTERM):
    if signal.getsignal(handled) is not signal.SIG_IGN:  # an ignored one stays ignored
        signal.signal(handled, record_signal)

folder.mkdir(parents=True, exist_ok=True)
lock = layout.run_lock(folder)
try:
    lock.acquire()
except Timeout:
    print(f"error: {folder} is being trained by {layout.lock_holder(folder)}", file=sys.stderr)
    sys.exit(2)

start = time.time()
seen = {"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "threads": os.environ.get("TF_NUM_INTRAOP_THREADS"),
        "memory_growth": os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH")}
(folder / CONFIG).write_text(json.dumps({"argv": sys.argv[1:], "pid": os.getpid(),
                                         "pgid": os.getpgid(0), **seen}))
(folder / HISTORY).write_text(",".join(HISTORY_COLUMNS) + "\n1,2.3,0.1,2.3,0.1,0.01,0.1\n")
print("epoch 1/1 - loss 2.3 - val_accuracy 0.1", flush=True)
time.sleep(args.sleep)
if f"{level}:{args.seed}" in args.fail:
    print(f"stand-in: failing {level}:{args.seed} as told")
    sys.exit(1)
tmp = folder / (RESULT + ".tmp")
tmp.write_text(json.dumps({"epochs": args.num_epoch, "start": start, "end": time.time(), **seen}))
os.replace(tmp, folder / RESULT)
