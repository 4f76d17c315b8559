"""Size a study before it runs: the power to show a level non-inferior, over seeds x test examples.

    python scripts/plan.py docs/results/study/runs            # variance components from a pilot's runs
    python scripts/plan.py --seed_sd 0.01 --shared_sd 0.05 --run_sd 0.3 --group_size 1

From a pilot's run folders (complete runs of at least 2 seeds at the reference
and a compressed level), or from variance components given as flags (SDs of a
level's difference to the reference, in accuracy: a seed's, a group's that
every seed shares, a group's in one run), prints for each model the power to
show a level truly --delta from the reference non-inferior within --margin
over a grid of seeds x test examples (in groups of the pilot's size), and the
cheapest design (fewest seeds, then fewest examples) that reaches --power.
helmholtz/analysis/planner.py states the model; helmholtz/analysis/calibration.py checks it.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helmholtz.analysis import paired, planner, stats  # noqa: E402
from helmholtz.analysis.results import collect  # noqa: E402
from helmholtz.errors import UsageError, cli_main  # noqa: E402


def numbers(kind):
    def parse(text):
        values = [kind(v) for v in text.split(",")]
        if not values or min(values) <= 0:
            raise argparse.ArgumentTypeError(f"give positive numbers separated by commas, got {text}")
        return values
    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", nargs="?", type=Path, help="a pilot's folder of run folders")
    p.add_argument("--seed_sd", type=float, help="SD of a seed's difference (accuracy)")
    p.add_argument("--shared_sd", type=float, default=0.0,
                   help="SD of a group's difference that every seed shares")
    p.add_argument("--run_sd", type=float, default=0.0, help="SD of a group's difference in one run")
    p.add_argument("--group_size", type=float, default=1.0, help="test examples per group")
    p.add_argument("--margin", type=float, default=stats.MARGIN, help=f"default {stats.MARGIN}")
    p.add_argument("--delta", type=float, default=-stats.MARGIN / 4,
                   help="the level's true difference to the reference (default -margin/4)")
    p.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
    p.add_argument("--seeds", type=numbers(int), default=[3, 5, 10, 20], help="default 3,5,10,20")
    p.add_argument("--examples", type=numbers(int), default=[360, 2000, 10000],
                   help="test examples, default 360,2000,10000")
    args = p.parse_args(argv)
    if (args.root is None) == (args.seed_sd is None):
        raise UsageError("give a pilot's run folder or --seed_sd (with --shared_sd, --run_sd), not "
                         "both, e.g. `python scripts/plan.py docs/results/study/runs`")
    if not 0 < args.margin < 1 or not 0 < args.power < 1:
        raise UsageError(f"--margin and --power must lie between 0 and 1, got {args.margin} and {args.power}")
    return args


def pilot_components(root):
    """[(title, Components)] of every model of the pilot with 2+ seeds at its reference and a
    compressed level: the seed part the mean over the model's compressed levels (a few
    seeds tell it poorly; every level's difference tells it again), the group parts the
    first compressed level's."""
    runs = paired.complete_runs(collect(root)[0])
    found = []
    for key in paired.model_groups(runs):
        model_runs = paired.select(runs, key)
        ref, *others = paired.tested_levels(model_runs)
        try:
            correct, seeds, _, groups, _ = paired.paired_correctness(model_runs, [ref, *others])
        except paired.NotPaired:
            continue
        if len(seeds) < 2 or not others:
            continue
        each = [planner.components(correct[[0, i]], groups) for i in range(1, len(correct))]
        # The first compressed level's groups: near the reference, as a level near the margin.
        parts = planner.Components(float(np.mean([c.seed for c in each])), each[0].shared,
                                   each[0].run, each[0].group_size)
        levels = ", ".join(paired.format_level(lv) for lv in others)
        found.append((f"{key[1]} / {key[2]} (experiment {key[0]}), {key[3]}: {levels} vs "
                      f"{paired.format_level(ref)}, {len(seeds)} seeds x {correct.shape[2]} examples",
                      parts))
    if not found:
        raise UsageError(f"no model under {root} has complete runs of 2 or more seeds at two levels; "
                         "give the components as flags instead (--seed_sd ...)")
    return found


def main(argv=None):
    args = parse_args(argv)
    if args.root is not None:
        found = pilot_components(args.root)
    else:
        found = [("the components given", planner.Components(args.seed_sd ** 2, args.shared_sd ** 2,
                                                             args.run_sd ** 2, args.group_size))]
    print(f"Power to show a level truly {100 * args.delta:+.2f} points from the reference "
          f"non-inferior within {100 * args.margin:g} points (one-sided {stats.ALPHA:g}):")
    for title, parts in found:
        print(f"\n{title}\n  SDs: seed {100 * parts.seed ** 0.5:.2f} points, shared by a group "
              f"{100 * parts.shared ** 0.5:.2f}, a group in one run {100 * parts.run ** 0.5:.2f}; "
              f"{parts.group_size:g} examples per group")
        powers = planner.grid(parts, args.margin, args.delta, args.seeds, args.examples)
        print("  seeds \\ examples " + "".join(f"{n:>9,}" for n in args.examples))
        for s in args.seeds:
            print(f"  {s:>17} " + "".join(f"{powers[(s, n)]:>9.2f}" for n in args.examples))
        best = planner.cheapest(powers, args.power)
        print(f"  cheapest reaching {args.power:g}: " +
              (f"{best[0]} seeds x {best[1]:,} test examples" if best else "none in this grid"))
    return 0


if __name__ == "__main__":
    sys.exit(cli_main(main))
