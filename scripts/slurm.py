"""Write a SLURM job array of the runs of a sweep that are not complete; see
helmholtz/sweep/slurm.py and docs/clusters.md.

    python scripts/slurm.py cifar --seeds 0 1 2 --partition gpu --time 12:00:00 -- --num_epoch 200
    python scripts/slurm.py audio --grid full --gpus_per_run 1 -- --data data/audio/IDMT-SMT-AUDIO-EFFECTS
"""
import sys

from helmholtz.errors import cli_main
from helmholtz.sweep.slurm import main

if __name__ == "__main__":
    sys.exit(cli_main(main))
