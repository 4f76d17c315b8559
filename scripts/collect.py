"""Collect every run folder below a log folder into results.csv and print a summary.

    python scripts/collect.py logs/ [--out results.csv]

One row per run (metrics recomputed from history.csv, so unfinished runs have
them too); the printed summary averages complete runs over seeds and lists
incomplete runs and unreadable folders separately.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helmholtz.cli import Parser  # noqa: E402
from helmholtz.errors import cli_main  # noqa: E402
from helmholtz.report import collect, summary_text, write_results  # noqa: E402


def main():
    parser = Parser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="log folder holding the run folders, e.g. logs/")
    parser.add_argument("--out", help="where to write the table (default <root>/results.csv)")
    args = parser.parse_args()
    results, problems = collect(args.root)
    out = write_results(results, args.out or Path(args.root) / "results.csv")
    print(summary_text(results, problems, args.root))
    print(f"wrote {out}")


if __name__ == "__main__":
    cli_main(main)
