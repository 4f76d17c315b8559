"""Model summaries as the users know them: `<domain>_paras/model_<params>_<name>.txt`."""
import os
from pathlib import Path

from helmholtz.data.cache import write_text


def summary_text(model):
    """Keras' summary as plain text, the same on any terminal."""
    parts = []
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "120"  # rich sizes its table to the terminal otherwise
    try:
        model.summary(print_fn=lambda text, line_break=True: parts.append(text), line_length=100)
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "".join(parts).rstrip("\n") + "\n"


def paras_path(folder, name, params):
    return Path(folder) / f"model_{params}_{name}.txt"


def write_model_summaries(names, build_model, folder):
    """Print `setting name: params` per model and write each model's summary."""
    from helmholtz.backend import keras
    for setting, name in enumerate(names):
        keras.backend.clear_session()  # layer names count from zero in every file
        model = build_model(name)
        params = model.count_params()
        write_text(paras_path(folder, name, params), summary_text(model))
        print(f"{setting} {name}: {params:,}")
