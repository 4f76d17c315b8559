"""The six CIFAR architectures: exact parameter counts, quirk 2, the summaries on disk."""
import numpy as np
import pytest

from cifar import MODELS
from cifar.models import PARAMS, PARAS_DIR, build_model
from helmholtz.backend import keras
from helmholtz.run.paras import paras_path, summary_text


@pytest.mark.parametrize("name", MODELS)
def test_parameter_counts_are_exact_and_summaries_match(name):
    keras.backend.clear_session()  # as the summaries were written: names count from zero
    model = build_model(name)
    assert model.count_params() == PARAMS[name]
    assert build_model(name, fixed=True).count_params() == PARAMS[name]  # quirk 2 has no weights
    path = paras_path(PARAS_DIR, name, PARAMS[name])
    assert path.read_text() == summary_text(model)


def test_dense_heads_put_relu_on_the_logits_unless_fixed():
    quirky, fixed = build_model("cnns-dense-64"), build_model("cnns-dense-64", fixed=True)
    assert quirky.layers[-2].activation.__name__ == "relu"
    assert fixed.layers[-2].activation.__name__ == "linear"
    out = quirky.predict(np.random.default_rng(0).random((4, 32, 32, 3), np.float32), verbose=0)
    assert out.dtype == np.float32 and np.allclose(out.sum(1), 1, atol=1e-5)


def test_parameter_table_is_the_papers():
    assert list(PARAMS.values()) == [701_386, 1_079_562, 1_144_138, 1_276_618, 1_620_298,
                                     1_686_090]
