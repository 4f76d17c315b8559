"""Run a grid of trainings of one domain; see helmholtz/sweep.py and docs/sweeps.md.

    python scripts/sweep.py cifar --grid paper --seeds 0 1 2 -- --num_epoch 200
    python scripts/sweep.py audio --grid full --per_gpu 2 --dry_run
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helmholtz.errors import cli_main  # noqa: E402
from helmholtz.sweep import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(cli_main(main))
