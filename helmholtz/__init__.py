"""Shared core of the Helmholtz-DL reproduction.

Everything the image (cifar/) and audio (audio/) halves of the study do the
same way lives here: run folders, the training loop, caches, metrics, the
noise-bits analysis, sweeps and the report. A domain never imports the other.
"""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

import os

# Quiet TensorFlow's C++ start-up chatter (CUDA probing on CPU machines).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
