"""Shared core of the Helmholtz-DL reproduction.

Everything the domains of the study (the image and the audio half, each a
package with a SPEC: helmholtz/domain.py) do the same way lives here: the
trainer, run folders, the training loop, caches, metrics, the noise-bits
analysis, sweeps and the report. A domain never imports the other, and the
core names none.
"""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

import os

# Quiet TensorFlow's C++ start-up chatter (CUDA probing on CPU machines).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
