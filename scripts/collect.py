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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helmholtz import analysis, verdicts  # noqa: E402
from helmholtz.cli import Parser  # noqa: E402
from helmholtz.errors import UsageError, cli_main  # noqa: E402
from helmholtz.report import add_test_flags  # noqa: E402
from helmholtz.results import collect, summary_text, write_results  # noqa: E402


def main():
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="log folder holding the run folders, e.g. logs/")
    parser.add_argument("--out", help="where to write the table (default <root>/results.csv)")
    add_test_flags(parser)
    args = parser.parse_args()
    analysis.check_options(args.margin)
    out = Path(args.out or Path(args.root) / "results.csv")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name such as {out / 'results.csv'}")
    results, problems, warnings = collect(args.root)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    write_results(results, out)
    models, _ = analysis.tests_table(results, args.margin, n_boot=args.n_boot)
    print(summary_text(results, problems, warnings, args.root, verdicts.tests_summary(models)))
    print(f"wrote {out}")


if __name__ == "__main__":
    cli_main(main)
