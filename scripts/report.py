"""Write the results report of a log folder: report.md, results.csv, tests.csv and PNG plots.

    python scripts/report.py logs/ --out docs/results/<name> [--margin 0.02] [--metric test] [--tost]

The installed command `helmholtz-report` is the same; helmholtz/commands.py
holds its main and describes it.
"""
from helmholtz.commands import report

if __name__ == "__main__":
    report()
