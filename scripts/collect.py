"""Collect every run folder below a log folder into results.csv and print a summary.

    python scripts/collect.py logs/ [--out results.csv] [--margin 0.02]

The installed command `helmholtz-collect` is the same; helmholtz/commands.py
holds its main and describes it.
"""
from helmholtz.commands import collect

if __name__ == "__main__":
    collect()
