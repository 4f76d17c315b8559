"""From run folders to numbers: the results table, paired statistics, contrasts,
grids, verdicts, and the calibration and planning of the statistics."""
