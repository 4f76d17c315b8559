"""Shared core of the Helmholtz-DL reproduction.

Everything the domains of the study (the image and the audio half, each a
package with a SPEC: helmholtz/domain.py) do the same way lives here, one
sub-package per job, in this order: data (caches, downloads, codecs), run (the
trainer, run folders, the training loop, metrics), sweep, analysis (the
noise-bits statistics and verdicts), report, bench. A module imports from the
top level and from its own job or the jobs before it, never after; only the
commands (helmholtz/commands.py) reach every job. A domain never imports the
other, and the core names none.
"""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

import os

# Quiet TensorFlow's C++ start-up chatter (CUDA probing on CPU machines).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
