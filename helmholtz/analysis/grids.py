"""The train level x test level grid of each model, and its confusion matrices: what a
model trained at one level does on test data at another (helmholtz.report.write shows both).

The grid comes from each complete run's test_accuracy_at (the best checkpoint
tested at other levels, --test_quality / --test_bitrate); the confusion matrices
from the runs' per-example test predictions.
"""
import json

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from helmholtz.analysis.paired import GROUP, complete_runs, parse_level, run_predictions, sorted_levels


def confusions(model_runs, levels, n_classes=None):
    """{level: confusion matrix} (true class x predicted class, counts summed over seeds) of
    a model's runs on their own test set at each of `levels` that has predictions.
    n_classes: the number of classes, else the largest class seen + 1."""
    pairs = {}
    for row in model_runs[model_runs["level"].isin(levels)].itertuples(index=False):
        try:
            got = run_predictions(row.run, row.level)
        except ValueError:
            continue
        pairs.setdefault(row.level, []).append(got)
    if not pairs:
        return {}
    seen = max(int(max(labels.max(), pred.max())) for got in pairs.values() for labels, pred in got)
    classes = np.arange(max(n_classes or 0, seen + 1))
    return {level: sum(confusion_matrix(labels, pred, labels=classes) for labels, pred in pairs[level])
            for level in levels if level in pairs}


def level_dict(value):
    """A per-level dict cell: a dict, its JSON text (results.csv), or empty."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip():
        return json.loads(value)
    return {}


def test_grid(results):
    """Train level x test level accuracy, mean over seeds, per (experiment, domain, dataset,
    model).

    From each complete run's test_accuracy_at (the best checkpoint tested on
    data compressed at other levels); the diagonal comes from test_accuracy
    when a run did not list its own level. Returns {(experiment, domain, dataset, model):
    DataFrame (index train level, columns test level)}, only for models that
    were tested across levels.
    """
    runs = complete_runs(results)
    cells = []
    for row in runs.itertuples(index=False):
        at = {parse_level(k): float(v) for k, v in level_dict(row.test_accuracy_at).items()}
        if not at:
            continue
        own = pd.to_numeric(pd.Series([row.test_accuracy]), errors="coerce").iloc[0]
        if row.level not in at and pd.notna(own):
            at[row.level] = float(own)
        cells += [(row.experiment, row.domain, row.dataset, row.model, row.level, test, acc)
                  for test, acc in at.items()]
    grids = {}
    if not cells:
        return grids
    cells = pd.DataFrame(cells, columns=GROUP + ["train", "test", "accuracy"])
    for key, group in cells.groupby(GROUP, sort=True):
        # built cell by cell: pandas cannot sort a mix of ints and "lossless"
        grid = pd.DataFrame(np.nan, index=sorted_levels(group["train"]),
                            columns=sorted_levels(group["test"]))
        for (train, test), acc in group.groupby(["train", "test"], sort=False)["accuracy"].mean().items():
            grid.loc[train, test] = acc
        grid.index.name, grid.columns.name = "train level", "test level"
        grids[tuple(key)] = grid
    return grids
