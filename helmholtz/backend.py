"""Keras and TensorFlow, imported once, with TensorFlow's C++ start-up notes
(CUDA probing, oneDNN banners) kept off the terminal: they bypass its log level."""
import helmholtz  # noqa: F401  (sets TF_CPP_MIN_LOG_LEVEL first)
from helmholtz.errors import quiet_stderr

with quiet_stderr():
    import keras
    import tensorflow as tf
    tf.config.list_physical_devices("GPU")  # the first device probe logs CUDA errors on CPU machines

__all__ = ["keras", "tf"]
