"""Baseline beside the CNNs: logistic regression on pooled mel statistics.

Each clip's cached features (the 96-band dB mel spectrogram the CNNs see, at
the level asked for) are pooled over time into a fixed vector: per band, the
mean and standard deviation of the level relative to the clip's loudest
value (so the clip's loudness gives nothing away), and the mean and standard
deviation of its frame-to-frame change (the delta, which carries the
modulation of tremolo, vibrato, chorus, flanger and phaser); 384 numbers.
scikit-learn standardises them and fits a multinomial logistic regression on
the train split; it is scored once on the test split. On the generated set
(150 clips per class, seed 2337) it reaches 71% at lossless and 66% at 32 kbps
(chance 8%); delays and reverb, which pooling over time blurs, are its errors.

    python audio/baseline.py --bitrate 32            # accuracy and confusion matrix
    python audio/baseline.py --bitrate lossless --data ~/IDMT-SMT-AUDIO-EFFECTS
    python audio/baseline.py --bitrate 8 --json baseline/bitrate_8.json   # also as a record

The record (--json) holds name, level, accuracy, test_size, train_size,
classes and confusion; it is written, atomically, only when the fit succeeds.
"""
import json
from pathlib import Path

import numpy as np

from audio import data as audio_data
from helmholtz.cli import Parser, folder_problem, seed_value
from helmholtz.data.cache import write_json
from helmholtz.errors import UsageError, cli_main
from helmholtz.run.outputs import claim

NAME = "logistic regression on pooled mel statistics"
REGULARISATION = 0.1  # LogisticRegression's C (inverse strength), on standardised features


def pooled_features(mel_db):
    """(N, bands, frames, 1) dB mel spectrograms -> (N, 4 * bands) pooled statistics."""
    x = np.asarray(mel_db, np.float32)[..., 0]
    x = x - x.max(axis=(1, 2), keepdims=True)  # level relative to the clip's peak
    delta = np.diff(x, axis=2)
    return np.concatenate([x.mean(axis=2), x.std(axis=2), delta.mean(axis=2),
                           np.abs(delta).mean(axis=2)], axis=1)


def baseline(level, data_path=None, cache_dir=None, seed=audio_data.DEFAULT_SEED):
    """Fit on the train split at `level`, score on its test split.

    Returns {'accuracy', 'confusion' (rows: true class, columns: predicted),
    'classes', 'train_size', 'test_size', 'level'}.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, confusion_matrix
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    level = audio_data.parse_level(level)
    train, test = (audio_data.load_split(level, split, data_path, cache_dir, seed=seed)
                   for split in audio_data.SPLITS)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=REGULARISATION, max_iter=5000))
    model.fit(pooled_features(train["data"]), train["label"])
    predicted = model.predict(pooled_features(test["data"]))
    labels = np.arange(len(train["classes"]))
    return dict(level=level, accuracy=float(accuracy_score(test["label"], predicted)),
                confusion=confusion_matrix(test["label"], predicted, labels=labels).tolist(),
                classes=train["classes"], train_size=len(train["label"]),
                test_size=len(test["label"]))


def confusion_text(result):
    """The confusion matrix as a plain table: a row per true class, counts per prediction."""
    names = [c[:6] for c in result["classes"]]
    width = max(6, *map(len, result["classes"]))
    lines = [" " * width + " " + " ".join(f"{n:>6}" for n in names)]
    for name, row in zip(result["classes"], result["confusion"]):
        lines.append(f"{name:>{width}} " + " ".join(f"{v:>6}" for v in row))
    return "\n".join(lines)


def _is_record(path):
    """Whether `path` holds a record this command wrote (it names the baseline): the
    only file --json replaces."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")).get("name") == NAME
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, RecursionError):
        return False


def main(argv=None):
    parser = Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--bitrate", default="32", type=audio_data.parse_level,
                        help="level of the features: MP3 kbps or lossless [default: 32]")
    parser.add_argument("--data", default=None,
                        help="folder of class folders or IDMT-SMT-Audio-Effects [default: generated set]")
    parser.add_argument("--cache_dir", default=None, help="cache root [default: <repo>/data]")
    parser.add_argument("--seed", type=seed_value, default=audio_data.DEFAULT_SEED,
                        help="seed of the train/test split [default: 2337]")
    parser.add_argument("--json", default=None,
                        help="also write the result to this JSON file [default: none]")
    args = parser.parse_args(argv)
    if args.json is not None:
        problem = Path(args.json).is_dir() and "is a folder" or folder_problem(
            Path(args.json).parent, writable=True)
        if problem:
            raise UsageError(f"--json {args.json}: {problem}; give the path of a file to write")
        claim(Path(args.json).parent, [Path(args.json).name], "choose another --json",
              recognise=_is_record)
    result = baseline(args.bitrate, args.data, args.cache_dir, args.seed)
    if args.json is not None:
        write_json(args.json, {"name": NAME, **result})
    chance = 1 / len(result["classes"])
    print(f"{NAME}, bitrate {result['level']}: "
          f"test accuracy {result['accuracy']:.3f} ({result['test_size']} test clips, "
          f"{result['train_size']} train; chance {chance:.3f})")
    print(confusion_text(result))


if __name__ == "__main__":
    cli_main(main)
