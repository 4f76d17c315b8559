"""One training run of any domain: flags -> settings -> run folder -> data -> train_run.

Each domain's train.py is `trainer.script(SPEC, __doc__, __name__)` with its
spec (helmholtz.domain). The flags are the shared ones (helmholtz.cli), the level
(`--<level_name>`, `--test_<level_name>`) and the domain's own. config.json
records the flags as parsed, less those that say where and how to run
(PLACE_FLAGS and the domain's run_flags), plus what is derived from them and
from the data, so the record cannot drift from the flags.
"""
import sys
from pathlib import Path

import numpy as np

from helmholtz.cli import model_name, resolve_precision, trainer_parser
from helmholtz.data import codecs
from helmholtz.run.folder import open_run
from helmholtz.run.layout import default_log_dir, run_dir
from helmholtz.run.splits import Data, fixed_shuffle, take

# Flags that say where a run lives and how to treat its folder, not what it computes.
PLACE_FLAGS = ("model", "force", "restart_damaged", "log_dir", "train_dir", "cache_dir")


def parser(spec, doc):
    p = trainer_parser(doc.strip().splitlines()[0], batch_size=spec.batch_size)
    p.add_argument(f"--{spec.level_name}", dest="level", default=str(spec.default_level),
                   metavar=spec.level_name.upper(),
                   help=f"the compression level of every split ({spec.level_label}), or 'lossless'")
    p.add_argument(f"--test_{spec.level_name}", dest="test_levels", nargs="+", default=[],
                   metavar=spec.level_name.upper(),
                   help="also test the best model on the test data at these levels (default: none)")
    spec.add_flags(p)
    return p


def parse_args(spec, argv=None, doc=""):
    args = parser(spec, doc or spec.name).parse_args(argv)
    args.level = spec.parse_level(args.level)
    args.test_levels = [spec.parse_level(level) for level in args.test_levels]
    return args


def optimizer_settings(spec, args):
    """The optimizer's settings: the spec's, with a flag's value where a setting is
    also a flag (--learning_rate). config.json records them; make_optimizer reads them."""
    return {k: getattr(args, k, v) for k, v in spec.optimizer.items()}


def settings(spec, args):
    """What the run computes, as config.json records it before the data is read: the
    flags (an optimizer's under "optimizer") less PLACE_FLAGS and the domain's run
    flags, and what is derived from them."""
    flags = {k: v for k, v in vars(args).items()
             if k not in PLACE_FLAGS + spec.run_flags and k not in spec.optimizer}
    name = model_name(spec.models, args.setting, args.model)
    return {**flags, **spec.settings(args), "domain": spec.name, "model": name,
            "setting": spec.models.index(name), "level_name": spec.level_name,
            "optimizer": optimizer_settings(spec, args),
            "protocol": "fixed" if args.fixed else "original",
            "precision": resolve_precision(args.precision)}


def folder(spec, args, settings):
    if args.train_dir:
        return Path(args.train_dir)
    path = run_dir(args.log_dir or default_log_dir(), spec.name, settings["dataset"],
                   spec.default_dataset, settings["model"], spec.level_name, args.level, args.seed)
    return codecs.run_folder(path, spec, args.level, *codecs.chosen(spec, args)) if spec.codecs else path


# ---------------------------------------------------------------- data

def load_data(spec, args):
    """(Data, mean bits per training example, mean bits per test example at each
    --test_<level> and each test across codecs, the train split) of a run: both kinds
    of size, total and payload.

    Training examples are the domain's hold-out cut to --subset; validation and
    test to --test_subset, the test set in a fixed shuffle (the same examples at
    every level, for every codec and every seed, so runs pair example by example)."""
    def split(level, name, flags=args):
        s = spec.read_split(flags, level, name)
        return s, (s["data"], s["label"]), {"total": 8 * s["bytes"], "payload": 8 * s["payload"]}

    train_split, train, train_bits = split(args.level, "train")
    test_split, test, _ = split(args.level, "test")
    fit_idx, val_idx = spec.hold_out(args, train_split)
    train_idx = fit_idx[:args.subset]
    test_idx = fixed_shuffle(len(test[1]), args.test_subset)
    # The groups of dependent test examples (e.g. versions of one note), resampled as units.
    groups = np.asarray(test_split.get("group", np.arange(len(test[1]))))[test_idx]
    extra, bits_at = {}, {"total": {}, "payload": {}}
    for level in args.test_levels:
        _, xy, bits = split(level, "test")
        extra[level] = take(xy, test_idx)
        for kind in bits_at:
            bits_at[kind][str(level)] = float(bits[kind][test_idx].mean())
    # The train x test grid across codecs: the same test examples, coded with another codec.
    across, bits_across = {}, {"total": {}, "payload": {}}
    levels = [args.level, *args.test_levels] if spec.codecs else []
    for name, coded in (codecs.cross_tests(spec, args, levels) if levels else {}).items():
        for level in coded:
            key = codecs.test_key(name, level)
            _, xy, bits = split(level, "test", codecs.with_codec(args, name))
            across[key] = take(xy, test_idx)
            for kind in bits_across:
                bits_across[kind][key] = float(bits[kind][test_idx].mean())
    if across:  # the own codec's test data beside the others', for the grid's bits row
        own = codecs.test_key(codecs.chosen(spec, args)[0], args.level)
        for kind, key in (("total", "bytes"), ("payload", "payload")):
            bits_across[kind][own] = float(8 * np.asarray(test_split[key])[test_idx].mean())
    bits_at["across"] = bits_across
    if val_idx is None:  # the original protocol of a domain whose test set picks the best epoch
        data = Data(train=take(train, train_idx), val=take(test, test_idx), extra_tests=extra,
                    val_is_test=True, groups=groups, codec_tests=across)
    else:
        data = Data(train=take(train, train_idx), val=take(train, val_idx[:args.test_subset]),
                    test=take(test, test_idx), extra_tests=extra, groups=groups, codec_tests=across)
    bits = {kind: float(np.mean(train_bits[kind][train_idx])) for kind in train_bits}
    return data, bits, bits_at, train_split


# ---------------------------------------------------------------- the run

def main(spec, argv=None, doc=""):
    args = parse_args(spec, argv, doc)
    recorded = settings(spec, args)
    run = open_run(folder(spec, args, recorded), recorded, args.force, args.restart_damaged)
    if run.finished:
        return
    data, bits, bits_at, train_split = load_data(spec, args)  # before TensorFlow: caches fork workers
    facts = spec.describe(args, data, train_split)

    from helmholtz.run.training import train_run

    def build():
        return spec.build_model(recorded["model"], args, facts)

    config = {
        **recorded, **facts, "params": build().count_params(),
        "train_size": len(data.train[1]), "val_size": len(data.val[1]),
        "test_size": len((data.test or data.val)[1]),
        "bits_per_sample": bits["total"], "payload_bits_per_sample": bits["payload"],
        "bits_per_sample_at": bits_at["total"], "payload_bits_per_sample_at": bits_at["payload"],
    }
    if data.codec_tests:  # recorded only for runs tested across codecs
        config["bits_per_sample_across"] = codecs.by_codec(bits_at["across"]["total"])
        config["payload_bits_per_sample_across"] = codecs.by_codec(bits_at["across"]["payload"])
    train_run(run, config, build, lambda: spec.make_optimizer(recorded["optimizer"]), data,
              spec.make_transform(args, facts), libraries=spec.libraries)


def script(spec, doc, name):
    """(parse_args, main, command) of a domain's train.py (`doc` its docstring: the
    first line is --help's description); command() runs main on the command line's
    flags: bad input ends it with one line and exit status 2. When that file runs as
    a script (`name` is "__main__"), command runs and the process exits."""
    def parse(argv=None):
        return parse_args(spec, argv, doc)

    def run(argv=None):
        return main(spec, argv, doc)

    def command():
        from helmholtz.errors import cli_main
        return cli_main(run)

    if name == "__main__":
        sys.exit(command())
    return parse, run, command
