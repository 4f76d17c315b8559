"""A domain's codecs and its known sensor noise, as the trainers, data steps and sweeps see them.

A domain's SPEC lists its codecs (`codecs`: name -> the module of that
codec's room, the default first) and the range of its `--sensor_noise`. A
room is a module with `LIBRARY` (the package that codes), `version()`,
`check_level(level)` (a UsageError outside the codec's range) and the
domain's own coding functions; importing it fails with ImportError when its
library is missing. This module names no codec: it reads the table.

`--codec` and `--sensor_noise` are recorded only when they differ from the
default (the domain's first codec, no noise), so a run of the default codec
without noise keeps the config.json, run folder and experiment it always had.
`--test_codec` (the train x test grid across codecs) is recorded only when given.
"""
import argparse
import importlib
import math

from helmholtz.errors import UsageError

NO_NOISE = 0.0


def default_codec(spec):
    return next(iter(spec.codecs))


def room(spec, name):
    """The module of codec `name` of the domain; a UsageError for an unknown codec or
    one whose library is not installed."""
    if name not in spec.codecs:
        raise UsageError(f"unknown codec {name!r} for {spec.name}; choose one of "
                         f"{', '.join(spec.codecs)}")
    module = spec.codecs[name]
    try:
        return importlib.import_module(module)
    except ImportError as e:
        package = getattr(e, "name", None) or "its library"
        raise UsageError(f"the codec {name} needs the Python package {package}, which is not "
                         f"installed here; install it (pip install -r requirements.txt) or "
                         f"choose another --codec") from None


def noise_value(spec):
    """The --sensor_noise parser of the domain: a number within its range."""
    low, high, unit = spec.sensor_noise

    def parse(text):
        try:
            value = float(text)
        except (TypeError, ValueError):
            value = math.nan
        if value != NO_NOISE and not low <= value <= high:
            raise UsageError(f"--sensor_noise {text} is out of range; give {unit} from "
                             f"{low:g} to {high:g} (0 for none)")
        return value
    return parse


class _Recorded(argparse.Action):
    """Stores a flag only when it differs from its default (`const`): an unset flag is
    absent from the parsed flags, so config.json does not record it."""

    def __call__(self, parser, namespace, value, option_string=None):
        if value != self.const:
            setattr(namespace, self.dest, value)
        elif hasattr(namespace, self.dest):
            delattr(namespace, self.dest)


def add_flags(p, spec, many=False):
    """--codec and --sensor_noise. many: the data step's list of codecs."""
    default = default_codec(spec)
    if many:
        p.add_argument("--codec", nargs="+", default=[default],
                       help=f"codecs: {', '.join(spec.codecs)} (default {default})")
        p.add_argument("--sensor_noise", nargs="+", type=noise_value(spec), default=[NO_NOISE],
                       help=f"known noise added to the sources first ({spec.sensor_noise[2]}; "
                            "default 0, none)")
        return
    p.add_argument("--codec", action=_Recorded, const=default, default=argparse.SUPPRESS,
                   help=f"the codec: {', '.join(spec.codecs)} (default {default})")
    p.add_argument("--sensor_noise", action=_Recorded, const=NO_NOISE, default=argparse.SUPPRESS,
                   type=noise_value(spec),
                   help=f"known noise added to the sources before coding ({spec.sensor_noise[2]}; "
                        "default 0, none)")
    p.add_argument("--test_codec", dest="test_codecs", nargs="+", default=argparse.SUPPRESS,
                   metavar="CODEC",
                   help="also test the best model on the test data coded with these codecs, at "
                        "the run's level and each extra test level (default: none)")


def chosen(spec, args):
    """(codec name, sensor noise) of parsed trainer flags."""
    return getattr(args, "codec", default_codec(spec)), getattr(args, "sensor_noise", NO_NOISE)


def settings(spec, args, levels):
    """What config.json records of the codec and noise (nothing at the defaults), after
    checking every level against the codec."""
    name, noise = chosen(spec, args)
    codec = room(spec, name)
    for level in levels:
        if level != "lossless":
            codec.check_level(level)
    for other in getattr(args, "test_codecs", []):
        room(spec, other)
    out = {"sensor_noise": noise} if noise != NO_NOISE else {}
    if name != default_codec(spec):
        out["codec"] = {"name": name, "library": codec.LIBRARY, "version": codec.version()}
    return out


def level_tag(spec, level, codec=None, noise=NO_NOISE):
    """The name of a level's folder (runs, caches): `quality_50` for the default codec
    without noise, else the codec's name with the level (`webp_q50`, `opus_64k`,
    `webp_lossless`) and the noise (`_noise8`); the default's lossless is `quality_lossless`."""
    codec = codec or default_codec(spec)
    if codec == default_codec(spec) and (noise == NO_NOISE or level == "lossless"):
        tag = f"{spec.level_name}_{level}"
    else:
        tag = f"{codec}_{level if level == 'lossless' else spec.level_short.format(level)}"
    return tag + (f"_noise{noise:g}" if noise != NO_NOISE else "")


def run_folder(path, spec, level, codec=None, noise=NO_NOISE):
    """A run folder of helmholtz.run.layout.run_dir with the level's folder named by `level_tag`."""
    return path.parent.parent / level_tag(spec, level, codec, noise) / path.name


# ---------------------------------------------------------------- tests across codecs

def test_key(name, level):
    """The name of a test across codecs: "webp:50" (predictions.npz has `pred@webp:50`)."""
    return f"{name}:{level}"


def by_codec(values):
    """{"webp:50": x} -> {"webp": {"50": x}}: how config.json and result.json nest them."""
    out = {}
    for key, value in values.items():
        name, level = key.split(":", 1)
        out.setdefault(name, {})[level] = value
    return out


def cross_tests(spec, args, levels):
    """{codec: levels} of --test_codec: each codec other than the run's own, with the
    levels of `levels` it can code (lossless is the same data for every codec, so it is
    never among them). A level outside a codec's range is left out with a printed note."""
    own, _ = chosen(spec, args)
    plan = {}
    for name in dict.fromkeys(getattr(args, "test_codecs", [])):
        if name == own:
            continue
        codec, plan[name] = room(spec, name), []
        for level in levels:
            if level == "lossless":
                continue
            try:
                codec.check_level(level)
            except UsageError as e:
                print(f"note: not tested with {name} at {level}: {e}", flush=True)
                continue
            plan[name].append(level)
    return {name: levels for name, levels in plan.items() if levels}


def with_codec(args, name):
    """The parsed flags with the codec `name` in place of the run's own."""
    return argparse.Namespace(**{**vars(args), "codec": name})
