"""Sweeps: the grid of runs, run on this machine, on a Ray cluster or as SLURM job arrays."""
