"""Write the results report of a log folder: report.md, results.csv, tests.csv and PNG plots.

    python scripts/report.py logs/ --out docs/results/<name> [--margin 0.02] [--metric paper]

The report states what was run (so a shortened demo says so) and the
collection's warnings, then per experiment (runs of other settings are never
averaged together) the paper's claims and their verdicts on this data, tested
on the runs' per-example predictions (non-inferiority within --margin, from
high to low quality; the cutoff q*; the loss at the lowest level;
convergence; noise bits), the tests by level, the summary over seeds, the
rate-accuracy tables and curves, confusion matrices and the train x test
level grid; last the runs not averaged in. docs/method.md states the method.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helmholtz.cli import Parser  # noqa: E402
from helmholtz.errors import cli_main  # noqa: E402
from helmholtz.report import add_test_flags, write_report  # noqa: E402


def main():
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="log folder holding the run folders, e.g. logs/")
    parser.add_argument("--out", required=True, help="report folder, e.g. docs/results/full")
    parser.add_argument("--metric", choices=("paper", "best10", "test"), default="paper",
                        help="accuracy of the summary, curves and plots: paper (the original's "
                             "mean of the 10 best val epochs, default), best10 (the same, but a "
                             "run under 10 epochs averages all its epochs) or test (best "
                             "checkpoint on the test set); the claims are always tested on the "
                             "best checkpoint's test predictions")
    add_test_flags(parser)
    args = parser.parse_args()
    report = write_report(args.root, args.out, margin=args.margin, metric=f"{args.metric}_accuracy",
                          n_boot=args.n_boot)
    print(f"wrote {report}")


if __name__ == "__main__":
    cli_main(main)
