"""The six CIFAR architectures of the original study, with exact parameter counts.

    python cifar/models.py   # prints setting, name, params; writes cifar_paras/

Stem S, block B, heads G and D(...) as in the design brief. By default the
dense heads apply ReLU to the 10 logits before softmax, as the original did
(quirk 2); `fixed=True` leaves the logits linear. Every model ends with a
float32 softmax so mixed precision keeps a float32 output.
"""
from pathlib import Path

from cifar import MODELS, NUM_CLASSES
from helmholtz.backend import keras

layers = keras.layers
PARAS_DIR = Path(__file__).resolve().parents[1] / "cifar_paras"

# setting -> (number of B blocks, head); head "G" or the dense widths
LAYOUTS = {
    "all-cnns": (1, "G"),
    "cnns-dense-64": (1, (64, 256)),
    "all-cnnsx2": (2, "G"),
    "cnns-x2-dense-128": (2, (128, 256)),
    "cnns-dense-128": (1, (128, 256)),
    "cnns-dense-128-256": (1, (128, 256, 256)),
}
PARAMS = {"all-cnns": 701_386, "cnns-dense-64": 1_079_562, "all-cnnsx2": 1_144_138,
          "cnns-x2-dense-128": 1_276_618, "cnns-dense-128": 1_620_298,
          "cnns-dense-128-256": 1_686_090}


def conv(filters, kernel=3, strides=1, activation="relu"):
    return layers.Conv2D(filters, kernel, strides=strides, padding="same", activation=activation)


def build_model(name, fixed=False, input_shape=(32, 32, 3)):
    blocks, head = LAYOUTS[name]
    inputs = keras.Input(input_shape)
    # Stem: the strided conv has no activation, as in the original.
    x = conv(32)(inputs)
    x = conv(64)(x)
    x = conv(128, strides=2, activation=None)(x)
    x = layers.Dropout(0.5)(x)
    for _ in range(blocks):
        x = conv(128)(x)
        x = conv(128)(x)
        x = conv(128, strides=2, activation=None)(x)
        x = layers.Dropout(0.5)(x)
    if head == "G":
        x = conv(128)(x)
        x = conv(128, kernel=1)(x)
        x = conv(NUM_CLASSES, kernel=1, activation=None)(x)
        x = layers.GlobalAveragePooling2D()(x)
    else:
        x = layers.Flatten()(x)
        for width in head:
            x = layers.Dense(width, activation="relu")(x)
            x = layers.Dropout(0.5)(x)
        x = layers.Dense(NUM_CLASSES, activation=None if fixed else "relu")(x)
    outputs = layers.Activation("softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


if __name__ == "__main__":
    from helmholtz.errors import cli_main
    from helmholtz.run.paras import write_model_summaries
    cli_main(lambda: write_model_summaries(MODELS, build_model, PARAS_DIR))
