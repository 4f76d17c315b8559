"""Accuracy parity of the precisions: short real training runs at float32 (the
default) and at mixed bfloat16, same seeds; bf16 passes when the difference of
the mean accuracies is within the spread (max - min) over seeds."""
import contextlib
import io
import json
import statistics
import tempfile
from pathlib import Path

from helmholtz.machine import table

PRECISIONS = ("float32", "mixed_bfloat16")


def bench_parity(train_main, argv, seeds, title):
    """train_main(argv + seed, precision, run folder) for every seed and precision:
    the domain's own trainer main, writing real run folders (in a temporary folder)."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-parity-") as tmp:
        for seed in range(seeds):
            for precision in PRECISIONS:
                folder = Path(tmp) / f"{precision}-{seed}"
                with contextlib.redirect_stdout(io.StringIO()):
                    train_main([str(a) for a in [*argv, "--seed", seed, "--precision", precision,
                                                 "--train_dir", folder]])
                result = json.loads((folder / "result.json").read_text())
                config = json.loads((folder / "config.json").read_text())
                runs.append({"seed": seed, "precision": config["precision"],
                             "bf16": precision != "float32",
                             "test_accuracy": result["test_accuracy"],
                             "seconds_per_epoch": result["seconds_per_epoch"]})

    def group(bf16):
        acc = [r["test_accuracy"] for r in runs if r["bf16"] == bf16]
        sec = [r["seconds_per_epoch"] for r in runs if r["bf16"] == bf16]
        return {"precision": next(r["precision"] for r in runs if r["bf16"] == bf16),
                "mean": statistics.mean(acc), "spread": max(acc) - min(acc),
                "seconds_per_epoch": statistics.median(sec)}

    base, ours = group(False), group(True)
    difference = ours["mean"] - base["mean"]
    spread = max(base["spread"], ours["spread"])
    out = {"seeds": seeds, "runs": runs, "float32": base, "bf16": ours,
           "difference": difference, "spread": spread, "holds": abs(difference) <= spread}
    table(f"Accuracy parity: {title}, {seeds} seed(s)",
          ["precision", "accuracy (mean)", "spread", "per seed", "s/epoch"],
          [[g["precision"], f"{g['mean']:.4f}", f"{g['spread']:.4f}",
            " ".join(f"{r['test_accuracy']:.4f}" for r in runs if r["bf16"] == d),
            g["seconds_per_epoch"]] for g, d in ((base, False), (ours, True))])
    print(f"  difference {difference:+.4f} vs spread over seeds {spread:.4f}: "
          f"parity {'holds' if out['holds'] else 'NOT shown'}")
    return out
