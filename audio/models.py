"""The six audio architectures of the original study, in the Keras 3 functional API.

Input: a 96 x 173 x 1 log-mel spectrogram (2 s at 44.1 kHz). Front:
Conv(32, 3x3, valid), BatchNormalization, ReLU. Then k blocks of
Conv(32, 3x3, valid) + ELU, MaxPool 2x2, Dropout 0.5. Then Flatten and, per
width u, Dense(u) + ELU, Dropout 0.6. Then Dense(12) and softmax.

The original normalised over axis 1, the frequency axis of a channels-last
tensor (one mean/variance per frequency row: 376 parameters); that is kept
by default so the parameter counts match, with Keras 2.1.5's moving
statistics (`OriginalBatchNorm`). `fixed=True` normalises over the channel
axis instead (32 channels: 128 parameters), with today's Keras layer.

    python audio/models.py   # prints the counts, writes audio_paras/model_<params>_<name>.txt
"""
from audio import MODELS
from helmholtz import REPO
from helmholtz.backend import keras, tf
from helmholtz.errors import UsageError, cli_main
from keras.src.utils.tracking import DotNotTrackScope
from helmholtz.run.paras import paras_path as _paras_path, summary_text, write_model_summaries  # noqa: F401

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


@keras.saving.register_keras_serializable(package="audio")
class OriginalBatchNorm(layers.Layer):
    """BatchNormalization as Keras 2.1.5 on TensorFlow trained the original (# quirk 3).

    Training normalises with the batch's moments over every axis but `axis`,
    as today's layer does. The moving statistics differ: Keras 2.1.5 scaled
    the batch variance by n / (n - 1.001) (n values per moment) and updated
    both through TensorFlow's zero-debiased moving average, so after t updates
    each is sum_i (1-m) m^(t-i) v_i / (1 - m^t): the initial 0 and 1 carry no
    weight, where today's layer keeps m^t of them (45% after 80 steps). The
    update count lives beside the weights, as TensorFlow kept it, so the
    parameter count stays the original's; it is saved with the model.
    """

    def __init__(self, axis=1, momentum=0.99, epsilon=1e-3, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon

    def build(self, input_shape):
        size = (input_shape[self.axis],)
        self.gamma = self.add_weight(shape=size, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=size, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=size, initializer="zeros", name="moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=size, initializer="ones",
                                               name="moving_variance", trainable=False)
        with DotNotTrackScope():  # not a weight: TensorFlow's `local_step`, outside the count
            self.updates = keras.Variable(0.0, trainable=False, name="updates")

    def _broadcast(self, v, ndim):
        shape = [1] * ndim
        shape[self.axis] = -1
        return keras.ops.reshape(v, shape)

    def call(self, x, training=False):
        ops, ndim = keras.ops, len(x.shape)
        f32 = lambda v: ops.cast(v, "float32")  # noqa: E731 (statistics in float32, as Keras does)
        x32, gamma, beta = f32(x), f32(self.gamma), f32(self.beta)
        if not training:
            scale = gamma * ops.rsqrt(f32(self.moving_variance) + self.epsilon)
            shift = beta - f32(self.moving_mean) * scale
            y = x32 * self._broadcast(scale, ndim) + self._broadcast(shift, ndim)
            return ops.cast(y, self.compute_dtype)
        if ndim == 4 and self.axis % ndim == 1:
            # Axis 1 of a channels-last batch is the channel axis of the same memory
            # read as NCHW: one fused kernel, about 1.8x the loose ops on CPU. It
            # returns the variance with Bessel's correction: (n - 1) / n undoes it.
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x32, gamma, beta, epsilon=self.epsilon, data_format="NCHW", is_training=True)
            n = f32(ops.size(x32) // ops.shape(x32)[1])
            variance = variance * (n - 1.0) / n
        else:
            axes = [a for a in range(ndim) if a != self.axis % ndim]
            mean, variance = ops.moments(x32, axes=axes)
            n = f32(ops.prod(ops.take(ops.shape(x32), axes)))
            scale = gamma * ops.rsqrt(variance + self.epsilon)
            y = x32 * self._broadcast(scale, ndim) + self._broadcast(beta - mean * scale, ndim)
        m, t = self.momentum, f32(self.updates) + 1.0
        before, after = 1.0 - ops.power(m, t - 1.0), 1.0 - ops.power(m, t)  # zero-debiasing
        sample_variance = variance * n / (n - (1.0 + self.epsilon))
        self.moving_mean.assign((m * f32(self.moving_mean) * before + (1 - m) * mean) / after)
        self.moving_variance.assign(
            (m * f32(self.moving_variance) * before + (1 - m) * sample_variance) / after)
        self.updates.assign(t)
        return ops.cast(y, self.compute_dtype)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["updates"] = keras.ops.convert_to_numpy(self.updates)

    def load_own_variables(self, store):
        store = {key: store[key] for key in store.keys()}
        updates = store.pop("updates", 0.0)
        super().load_own_variables(store)
        self.updates.assign(float(keras.ops.convert_to_numpy(updates)))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon}


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
    if fixed:
        x = layers.BatchNormalization(axis=-1, name="front_bn")(x)
    else:
        x = OriginalBatchNorm(axis=1, name="front_bn")(x)
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
