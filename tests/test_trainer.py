"""The domain contract (helmholtz.domain) and the shared trainer (helmholtz.run.trainer):
what config.json records is derived from the flags; a new domain needs no change
to the core."""
import textwrap

import pytest

from audio import SPEC as AUDIO
from cifar import SPEC as CIFAR
from helmholtz import domain
from helmholtz.errors import UsageError
from helmholtz.run import trainer
from helmholtz.sweep import grid

TOY = '''
from helmholtz.domain import Domain

def parse_level(text):
    return int(text)

def add_flags(p):
    p.add_argument("--momentum", type=float, default=0.5, help="the optimizer's momentum")
    p.add_argument("--verbose_data", action="store_true", help="say more while loading")

SPEC = Domain(
    name="toy", level_name="loudness", level_label="loudness, dB", parse_level=parse_level,
    default_level=3, levels=(1, 2, 3), full_levels=(1, 2, 3, 4), paper_level=2,
    models=("small", "big"), default_dataset="tones", batch_size=4,
    optimizer={"name": "sgd", "learning_rate": 0.1, "momentum": 0.0}, add_flags=add_flags,
    settings=lambda args: {"dataset": "tones", "sample_rate": 8000}, read_split=None,
    hold_out=None, describe=None, build_model=None, make_transform=None, make_optimizer=None,
    run_flags=("verbose_data",))
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """A third domain, as a package of its own outside the repository."""
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "__init__.py").write_text(textwrap.dedent(TOY))
    (tmp_path / "toy" / "train.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    return domain.load("toy")


def test_a_new_domain_is_swept_and_recorded_without_touching_the_core(toy, tmp_path):
    runs = grid.plan("toy", "paper", seeds=[0], log_dir=tmp_path)
    assert [(r.model, r.level) for r in runs] == [("small", 1), ("small", 2), ("small", 3), ("big", 2)]
    assert runs[0].folder == tmp_path / "toy" / "small" / "loudness_1" / "seed_0"
    assert runs[0].command[1:4] == (str(tmp_path / "toy" / "train.py"), "--loudness", "1")
    grid.check_pass_through("toy", runs[0])
    with pytest.raises(UsageError, match="--loudness after -- is set by the sweep"):
        grid.plan("toy", train_args=["--loudness", "2"])

    args = trainer.parse_args(toy, ["--loudness", "2", "--test_loudness", "1", "3", "--momentum",
                                    "0.9", "--verbose_data", "--model", "big", "--log_dir", "x"])
    recorded = trainer.settings(toy, args)
    # The optimizer's values, its flag's included, in one place; where-to-run flags left out.
    assert recorded["optimizer"] == {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}
    assert recorded == {
        "domain": "toy", "dataset": "tones", "sample_rate": 8000, "model": "big", "setting": 1,
        "level_name": "loudness", "level": 2, "test_levels": [1, 3], "seed": 0, "batch_size": 4,
        "num_epoch": 200, "subset": None, "test_subset": None, "precision": "float32",
        "fixed": False, "protocol": "original", "optimizer": recorded["optimizer"]}
    assert domain.level_label("toy", "loudness") == "loudness, dB"


def test_the_settings_of_the_default_flags_are_the_ones_recorded_before():
    """What cifar/train.py opened its run folder with before the domain contract."""
    args = trainer.parse_args(CIFAR, [])
    assert trainer.settings(CIFAR, args) == {
        "augmentation": "keras2 shift 0.1 bilinear nearest + flip axis 2", "batch_size": 128,
        "data": None, "dataset": "cifar10", "domain": "cifar", "drop_last_batch": True,
        "fixed": False, "level": 25, "level_name": "quality", "model": "all-cnns", "num_epoch": 200,
        "optimizer": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True,
                      "decay_rate": 1e-6},
        "orientation": "transposed", "precision": "float32", "protocol": "original", "seed": 0,
        "setting": 0, "subset": None, "test_levels": [], "test_subset": None}
    fixed = trainer.settings(CIFAR, trainer.parse_args(CIFAR, ["--fixed", "--learning_rate", "0.1"]))
    assert fixed["orientation"] == "upright" and fixed["protocol"] == "fixed"
    assert fixed["optimizer"]["learning_rate"] == 0.1 and "learning_rate" not in fixed


def test_levels_are_parsed_by_the_domain_once_and_labelled_from_its_spec():
    assert trainer.parse_args(CIFAR, ["--quality", "lossless", "--test_quality", "5", "100"]).test_levels == [5, 100]
    assert trainer.parse_args(AUDIO, ["--bitrate", "64"]).level == 64
    with pytest.raises(UsageError, match="bitrate 33"):
        trainer.parse_args(AUDIO, ["--test_bitrate", "33"])
    assert domain.level_label("cifar", "quality") == "JPEG quality"
    assert domain.level_label("audio", "bitrate") == "MP3 bitrate, kbps"
    assert domain.level_label("speech", "pitch") == "pitch"  # a domain not installed here


@pytest.mark.parametrize("name", ["speech", "os", "../cifar", None])
def test_a_name_that_is_no_domain_is_one_clear_error(name):
    with pytest.raises(UsageError, match="unknown domain"):
        domain.load(name)
