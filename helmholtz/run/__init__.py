"""One training run: the trainer, its loop, its folder and checkpoints, its metrics and
progress, and the rule for what a command writes outside run folders."""
