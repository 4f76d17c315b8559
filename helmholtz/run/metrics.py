"""Per-run metrics, functions of the per-epoch validation accuracy in history.csv.

The paper's figures, exactly as the original's collectors computed them
(original audio/logs/collect.py and collect_epoch.py; the CIFAR half wrote the
same history.csv, `pandas.DataFrame(history).to_csv`, and had no collector):

- `paper_accuracy`: collect.py's mean of the 10 best epochs, header quirk included;
- `paper_convergence_index0`: collect_epoch.py's 0-based convergence index.

Beside them, the project's variants, which read the same rule sensibly for
any length of run: `best10_accuracy` and `convergence_epoch` (1-based).
docs/method.md compares the conventions.
"""
import math

WINDOW = 10       # epochs: the 10 best (accuracy) and the 10-epoch window (convergence)
THRESHOLD = 0.99  # a window converges when its mean exceeds this fraction of the best


def paper_accuracy(val_acc: list[float]) -> float:
    """The accuracy collect.py printed: the mean of the 10 best validation accuracies.

    The original ran `awk -F"," '{print $4}' | sort | tail -n 11 | head -n 10`
    on history.csv and averaged what came out. The header's "val_acc" sorts
    after every number, and `head -n 10` drops it only when it is the 11th
    line: with 10 or more epochs the figure is the mean of the 10 best; with
    n < 10 the header is averaged in as a zero, giving sum / (n + 1).
    Summed in ascending order, as awk did. nan for an empty history.
    """
    acc = sorted(float(a) for a in val_acc)
    if not acc:
        return math.nan
    best = acc[-WINDOW:]
    return sum(best) / (WINDOW if len(acc) >= WINDOW else len(acc) + 1)  # quirk: header counted


def paper_convergence_index0(val_acc: list[float]) -> int | None:
    """The convergence epoch collect_epoch.py printed: the first 0-based index i with
    sum(acc[i:i+10]) / 10 > 0.99 x the best, as it wrote it.

    Windows near the end hold fewer than 10 epochs but are still divided by
    10, so they never qualify; a run shorter than 10 epochs never converges.
    None when no index qualifies (the original printed nothing).
    """
    acc = [float(a) for a in val_acc]
    if not acc:
        return None
    best = max(acc)
    for i in range(len(acc)):
        if sum(acc[i:i + WINDOW]) / float(WINDOW) > THRESHOLD * best:
            return i
    return None


def best10_accuracy(val_acc: list[float]) -> float:
    """The project's variant of the paper accuracy: the mean of the (up to) 10 best
    epochs, so a run shorter than 10 epochs averages all of them. Equals
    `paper_accuracy` for 10 epochs or more; nan for an empty history."""
    acc = sorted(float(a) for a in val_acc)
    if not acc:
        return math.nan
    best = acc[-WINDOW:]
    return sum(best) / len(best)


def convergence_epoch(val_acc: list[float]) -> int | None:
    """The project's variant: the first epoch i, counted from 1, whose 10-epoch mean
    (epochs i..i+9) exceeds 0.99 x the run's best.

    Only full windows count, so the last candidate is epoch n-9; a run shorter
    than 10 epochs has one window, the whole run (i = 1). For 10 epochs or more
    this is `paper_convergence_index0` + 1. None when no window qualifies or
    the history is empty.
    """
    acc = [float(a) for a in val_acc]
    if not acc:
        return None
    target = THRESHOLD * max(acc)
    width = min(WINDOW, len(acc))
    for start in range(len(acc) - width + 1):
        if sum(acc[start:start + width]) / width > target:
            return start + 1
    return None
