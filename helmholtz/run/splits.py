"""What a run trains and is judged on: arrays, fixed shuffles, subsets."""
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Data:
    """Arrays for one run. `val` is the test set itself in the original protocol."""
    train: tuple
    val: tuple
    test: tuple | None = None               # held-out test set, evaluated once at the end
    extra_tests: dict = field(default_factory=dict)  # level -> (x, y), evaluated at the end
    val_is_test: bool = False
    groups: object = None  # the group of each example that judges the run (None: its own index)
    codec_tests: dict = field(default_factory=dict)  # "webp:50" -> (x, y): tests across codecs


def fixed_shuffle(n, first=None):
    """Indices of a shuffle that is the same in every run (for --subset and splits)."""
    order = np.random.default_rng(20_180_727).permutation(n)
    return order if first is None else order[:first]


def take(xy, indices):
    return tuple(a[indices] for a in xy)
