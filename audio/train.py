"""Train one audio-effects model on MP3-compressed clips: one run of the study.

    python audio/data.py --generate                        # once: the built-in set
    cd audio && python train.py --bitrate 32 --setting 0

The original's protocol by default, its validation split included; `--fixed`
the corrected one (audio/protocol.py says what each does). The run goes to
its own folder (helmholtz/run/layout.py) and resumes there when started again.
"""
from audio import SPEC
# The protocol's pieces, where the fidelity tests import them.
from audio.protocol import hold_out, transform  # noqa: F401
from helmholtz.run import trainer

parse_args, main, command = trainer.script(SPEC, __doc__, __name__)
