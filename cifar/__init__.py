"""CIFAR-10 (and Fashion-MNIST) under JPEG (and other codecs): the image half of the study.

`SPEC` is all the core needs to know of this domain (helmholtz.domain)."""
from helmholtz.domain import Domain, lazy

DOMAIN = "cifar"
LEVEL_NAME = "quality"
MODELS = ("all-cnns", "cnns-dense-64", "all-cnnsx2", "cnns-x2-dense-128",
          "cnns-dense-128", "cnns-dense-128-256")
DATASETS = ("cifar10", "fashion-mnist")
DEFAULT_DATASET = "cifar10"
DEFAULT_LEVELS = (1, 5, 10, 15, 20, 25, 50, 75, 100)  # the original's nine
PAPER_LEVEL = 25  # the level the original ran the five other models at
NUM_CLASSES = 10
# The original's SGD; --learning_rate and --decay_rate set theirs (cifar/protocol.py).
OPTIMIZER = {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True,
             "decay_rate": 1e-6}

# The codecs, one room (module) each, JPEG the default (helmholtz.data.codecs); PNG is the
# lossless reference of them all.
CODECS = {"jpeg": "cifar.codec", "webp": "cifar.codec_webp", "avif": "cifar.codec_avif",
          "jxl": "cifar.codec_jxl", "jpeg2000": "cifar.codec_jpeg2000"}

SPEC = Domain(
    name=DOMAIN, level_name=LEVEL_NAME, level_label="JPEG quality",
    parse_level=lazy("cifar.codec:parse_level"), default_level=PAPER_LEVEL,
    levels=DEFAULT_LEVELS, full_levels=DEFAULT_LEVELS, paper_level=PAPER_LEVEL,
    models=MODELS, default_dataset=DEFAULT_DATASET, batch_size=128, optimizer=OPTIMIZER,
    add_flags=lazy("cifar.protocol:add_flags"), settings=lazy("cifar.protocol:settings"),
    read_split=lazy("cifar.protocol:read_split"), hold_out=lazy("cifar.protocol:hold_out"),
    describe=lazy("cifar.protocol:describe"), build_model=lazy("cifar.protocol:build_model"),
    make_transform=lazy("cifar.protocol:transform_for"),
    make_optimizer=lazy("cifar.protocol:make_optimizer"),
    codecs=CODECS, level_short="q{}", sensor_noise=(0.0, 64.0, "a Gaussian sigma in grey levels"),
)
