"""Run a grid of trainings of one domain; see helmholtz/sweep/grid.py and docs/sweeps.md.

    python scripts/sweep.py cifar --grid paper --seeds 0 1 2 -- --num_epoch 200
    python scripts/sweep.py audio --grid full --per_gpu 2 --dry_run

The installed command `helmholtz-sweep` is the same.
"""
import sys

from helmholtz.commands import sweep

if __name__ == "__main__":
    sys.exit(sweep())
