"""The original study's two per-run metrics, computed from per-epoch val accuracy.

Both rules are our reading of the original's result collection; docs/method.md
says why, and how runs shorter than 10 epochs are handled.
"""
import math

WINDOW = 10  # epochs: the 10 best (accuracy) and the 10-epoch window (convergence)


def paper_accuracy(val_acc: list[float]) -> float:
    """Accuracy of a run: the mean of its 10 best per-epoch validation accuracies.

    A run with fewer than 10 epochs averages all of them; an empty one is nan.
    """
    if len(val_acc) == 0:
        return math.nan
    best = sorted((float(a) for a in val_acc), reverse=True)[:WINDOW]
    return sum(best) / len(best)


def convergence_epoch(val_acc: list[float]) -> int | None:
    """First epoch i (1-based) whose 10-epoch mean exceeds 0.99 x the run's best.

    The window is epochs i..i+9, and only full windows count, so the last
    candidate is epoch n-9. A run shorter than 10 epochs has one window, the
    whole run (i = 1). None when no window qualifies (the run never converged)
    or the history is empty.
    """
    acc = [float(a) for a in val_acc]
    if not acc:
        return None
    target = 0.99 * max(acc)
    width = min(WINDOW, len(acc))
    for start in range(len(acc) - width + 1):
        if sum(acc[start:start + width]) / width > target:
            return start + 1
    return None
