"""The installed commands (pyproject.toml [project.scripts]) and the mains of
scripts/collect.py and scripts/report.py.

helmholtz-sweep, -slurm, -collect, -report and -tensorboard run the mains of
the core; helmholtz-demo, -study and -bench run their scripts/ file as
`python scripts/<name>.py` does. Bad input ends each with one line and exit
status 2 (helmholtz.errors.cli_main).
"""
import runpy
import sys
from pathlib import Path

from helmholtz import REPO
from helmholtz.errors import UsageError, cli_main

# Imports inside the mains: each command loads only the libraries it needs.


def collect_main(argv=None):
    """Collect every run folder below a log folder into results.csv and print a summary.

        python scripts/collect.py logs/ [--out results.csv] [--margin 0.02]

    One row per run, with its experiment key (runs are seeds of each other only
    within one experiment) and the metrics recomputed from history.csv, so
    unfinished runs have them too. The printed summary averages complete runs
    over seeds, one table per experiment, with the paired tests of each model on
    the runs' test predictions (the cutoff q* within --margin, noise bits, the
    lowest level's difference; docs/method.md), and lists the runs not averaged
    in; a seed run twice in one experiment, or a run with non-finite numbers,
    gets a warning line on stderr.
    """
    from helmholtz.analysis import paired, verdicts
    from helmholtz.cli import Parser
    from helmholtz.run.outputs import writing
    from helmholtz.report.write import add_test_flags
    from helmholtz.analysis.results import collect, is_results_table, summary_text, write_results
    from helmholtz.report.tidy import long_path, write_long

    parser = Parser(description=collect_main.__doc__.split("\n\n")[0])
    parser.add_argument("root", help="log folder holding the run folders, e.g. logs/")
    parser.add_argument("--out", help="where to write the table (default <root>/results.csv)")
    add_test_flags(parser)
    args = parser.parse_args(argv)
    paired.check_options(args.margin)
    out = Path(args.out or Path(args.root) / "results.csv")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name such as {out / 'results.csv'}")
    # checked before collecting; a results table of an older version is replaced too
    with writing(out.parent, [out.name, long_path(out).name], recognise=is_results_table):
        results, problems, warnings = collect(args.root)
        for line in warnings:
            print(f"warning: {line}", file=sys.stderr)
        write_results(results, out)
        long = write_long(results, long_path(out))  # one row per run and test level
    models, _ = paired.tests_table(results, args.margin, n_boot=args.n_boot)
    print(summary_text(results, problems, warnings, args.root, verdicts.tests_summary(models)))
    print(f"wrote {out} and {long}")


def report_main(argv=None):
    """Write the results report of a log folder: report.md, results.csv, tests.csv and PNG plots.

        python scripts/report.py logs/ --out docs/results/<name> [--margin 0.02] [--metric test] [--tost]

    The report states what was run (so a shortened demo says so) and the
    collection's warnings, then per experiment (runs of other settings are never
    averaged together) the paper's claims and their verdicts on this data, tested
    on the runs' per-example predictions (non-inferiority within --margin, from
    high to low quality; the cutoff q*; the loss at the lowest level;
    convergence; noise bits), the tests by level, the summary over seeds, the
    rate-accuracy tables and curves, confusion matrices and the train x test
    level grid; last the runs not averaged in. docs/method.md states the method.
    """
    from helmholtz.cli import Parser
    from helmholtz.report.write import add_test_flags, write_report

    parser = Parser(description=report_main.__doc__.split("\n\n")[0])
    parser.add_argument("root", help="log folder holding the run folders, e.g. logs/")
    parser.add_argument("--out", required=True, help="report folder, e.g. docs/results/full")
    parser.add_argument("--metric", choices=("paper", "best10", "test"), default="test",
                        help="accuracy of the rate tables and plots: test (the selected "
                             "checkpoint on the test set, as every verdict; default), paper (the "
                             "original's mean of the 10 best val epochs) or best10 (the same, but "
                             "a run under 10 epochs averages all its epochs); the appendix always "
                             "shows what the original printed")
    add_test_flags(parser)
    args = parser.parse_args(argv)
    report = write_report(args.root, args.out, margin=args.margin, metric=f"{args.metric}_accuracy",
                          n_boot=args.n_boot, tost=args.tost)
    print(f"wrote {report}")


def sweep():
    from helmholtz.sweep.grid import main
    return cli_main(main)


def slurm():
    from helmholtz.sweep.slurm import main
    return cli_main(main)


def collect():
    return cli_main(collect_main)


def report():
    return cli_main(report_main)


def tensorboard():
    from helmholtz.report.tensorboard import main
    return cli_main(main)


def _script(name):
    """scripts/<name>.py run as `python scripts/<name>.py` runs it (it exits through cli_main)."""
    runpy.run_path(str(REPO / "scripts" / f"{name}.py"), run_name="__main__")


def demo():
    _script("demo")


def study():
    _script("study")


def bench():
    _script("bench")


def calibrate():
    _script("calibrate")


def plan():
    _script("plan")
