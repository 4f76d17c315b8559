"""Run a grid of trainings of one domain; see helmholtz/sweep.py and docs/sweeps.md.

    python scripts/sweep.py cifar --grid paper --seeds 0 1 2 -- --num_epoch 200
    python scripts/sweep.py audio --grid full --per_gpu 2 --dry_run
"""
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helmholtz.errors import cli_main  # noqa: E402
from helmholtz.sweep import main  # noqa: E402

if __name__ == "__main__":
    # A scheduler's SIGTERM stops the runs in flight like Ctrl-C does, instead of orphaning them.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(cli_main(main))
