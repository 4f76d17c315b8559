"""The six audio architectures of the original study, in the Keras 3 functional API.

Input: a 96 x 173 x 1 log-mel spectrogram (2 s at 44.1 kHz). Front:
Conv(32, 3x3, valid), BatchNormalization, ReLU. Then k blocks of
Conv(32, 3x3, valid) + ELU, MaxPool 2x2, Dropout 0.5. Then Flatten and, per
width u, Dense(u) + ELU, Dropout 0.6. Then Dense(12) and softmax.

The original normalised over axis 1, the frequency axis of a channels-last
tensor (one mean/variance per frequency row: 376 parameters); that is kept
by default so the parameter counts match. `fixed=True` normalises over the
channel axis instead (32 channels: 128 parameters).

    python audio/models.py   # prints the counts, writes audio_paras/model_<params>_<name>.txt
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audio import MODELS
from helmholtz import REPO
from helmholtz.backend import keras
from helmholtz.errors import UsageError, cli_main
from helmholtz.paras import paras_path as _paras_path, summary_text, write_model_summaries  # noqa: F401

layers = keras.layers

# setting -> (number of conv blocks after the front, dense widths)
LAYOUTS = {
    "cnn_x3_mlp_0": (3, ()),
    "cnn_x4_mlp_128": (4, (128,)),
    "cnn_x3_mlp_64_128": (3, (64, 128)),
    "cnn_x3_mlp_128": (3, (128,)),
    "cnn_x3_mlp_128x2": (3, (128, 128)),
    "cnn_x2_mlp_128": (2, (128,)),
}
PARAMS = {  # total parameters of the original (fixed=False), 12 classes, 96x173x1
    "cnn_x3_mlp_0": 101_412, "cnn_x4_mlp_128": 170_436, "cnn_x3_mlp_64_128": 427_492,
    "cnn_x3_mlp_128": 808_356, "cnn_x3_mlp_128x2": 824_868, "cnn_x2_mlp_128": 3_715_460,
}
FILTERS, CONV_DROPOUT, DENSE_DROPOUT = 32, 0.5, 0.6
PARAS_DIR = REPO / "audio_paras"


def model_name(setting_or_name):
    """0..5 or a model name -> the model name."""
    if isinstance(setting_or_name, str) and setting_or_name in MODELS:
        return setting_or_name
    try:
        setting = int(setting_or_name)
    except ValueError:
        setting = -1
    if not 0 <= setting < len(MODELS):
        raise UsageError(f"no audio model {setting_or_name!r}; choose a setting 0-5 or one of "
                         f"{', '.join(MODELS)}")
    return MODELS[setting]


def build_model(setting_or_name, fixed=False, input_shape=(96, 173, 1), num_classes=12):
    """The Keras model of a setting (0-5) or name; softmax output in float32."""
    name = model_name(setting_or_name)
    blocks, widths = LAYOUTS[name]
    inputs = keras.Input(shape=input_shape, name="mel")
    x = layers.Conv2D(FILTERS, 3, padding="valid", name="front_conv")(inputs)
    x = layers.BatchNormalization(axis=-1 if fixed else 1, name="front_bn")(x)
    x = layers.Activation("relu", name="front_relu")(x)
    for i in range(1, blocks + 1):
        x = layers.Conv2D(FILTERS, 3, padding="valid", name=f"block{i}_conv")(x)
        x = layers.Activation("elu", name=f"block{i}_elu")(x)
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
        x = layers.Dropout(CONV_DROPOUT, name=f"block{i}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, width in enumerate(widths, 1):
        x = layers.Dense(width, name=f"dense{i}")(x)
        x = layers.Activation("elu", name=f"dense{i}_elu")(x)
        x = layers.Dropout(DENSE_DROPOUT, name=f"dense{i}_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    # float32 output so mixed precision keeps a float32 softmax and loss
    outputs = layers.Activation("softmax", dtype="float32", name="softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def paras_path(name, params, folder=PARAS_DIR):
    return _paras_path(folder, name, params)


if __name__ == "__main__":
    cli_main(lambda: write_model_summaries(MODELS, build_model, PARAS_DIR))
