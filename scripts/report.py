"""Write the results report of a log folder: report.md, results.csv and PNG plots.

    python scripts/report.py logs/ --out docs/results/<name> [--eps 0.01] [--metric paper]

The report states what was run (so a shortened demo says so) and the
collection's warnings, then per experiment (runs of other settings are never
averaged together) the summary table, the noise-bits estimate with bootstrap
intervals, the rate-accuracy tables and curves and the train x test level
grid; last the runs not averaged in.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helmholtz.cli import Parser  # noqa: E402
from helmholtz.errors import cli_main  # noqa: E402
from helmholtz.report import write_report  # noqa: E402


def main():
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="log folder holding the run folders, e.g. logs/")
    parser.add_argument("--out", required=True, help="report folder, e.g. docs/results/full")
    parser.add_argument("--eps", type=float, default=0.01,
                        help="accuracy tolerance of the noise-bits estimate (absolute, default 0.01)")
    parser.add_argument("--metric", choices=("paper", "best10", "test"), default="paper",
                        help="accuracy used for noise bits and curves: paper (the original's "
                             "mean of the 10 best val epochs, default), best10 (the same, but a "
                             "run under 10 epochs averages all its epochs) or test (best "
                             "checkpoint on the test set)")
    args = parser.parse_args()
    report = write_report(args.root, args.out, eps=args.eps, metric=f"{args.metric}_accuracy")
    print(f"wrote {report}")


if __name__ == "__main__":
    cli_main(main)
