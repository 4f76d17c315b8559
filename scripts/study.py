"""The reference study: every run behind docs/results/study/report.md (`make study`).

The study is a list of commands run in order: data steps, sweeps
(scripts/sweep.py, each fanning out calls of a domain's train.py) and the
report. It knows nothing of training itself. Its parts, alone or together:

  image     all-cnns on Fashion-MNIST at JPEG quality 1, 5, 10, 25 and lossless
  audio     the generated effects set; cnn_x3_mlp_0 at MP3 8, 16, 32, 64 kbps and
            lossless; the logistic-regression baseline at each level
  controls  the five other models of each domain at lossless and one low level
  bf16      all-cnns at lossless and the lowest level in mixed_bfloat16, to set
            beside the same runs in float32
  all       the four, in this order

Every run: the --fixed protocol (validation held out, the test set used
once), float32 except in bf16, the same seeds at every level, and a test at
every level of its domain (the train x test level grid, whose lossless row
is the "train clean, test compressed" control). After each part's data, its
example images or spectrograms at several levels are drawn from the caches
into the report folder (examples_*.png). Runs go to
docs/results/study/runs (bf16 ones to runs/bf16: a run folder does not name
its precision), the report, regenerated from those records at the end of
every invocation, to docs/results/study. Complete runs are skipped, so the
same command resumes. docs/study.md gives the design and why these sizes.

    python scripts/study.py --dry_run           # every run, which are complete, the time left
    python scripts/study.py --part image audio --jobs 2
"""
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import audio
import cifar
from helmholtz import REPO
from helmholtz.cli import Parser, folder_problem, positive_float, positive_int, seed_value
from helmholtz.errors import UsageError, cli_main
from helmholtz.run.layout import find_runs
from helmholtz.sweep import grid

STUDY = REPO / "docs" / "results" / "study"
PARTS = ("image", "audio", "controls", "bf16")

# ---------------------------------------------------------------- the design (docs/study.md)
SEEDS = (0, 1, 2)
# Levels trained at: the first model's level sweep. Every run is tested at every level
# of TEST_LEVELS (a forward pass each: cheap), so the train x test grid is finer than this.
LEVELS = {"cifar": ("1", "5", "10", "25", "lossless"),
          "audio": ("8", "16", "32", "64", "lossless")}
TEST_LEVELS = {"cifar": ("1", "5", "10", "15", "20", "25", "50", "75", "100", "lossless"),
               "audio": ("8", "16", "32", "64", "96", "128", "lossless")}
CONTROL_LEVELS = {"cifar": ("10", "lossless"), "audio": ("32", "lossless")}  # the other five models
# The example figures' columns: six of the levels tested (the caches of the data steps)
EXAMPLE_LEVELS = {"cifar": ("1", "5", "10", "25", "100", "lossless"),
                  "audio": ("8", "16", "32", "64", "128", "lossless")}
# bf16 beside float32 for the image model only: its speed-up is 1.7x, the audio model's 1.4x
BF16_LEVELS = {"cifar": ("1", "lossless")}  # lowest and reference
MODELS = {"cifar": cifar.MODELS, "audio": audio.MODELS}  # the paper's first model leads
IMAGE_DATASET = "fashion-mnist"

# ---------------------------------------------------------------- sizes: 4 hours on 2 CPU cores
SIZES = dict(
    image_subset=8000,         # training images (10% of them held out for validation by --fixed)
    image_epochs=14,           # all-cnns: 81.4% test after 14 (measured); 82.3% val after 12
    image_batch_size=32,       # the paper's 128 takes 4x fewer SGD steps per image
    image_learning_rate=0.01,  # the paper's; 0.03 at batch 32 fell to chance (measured)
    image_test=2000,           # validation images, and test images at each level
    audio_clips_per_class=150,  # generated dry notes, each through all 12 effects
    audio_epochs=32,           # cnn_x3_mlp_0: 81.7% test after 30 (measured); batch 50, Adadelta
    control_image_epochs=2,    # the other five models: above chance (all-cnns 63%), not at the bar
    control_audio_epochs=8,
)
# Speeds the estimate assumes: float32, each run on one thread, --jobs runs at once
# (docs/study.md says where from).
SPEED = dict(
    images_per_s=200,      # all-cnns training at batch 32 (the other models cost 0.93-1.10x)
    clips_per_s=90,        # cnn_x3_mlp_0 training at batch 50 (the others about the same)
    eval_factor=3,         # a forward pass alone is about a third of a training step
    bf16={"cifar": 1.7, "audio": 1.4},  # mixed_bfloat16 speed-up, docs/performance.md
    # one run's fixed costs: start, data, model, the end of training and the final tests
    run_overhead_s={"cifar": 15, "audio": 40},
    encode_images_per_s=25_000,  # Fashion-MNIST through JPEG (both splits, one level)
    generate_clips_per_s=80,     # audio/generate.py, one core
    encode_clips_per_s=100,      # MP3 and mel features, two cores (docs/performance.md)
    baseline_s=15,         # audio/baseline.py at one level
    figure_s=10,           # an examples.py figure
    report_s=120,
)


@dataclass(eq=False)
class Step:
    part: str
    title: str
    command: list
    kind: str               # "data", "sweep", "baseline" or "figure"
    seconds: float          # estimated: per run of a sweep, else for the whole step
    output: Path = None     # the file the step writes when it succeeds; done once it exists


def sweep_command(domain, models, levels, log_dir, args, train_args):
    # The full grid narrowed by --models and --levels is exactly models x levels.
    return [sys.executable, "scripts/sweep.py", domain, "--grid", "full", "--models", *models,
            "--levels", *levels,
            "--seeds", *map(str, args.seeds), "--log_dir", str(log_dir), "--jobs", str(args.jobs),
            *(["--per_gpu", str(args.per_gpu)] if args.per_gpu else []), "--", *train_args]


def audio_split(clips_per_class):
    """(fit, validation, test) clips: per class int(0.8 n) train (audio/sources.py), of which
    --fixed holds 25% out for validation."""
    train = len(audio.CLASSES) * int(0.8 * clips_per_class)
    val = train // 4
    return train - val, val, len(audio.CLASSES) * clips_per_class - train


def epochs_of(domain, args, control=False):
    if domain == "cifar":
        return args.control_image_epochs if control else args.image_epochs
    return args.control_audio_epochs if control else args.audio_epochs


def run_seconds(domain, precision, epochs, args):
    """Estimated wall time of one run (one thread; --jobs of them at once): training,
    validation every epoch, the final tests at every level, and the run's fixed costs."""
    if domain == "cifar":
        rate = args.images_per_s
        fit, val, test = args.image_subset, min(args.image_test, 6_000), min(args.image_test, 10_000)
    else:
        rate = args.clips_per_s
        fit, val, test = audio_split(args.audio_clips_per_class)
    examples = fit * epochs + (val * epochs + test * len(TEST_LEVELS[domain])) / SPEED["eval_factor"]
    speedup = SPEED["bf16"][domain] if precision == "mixed_bfloat16" else 1
    return examples / rate / speedup + SPEED["run_overhead_s"][domain]


def train_args(domain, precision, epochs, args):
    """The flags every run of a domain gets, after the sweep's --."""
    cache = ["--cache_dir", str(args.cache_dir), "--precision", precision, "--fixed"]
    if domain == "cifar":
        return ["--dataset", IMAGE_DATASET, "--subset", str(args.image_subset),
                "--num_epoch", str(epochs), "--batch_size", str(args.image_batch_size),
                "--learning_rate", str(args.image_learning_rate),
                "--test_subset", str(args.image_test), *cache, "--test_quality", *TEST_LEVELS[domain]]
    return ["--num_epoch", str(epochs), *cache, "--test_bitrate", *TEST_LEVELS[domain]]


def data_step(part, domain, args):
    if domain == "cifar":
        n = 70_000 * len(TEST_LEVELS[domain])
        return Step(part, "Fashion-MNIST through JPEG at every level (cached)",
                    [sys.executable, "cifar/data.py", "--dataset", IMAGE_DATASET, "--fixed",
                     "--quality", *TEST_LEVELS[domain], "--cache_dir", str(args.cache_dir)],
                    "data", n / SPEED["encode_images_per_s"])
    clips = len(audio.CLASSES) * args.audio_clips_per_class
    return Step(part, f"the generated effects set, {args.audio_clips_per_class} notes per class, "
                      "through MP3 at every level (cached)",
                [sys.executable, "audio/data.py", "--generate", "--clips_per_class",
                 str(args.audio_clips_per_class), "--cache_dir", str(args.cache_dir),
                 "--bitrate", *TEST_LEVELS[domain]],
                "data", clips / SPEED["generate_clips_per_s"]
                + clips * len(TEST_LEVELS[domain]) / SPEED["encode_clips_per_s"])


def figure_step(part, domain, args):
    """Example images or spectrograms at several levels, from the data step's caches."""
    output = Path(args.out) / f"examples_{domain}.png"
    if domain == "cifar":
        command = [sys.executable, "cifar/examples.py", "--dataset", IMAGE_DATASET, "--fixed",
                   "--quality", *EXAMPLE_LEVELS[domain]]
    else:
        command = [sys.executable, "audio/examples.py", "--bitrate", *EXAMPLE_LEVELS[domain]]
    return Step(part, f"example {'images' if domain == 'cifar' else 'spectrograms'} at "
                      f"{', '.join(EXAMPLE_LEVELS[domain])}",
                [*command, "--cache_dir", str(args.cache_dir), "--out", str(output)],
                "figure", SPEED["figure_s"], output)


def sweep_step(part, title, domain, models, levels, args, precision="float32", log_dir=None,
               control=False):
    epochs = epochs_of(domain, args, control)
    command = sweep_command(domain, models, levels, log_dir or args.log_dir, args,
                            train_args(domain, precision, epochs, args))
    # the sweep runs --jobs at once: each run's share of the wall time
    return Step(part, title, command, "sweep",
                run_seconds(domain, precision, epochs, args) / args.jobs)


def part_steps(part, args):
    """The steps of one part, in order."""
    first = {domain: MODELS[domain][:1] for domain in MODELS}
    others = {domain: MODELS[domain][1:] for domain in MODELS}
    if part == "image":
        return [data_step(part, "cifar", args), figure_step(part, "cifar", args),
                sweep_step(part, "all-cnns on Fashion-MNIST at every JPEG level", "cifar",
                           first["cifar"], LEVELS["cifar"], args)]
    if part == "audio":
        baselines = []
        for level in LEVELS["audio"]:
            output = Path(args.out) / "baseline" / f"bitrate_{level}.json"
            baselines.append(Step(part, f"logistic-regression baseline at {level}",
                                  [sys.executable, "audio/baseline.py", "--bitrate", level,
                                   "--cache_dir", str(args.cache_dir), "--json", str(output)],
                                  "baseline", SPEED["baseline_s"], output))
        return [data_step(part, "audio", args), figure_step(part, "audio", args),
                sweep_step(part, "cnn_x3_mlp_0 on the generated set at every MP3 level", "audio",
                           first["audio"], LEVELS["audio"], args), *baselines]
    if part == "controls":
        return [data_step(part, "cifar", args), data_step(part, "audio", args),
                *(sweep_step(part, f"the five other {domain} models at "
                                   f"{' and '.join(CONTROL_LEVELS[domain])}",
                             domain, others[domain], CONTROL_LEVELS[domain], args, control=True)
                  for domain in MODELS)]
    return [*(data_step(part, domain, args) for domain in BF16_LEVELS),
            *(sweep_step(part, f"{first[domain][0]} in mixed_bfloat16 at "
                               f"{' and '.join(BF16_LEVELS[domain])}",
                         domain, first[domain], BF16_LEVELS[domain], args, "mixed_bfloat16",
                         Path(args.log_dir) / "bf16")
              for domain in BF16_LEVELS)]


# ---------------------------------------------------------------- what is left

def sweep_runs(step):
    """(runs to do, complete runs) of a sweep step, as the sweep itself plans and judges
    them; its pass-through flags are parsed by train.py's parser, as the sweep does."""
    args, passed = grid.parse_args(step.command[2:])
    runs = grid.plan(args.domain, args.grid, args.seeds, args.levels, args.models, args.log_dir,
                      passed, args.python, args.trainer)
    grid.check_pass_through(args.domain, runs[0])
    return grid.split_complete(runs, passed)


def assess(steps):
    """{step: (estimated seconds left, runs to do, runs complete)}; a part's data steps
    count only while some of its runs or baselines are still to do."""
    status = {}
    for step in steps:
        if step.kind == "sweep":
            todo, done = sweep_runs(step)
            status[step] = (len(todo) * step.seconds, len(todo), len(done))
        elif step.output is not None:  # a baseline or a figure
            status[step] = (0 if step.output.exists() else step.seconds, 0, 0)
    pending = any(left for left, _, _ in status.values())
    for step in steps:
        if step.kind == "data":
            status[step] = (step.seconds if pending else 0, 0, 0)
    return status


def hours(seconds):
    h, minutes = divmod(round(seconds / 60), 60)
    return f"{h} h {minutes:02d} min"


def summary(plan):
    """Lines with each part's runs, how many are complete and the estimated time left."""
    lines, total_left, total_all = [], SPEED["report_s"], SPEED["report_s"]
    prepared = set()  # a data step that several parts share runs once
    for part, steps in plan.items():
        steps = [s for s in steps if s.kind != "data" or tuple(s.command) not in prepared]
        prepared.update(tuple(s.command) for s in steps if s.kind == "data")
        status = assess(steps)
        left = sum(v[0] for v in status.values())
        todo, done = sum(v[1] for v in status.values()), sum(v[2] for v in status.values())
        every = sum(s.seconds * (status[s][1] + status[s][2]) if s.kind == "sweep" else s.seconds
                    for s in steps)
        total_left, total_all = total_left + left, total_all + every
        lines.append(f"  {part:<9}{todo + done:>4} runs, {done:>3} complete, "
                     f"{hours(left)} left of {hours(every)}")
    lines.append(f"  {'report':<36}{hours(SPEED['report_s'])}")
    lines.append(f"estimated wall time left: {hours(total_left)} (the whole study: {hours(total_all)})")
    return lines, total_left


# ---------------------------------------------------------------- running

def call(command):
    """Run a command from the repository root; SIGINT and SIGTERM reach it too (a sweep
    passes them on to its runs and exits 130). Returns its exit status."""
    child = subprocess.Popen(command, cwd=REPO)
    forward = lambda signum, frame: child.send_signal(signum)  # noqa: E731
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return child.returncode


def run_step(step):
    print(f"\n== {step.part}: {step.title}\n$ {shlex.join(step.command)}", flush=True)
    t0 = time.time()
    code = call(step.command)  # a step with an output writes it itself, only when it succeeds
    print(f"== {step.title}: {time.time() - t0:.0f} s" + (f", exit {code}" if code else ""),
          flush=True)
    return code


def dry_run(plan):
    for part, steps in plan.items():
        for step in steps:
            print(f"\n== {part}: {step.title}\n$ {shlex.join(step.command)}")
            if step.kind == "sweep":
                argv = step.command[2:]
                cut = argv.index("--")
                grid.main([*argv[:cut], "--dry_run", *argv[cut:]])  # the sweep's own listing
            elif step.output is not None and step.output.exists():
                print(f"complete: {step.output}")
    sys.stdout.flush()


def run(plan, args):
    failed, prepared = [], set()
    for part, steps in plan.items():
        status = assess(steps)
        for step in steps:
            if not status[step][0] or (step.kind == "data" and tuple(step.command) in prepared):
                continue
            code = run_step(step)
            if code in (130, -signal.SIGINT, -signal.SIGTERM):
                print("study stopped; run the same command again to resume", file=sys.stderr)
                return 130
            if code:
                failed.append(f"{part}: {step.title} (exit {code})")
                if step.kind == "data":  # the part's runs need its data
                    break
            elif step.kind == "data":
                prepared.add(tuple(step.command))
    if find_runs(args.log_dir):
        report = [sys.executable, "scripts/report.py", str(args.log_dir), "--out", str(args.out)]
        if run_step(Step("report", "the report, from the run records", report, "report", 0)):
            failed.append("the report")
    print(f"\nstudy finished; report: {Path(args.out) / 'report.md'}")
    for line in failed:
        print(f"FAILED {line}; the sweep's failures are listed above with their logs "
              f"({Path(args.log_dir) / grid.LOG_FOLDER})", file=sys.stderr)
    return 1 if failed else 0


# ---------------------------------------------------------------- command line

def parse_args(argv=None):
    p = Parser(prog="study.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--part", nargs="+", choices=(*PARTS, "all"), default=["all"],
                   help="parts to run, in the study's order (default all)")
    p.add_argument("--dry_run", action="store_true",
                   help="list every run, which are complete, and the estimated time; run nothing")
    p.add_argument("--jobs", type=positive_int, default=2,
                   help="runs at once without a GPU, one thread each (default 2; docs/study.md)")
    p.add_argument("--per_gpu", type=positive_int, help="runs at once on each GPU (default 1)")
    p.add_argument("--seeds", type=seed_value, nargs="+", default=list(SEEDS),
                   help="seeds, the same at every level (default 0 1 2)")
    p.add_argument("--log_dir", default=str(STUDY / "runs"), help="root of the run folders")
    p.add_argument("--out", default=str(STUDY), help="report folder")
    p.add_argument("--cache_dir", default=str(REPO / "data" / "study"),
                   help="the study's data caches and its generated audio set")
    sizes = p.add_argument_group("sizes (docs/study.md: 4 hours on 2 CPU cores)")
    for name, value in SIZES.items():
        kind = positive_float if isinstance(value, float) else positive_int
        sizes.add_argument(f"--{name}", type=kind, default=value, help=f"default {value}")
    speed = p.add_argument_group("speeds the time estimate assumes (float32, one job)")
    for name in ("images_per_s", "clips_per_s"):
        speed.add_argument(f"--{name}", type=positive_float, default=SPEED[name],
                           help=f"training speed, default {SPEED[name]}")
    args = p.parse_args(argv)
    problem = folder_problem(args.out, writable=True)
    if problem:
        raise UsageError(f"--out {args.out}: {problem}; choose another folder")
    from helmholtz.report.write import check_report_folder
    check_report_folder(args.out)  # now, not after hours of runs
    args.log_dir, args.cache_dir = Path(args.log_dir).absolute(), Path(args.cache_dir).absolute()
    return args


def main(argv=None):
    args = parse_args(argv)
    parts = PARTS if "all" in args.part else [p for p in PARTS if p in args.part]
    plan = {part: part_steps(part, args) for part in parts}
    lines, _ = summary(plan)  # also checks every sweep's flags before anything runs
    if args.dry_run:
        dry_run(plan)
        print("\nstudy:\n" + "\n".join(lines)
              + f"\n(at {args.images_per_s:g} images/s and {args.clips_per_s:g} clips/s; "
                "docs/study.md)")
        return 0
    print("study:\n" + "\n".join(lines), flush=True)
    return run(plan, args)


if __name__ == "__main__":
    sys.exit(cli_main(main))
