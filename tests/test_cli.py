"""What a newcomer sees: every flag's --help gives its meaning and default; one seed
default for single runs and sweeps."""
import argparse
import subprocess
import sys

import pytest

from audio import SPEC as AUDIO
from cifar import SPEC as CIFAR
from helmholtz import REPO
from helmholtz.cli import DEFAULT_SEED, DefaultsFormatter
from helmholtz.run import trainer
from helmholtz.sweep import grid


def flag_help(parser):
    """{flag: its --help text as shown}, for every flag but -h."""
    formatter = DefaultsFormatter("prog")
    return {action.option_strings[-1]: formatter._get_help_string(action) % vars(action)
            for action in parser._actions
            if action.option_strings and not isinstance(action, argparse._HelpAction)}


def sweep_parser(monkeypatch):
    """The sweep's parser, caught as parse_args builds it."""
    built = []
    real = grid.Parser.parse_args

    def catch(self, *args, **kwargs):
        built.append(self)
        return real(self, *args, **kwargs)
    monkeypatch.setattr(grid.Parser, "parse_args", catch)
    grid.parse_args(["cifar", "--dry_run"])
    return built[0]


@pytest.mark.parametrize("name", ["cifar", "audio", "sweep"])
def test_every_flag_says_what_it_does_and_its_default(name, monkeypatch):
    parser = {"cifar": lambda: trainer.parser(CIFAR, "doc"), "audio": lambda: trainer.parser(AUDIO, "doc"),
              "sweep": lambda: sweep_parser(monkeypatch)}[name]()
    shown = flag_help(parser)
    assert len(shown) >= 10
    for flag, text in shown.items():
        assert len(text.split()) >= 3 and "default" in text, (flag, text)
    if name != "sweep":
        assert "(default: 200)" in shown["--num_epoch"] and f"(default: {DEFAULT_SEED})" in shown["--seed"]


def test_single_runs_and_sweeps_share_the_seed_default(monkeypatch):
    assert DEFAULT_SEED == 0
    assert trainer.parse_args(CIFAR, []).seed == trainer.parse_args(AUDIO, []).seed == DEFAULT_SEED
    args, _ = grid.parse_args(["audio", "--dry_run"])
    assert args.seeds == [DEFAULT_SEED]
    assert {r.seed for r in grid.plan("audio", log_dir="logs")} == {DEFAULT_SEED}


def test_a_listing_cut_short_by_its_reader_ends_quietly():
    # `... --dry_run | head -1`: the sweep's later lines meet a closed pipe
    shell = subprocess.run(f"{sys.executable} scripts/sweep.py cifar --grid full --dry_run | head -n 1",
                           shell=True, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert shell.stdout.count("\n") == 1
    assert shell.stderr == ""
