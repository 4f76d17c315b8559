"""Train one CIFAR model on JPEG-compressed images: one run of the study.

    cd cifar && python train.py --quality 5 --setting 0
    python cifar/train.py --dataset fashion-mnist --quality 25 --num_epoch 2 --subset 5000

The original's protocol by default, quirks included; `--fixed` the corrected
one (cifar/protocol.py says what each does). The run goes to its own folder
(helmholtz/run/layout.py) and resumes there when started again.
"""
from cifar import SPEC
# The protocol's pieces, where the fidelity tests import them.
from cifar.protocol import draw_augmentation, make_transform, shift_and_flip  # noqa: F401
from helmholtz.run import trainer

parse_args, main, command = trainer.script(SPEC, __doc__, __name__)


def load_data(args):
    """(Data, mean bits per training image, mean bits per test image at each --test_quality)."""
    return trainer.load_data(SPEC, args)[:3]
