"""The contract between the core and a domain: one `Domain`, named `SPEC`, in the
domain package's __init__.py.

The core learns everything it needs about a domain from its spec: the trainer
(helmholtz.run.trainer) its flags, data, model and optimizer; the sweep its levels
and models; the report its level's label. The core finds a spec by importing
the package named on a command line or in a config.json (`load`), so it never
names a domain itself.

The hooks are given as "module:function" and imported on first call
(`lazy`): importing a domain package for its levels and models stays cheap
(no TensorFlow, no codec libraries).
"""
import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from helmholtz.errors import UsageError


@dataclass(frozen=True)
class Domain:
    """One domain of the study. Hooks that take `args` get the parsed trainer flags."""
    name: str                 # the package's name; first part of its run folders
    level_name: str           # the level flag (--quality) and config.json's level_name
    level_label: str          # the level axis in the report, e.g. "JPEG quality"
    parse_level: Callable     # text -> level (an int, or "lossless"); UsageError if invalid
    default_level: object     # the trainer's default level
    levels: tuple             # the paper grid's levels: the default model at each
    full_levels: tuple        # the full grid's levels: every model at each
    paper_level: object       # the level the paper ran the other models at
    models: tuple             # model names; a model's setting number is its index
    default_dataset: str      # a run folder names its dataset only when it is another
    batch_size: int           # the trainer's default batch size
    # The optimizer's name and settings, recorded in config.json; a setting that is
    # also a flag of the domain (--learning_rate) takes the flag's value.
    optimizer: dict
    add_flags: Callable       # (parser) -> None: the domain's own trainer flags
    settings: Callable        # (args) -> dict: settings derived from the flags (at least
                              # "dataset"), recorded in config.json; UsageError if they clash
    read_split: Callable      # (args, level, split) -> mapping with the arrays "data",
                              # "label", "bytes" and "payload" (per-example encoded sizes),
                              # optionally "group" (examples that depend on each other share one)
    hold_out: Callable        # (args, train split) -> (training indices, validation
                              # indices, or None when the test set validates)
    describe: Callable        # (args, Data, train split) -> dict of data facts for
                              # config.json, which build_model and make_transform get back
    build_model: Callable     # (name, args, facts) -> a Keras model
    make_transform: Callable  # (args, facts) -> transform(x, seeds, training)
    make_optimizer: Callable  # (optimizer settings) -> a Keras optimizer
    libraries: tuple = ()     # modules whose versions config.json records (when loaded)
    run_flags: tuple = ()     # flags that do not change what a run computes: not recorded
    trainer: str = "train.py"  # the domain's training script, in its folder
    # Codecs (helmholtz.data.codecs): name -> the module of its room, the default first.
    codecs: dict = field(default_factory=dict)
    level_short: str = "{}"   # a level in a codec's folder name: "q{}" gives webp_q50
    sensor_noise: tuple = (0.0, 0.0, "")  # --sensor_noise's range and unit


def lazy(target):
    """A function that imports "module:function" when first called, then calls it."""
    module, name = target.split(":")

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{target}, imported when first called."
    return call


def load(name):
    """The SPEC of the domain package `name`; a UsageError when there is none."""
    if not isinstance(name, str) or not name.isidentifier():
        raise UsageError(f"unknown domain {name!r}: a domain is a package name")
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        module = None
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, Domain):
        raise UsageError(f"unknown domain {name!r}: no package of that name with a domain "
                         "SPEC (helmholtz.domain.Domain) is importable here")
    return spec


def trainer_path(spec):
    """The domain's training script."""
    return Path(sys.modules[spec.name].__file__).resolve().parent / spec.trainer


def level_label(domain, level_name):
    """The label of a domain's levels ("JPEG quality"); the level's name where the
    domain's package cannot be imported here."""
    try:
        return load(domain).level_label
    except UsageError:
        return level_name
