"""Model summaries as the users know them: `<domain>_paras/model_<params>_<name>.txt`."""
import os
from pathlib import Path

from helmholtz.cache import write_text


def summary_text(model):
    # Keras renders summaries with rich, which wraps at the terminal width;
    # a fixed width keeps the files complete and identical on every machine.
    os.environ["COLUMNS"] = "110"
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line), line_length=110)
    return "\n".join(lines) + "\n"


def write_model_summaries(names, build_model, out_dir):
    """Print `setting name params` per model and write each summary file."""
    for setting, name in enumerate(names):
        model = build_model(name)
        params = model.count_params()
        write_text(Path(out_dir) / f"model_{params}_{name}.txt", summary_text(model))
        print(f"{setting}  {name:<20} {params:>10,}")
