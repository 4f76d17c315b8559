"""TensorBoard event files written after the fact from each run's history.csv.

    python scripts/tensorboard_export.py logs/ --out tb/
    tensorboard --logdir tb/        # (pip install tensorboard to view)

Each run folder below the log folder gets an event folder at the same relative
path under the output (tb/cifar/all-cnns/quality_25/seed_0/), holding one event
file with a scalar per epoch (step = epoch) for every number in history.csv:
loss, accuracy, val_loss, val_accuracy, lr, seconds. The scalars are written
with tf.summary.write as TensorBoard's scalar summaries are, so no TensorBoard
install is needed to write them. Exporting again replaces the event files this
export wrote there (their name ends in `.history`, and each event folder's
manifest lists them: helmholtz.run.outputs) and touches nothing else; any other
event file of that name is refused before anything is written.
"""
import sys
from pathlib import Path

from helmholtz.cli import Parser
from helmholtz.errors import UsageError
from helmholtz.run.layout import find_runs, read_history
from helmholtz.run.outputs import claim, record, written_here

SUFFIX = ".history"  # ends the name of every event file written here
EVENTS = f"events.out.tfevents.*{SUFFIX}"


def _scalar_metadata():
    """What tensorboard.summary.scalar attaches: the scalars plugin, version 0."""
    from helmholtz.backend import tf  # noqa: F401  (TensorFlow's start-up kept quiet first)
    from tensorflow.core.framework import summary_pb2
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars", content=b""))


def write_events(history, folder):
    """One event file in `folder` with the history's numbers as scalars per epoch."""
    from helmholtz.backend import tf
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ours = written_here(folder)
    for old in folder.glob(EVENTS):
        if old.name in ours:
            old.unlink()  # a previous export's: replaced, not doubled
    metadata = _scalar_metadata()
    writer = tf.summary.create_file_writer(str(folder), filename_suffix=SUFFIX)
    with writer.as_default():
        for row in history:
            for tag, value in row.items():
                if tag != "epoch":
                    tf.summary.write(tag, tf.constant(float(value), tf.float32),
                                     step=int(row["epoch"]), metadata=metadata)
    writer.close()
    record(folder, [EVENTS])


def export(root, out):
    """Event files for every run below `root`; (runs exported, one line per folder skipped)."""
    root, out = Path(root), Path(out)
    histories, problems = {}, []
    for folder in find_runs(root):
        try:
            histories[folder] = read_history(folder)
        except (ValueError, OSError) as e:
            problems.append(f"{folder}: {e}; not exported")
    for folder in histories:  # every event folder is checked before any is written
        claim(out / folder.relative_to(root), [EVENTS])
    done = 0
    for folder, history in histories.items():
        if history:
            write_events(history, out / folder.relative_to(root))
            done += 1
    return done, problems


def main(argv=None):
    parser = Parser(prog="tensorboard_export.py",
                    description="Write TensorBoard event files from the history.csv of every run "
                                "below a log folder.")
    parser.add_argument("root", help="log folder holding the run folders, e.g. logs/")
    parser.add_argument("--out", required=True, help="folder for the event files, e.g. tb/ "
                        "(then: tensorboard --logdir tb/)")
    args = parser.parse_args(argv)
    root, out = Path(args.root), Path(args.out)
    if not root.is_dir():
        raise UsageError(f"log folder {root} does not exist; pass the folder that holds the runs")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the event files")
    where = out.resolve()
    if where == root.resolve() or any(f.resolve() in (where, *where.parents) for f in find_runs(root)):
        # the event files would land in run folders, among the trainer's files
        raise UsageError(f"--out {out} would put event files into the run folders of {root}; "
                         "give another folder, e.g. tb/")
    done, problems = export(root, out)
    for line in problems:
        print(f"warning: {line}", file=sys.stderr)
    print(f"wrote the histories of {done} run(s) to {out}; view them with: tensorboard --logdir {out}")
