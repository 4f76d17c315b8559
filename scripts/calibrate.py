"""Measure every test and interval the report prints on simulations with known answers.

    python scripts/calibrate.py                  # the full suite (2,000 simulations per check)
    python scripts/calibrate.py --quick          # 200 per check, about a minute (part of the tests)
    python scripts/calibrate.py --json out.json  # also write the result as JSON

Prints one line per check (nominal, measured, Monte-Carlo error, ok), then the
negative controls: deliberately broken variants that the suite must flag.
Exits 1 when a check fails or a negative control goes unflagged.
helmholtz/analysis/calibration.py says what is simulated; docs/method.md has the
full run's table.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helmholtz.analysis import calibration  # noqa: E402
from helmholtz.cli import positive_int  # noqa: E402
from helmholtz.data.cache import write_text  # noqa: E402
from helmholtz.errors import UsageError, cli_main  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="200 simulations per check, 200 replicates")
    p.add_argument("--sims", type=positive_int, default=None,
                   help="simulations per check (default 2,000; --quick: 200)")
    p.add_argument("--n_boot", type=positive_int, default=None,
                   help="bootstrap replicates per simulation (default 400; --quick: 200)")
    p.add_argument("--json", type=Path, default=None, help="also write the result to this file")
    args = p.parse_args(argv)
    if args.json is not None and args.json.is_dir():
        raise UsageError(f"--json {args.json} is a folder; give a file name such as calibration.json")
    return args


def main(argv=None):
    args = parse_args(argv)
    sims = args.sims or (200 if args.quick else 2000)
    n_boot = args.n_boot or (200 if args.quick else 400)
    start = time.perf_counter()
    print(f"{sims} simulations per check, {n_boot} bootstrap replicates each", flush=True)
    result = calibration.run(sims, n_boot, progress=lambda text: print(
        f"  {time.perf_counter() - start:6.0f} s  {text}", file=sys.stderr, flush=True))
    print(calibration.table(result))
    print(f"{time.perf_counter() - start:.0f} s")
    if args.json is not None:
        shown = {"rows": [{k: r[k] for k in ("check", "nominal", "measured", "ok")} for r in result["rows"]],
                 "negative_controls": [{k: c[k] for k in ("name", "detected")}
                                       for c in result["negative_controls"]]}
        write_text(args.json, json.dumps(shown, indent=1) + "\n")
    failed = [r for r in result["rows"] if not r["ok"]] + \
        [c for c in result["negative_controls"] if not c["detected"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
