"""The study in miniature, on data that needs no download: `make demo`.

1. the paper grid of the image half (all-cnns at the nine JPEG qualities plus
   lossless, the five other models at quality 25) on Fashion-MNIST;
2. the paper grid of the audio half (the default model at every bitrate plus
   lossless, the five others at 32 kbps) on the built-in generated effects set;
3. the report: tables, plots and the noise-bits estimate.

Runs are shortened (a training subset, a few epochs) so the whole demo takes
about a quarter of an hour on two CPU cores; the report says so. Stopped
halfway, the same command finishes only what is missing.

Everything goes under demo/ (not tracked): the runs to demo/runs, apart from
the logs/ folder that users collect, and the report to demo/report.
"""
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helmholtz import REPO
from helmholtz.cli import Parser
from helmholtz.errors import UsageError, cli_main

DEMO_ROOT = REPO / "demo"  # untracked, and outside logs/: collecting logs/ never meets demo runs

def parse_args(argv=None):
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--log_dir", default=str(DEMO_ROOT / "runs"), help="root of the demo's run folders")
    p.add_argument("--out", default=str(DEMO_ROOT / "report"),
                   help="report folder (default demo/report)")
    p.add_argument("--seeds", nargs="+", default=["0"])
    p.add_argument("--jobs", default="2", help="runs at once (each gets a share of the cores)")
    p.add_argument("--cifar_subset", default="3000")
    p.add_argument("--cifar_epochs", default="3")
    # The paper's batch of 128 barely leaves chance level in three short epochs;
    # smaller batches give the demo enough SGD steps to show the trend.
    p.add_argument("--cifar_batch_size", default="32")
    p.add_argument("--audio_clips_per_class", default="60")
    p.add_argument("--audio_epochs", default="6")
    p.add_argument("--test_subset", default="500")
    return p.parse_args(argv)


def step(title, command):
    print(f"\n== {title}\n$ {' '.join(command)}", flush=True)
    t0 = time.time()
    code = subprocess.call(command, cwd=REPO)
    print(f"== {title}: {time.time() - t0:.0f} s", flush=True)
    return code


def main(argv=None):
    args = parse_args(argv)
    py, t0 = sys.executable, time.time()
    sweep = [py, "scripts/sweep.py"]
    failed = []
    if step("generate the audio effects set", [py, "audio/data.py", "--generate",
                                               "--clips_per_class", args.audio_clips_per_class]):
        raise UsageError("could not generate the audio set (see above); "
                         "install fluid-soundfont-gm and tinysoundfont (make setup)")
    grids = {
        "image half: Fashion-MNIST under JPEG": [
            *sweep, "cifar", "--grid", "paper", "--levels", "1", "5", "10", "15", "20", "25",
            "50", "75", "100", "lossless", "--seeds", *args.seeds, "--log_dir", args.log_dir, "--jobs", args.jobs, "--",
            "--dataset", "fashion-mnist", "--subset", args.cifar_subset,
            "--batch_size", args.cifar_batch_size, "--test_quality", "1", "10", "25", "100", "lossless",
            "--num_epoch", args.cifar_epochs, "--test_subset", args.test_subset],
        "audio half: generated effects set under MP3": [
            *sweep, "audio", "--grid", "paper", "--levels", "8", "16", "32", "64", "96", "128",
            "lossless", "--seeds", *args.seeds, "--log_dir", args.log_dir, "--jobs", args.jobs,
            "--", "--num_epoch", args.audio_epochs, "--test_subset", args.test_subset,
            "--test_bitrate", "8", "32", "128", "lossless"],
    }
    for title, command in grids.items():
        if step(title, command):
            failed.append(title)
    # Three-epoch runs have no "10 best epochs": the report's accuracy is the best checkpoint's.
    step("report", [py, "scripts/report.py", args.log_dir, "--out", args.out, "--metric", "test"])
    print(f"\ndemo finished in {(time.time() - t0) / 60:.1f} min; report: {Path(args.out) / 'report.md'}")
    if failed:
        print(f"some runs failed in: {'; '.join(failed)} (their logs are under "
              f"{args.log_dir}/sweep-logs)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
