"""Run folders without training: checked readers, --force, locks, the state a
folder is in before any data is loaded, and the caches' checksums and build locks."""
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from helmholtz.data import cache
from helmholtz.errors import UsageError
from helmholtz.run.folder import open_run
from helmholtz.run.layout import (DamagedFile, lock_holder, read_history, read_json, run_lock)

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"domain": "cifar", "model": "all-cnns", "seed": 0, "batch_size": 128, "num_epoch": 3,
            "subset": None}


def write_run(folder, epochs=3, complete=True, **config):
    """A run folder as the trainer leaves it (checkpoints as placeholders)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {**SETTINGS, "versions": {}, "code_family": 2, "train_size": 600, **config}
    (folder / "config.json").write_text(json.dumps(config))
    rows = ["epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds"]
    rows += [f"{e},1.0,0.5,1.0,0.{e},0.01,1.00" for e in range(1, epochs + 1)]
    (folder / "history.csv").write_text("\n".join(rows) + "\n")
    for name in ("last.keras", "best.keras"):
        (folder / name).write_bytes(b"model")
    if complete:
        (folder / "result.json").write_text(json.dumps({"epochs": epochs, "complete": True}))
    return folder


def spawn(code, *args):
    """A Python child running `code`, after it has printed its first line."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


HOLD_LOCK = """
    import sys, time
    from helmholtz.run.layout import run_lock
    lock = run_lock(sys.argv[1]); lock.acquire()
    print("ready", flush=True); time.sleep(60)
"""


# ---------------------------------------------------------------- checked readers

@pytest.mark.parametrize("text, reason", [("{\"epochs\": 3", "invalid JSON"), ("[1, 2]", "not a JSON object"),
                                          (b"\xff\xfe{}", "not UTF-8")])
def test_damaged_json_is_one_named_error(tmp_path, text, reason):
    path = tmp_path / "result.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DamagedFile) as e:
        read_json(path)
    assert str(path) in str(e.value) and reason in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, UsageError) and isinstance(e.value, ValueError)


@pytest.mark.parametrize("body, reason", [
    ("1,1.0,0.5,1.0,abc,0.01,1.0\n", "val_accuracy='abc'"),
    ("1,1.0,0.5,1.0\n", "val_accuracy=None"),
    ("2,1.0,0.5,1.0,0.5,0.01,1.0\n", "row 1 is epoch 2"),
    ("1,1.0,0.5,1.0,0.5,0.01,1.0,extra\n", "row 1"),
])
def test_damaged_history_is_one_named_error(tmp_path, body, reason):
    (tmp_path / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n" + body)
    with pytest.raises(DamagedFile, match=reason):
        read_history(tmp_path)


def test_history_of_a_diverged_run_reads_back(tmp_path):
    write_run(tmp_path, epochs=1)
    text = (tmp_path / "history.csv").read_text().replace("1.0,0.5", "nan,0.1", 1)
    (tmp_path / "history.csv").write_text(text)
    assert np.isnan(read_history(tmp_path)[0]["loss"])


# ---------------------------------------------------------------- --force and foreign files

def test_force_removes_only_the_runs_own_files(tmp_path):
    folder = write_run(tmp_path / "run")
    (folder / ".last.keras.ab12cd.tmp.keras").write_bytes(b"")  # a killed save's temporary file
    (folder / "notes.txt").write_text("mine")
    (folder / "plots").mkdir()
    assert state(folder, force=True) == "new"
    assert sorted(p.name for p in folder.iterdir()) == [".lock", "notes.txt", "plots"]


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_of_other_files_is_refused_and_left_alone(tmp_path, force):
    (tmp_path / "thesis.tex").write_text("years of work")
    (tmp_path / "config.json").write_text("{\"not\": \"ours\"}")
    with pytest.raises(UsageError, match="not a run's.*thesis.tex"):
        open_run(tmp_path, SETTINGS, force=force)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "thesis.tex"]


def test_a_trainer_that_fails_before_writing_leaves_no_folder_behind(tmp_path):
    folder = tmp_path / "logs" / "cifar" / "seed_0"
    code = """
        import sys
        from helmholtz.errors import UsageError, cli_main
        from helmholtz.run.folder import open_run
        def main():
            open_run(sys.argv[1], {"num_epoch": 1})
            raise UsageError("the data is missing")  # as a failed data load
        cli_main(main)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(folder)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr == "error: the data is missing\n"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- locks

def test_a_second_trainer_is_refused_naming_the_holder(tmp_path):
    holder = spawn(HOLD_LOCK, tmp_path)
    try:
        assert lock_holder(tmp_path) == f"pid {holder.pid} on {socket.gethostname()}"
        with pytest.raises(UsageError) as e:
            open_run(tmp_path, SETTINGS)
        assert f"pid {holder.pid} on {socket.gethostname()}" in str(e.value)
    finally:
        holder.kill()
        holder.wait()
    # The holder died by SIGKILL: its lock file is left, the lock is free and taken over.
    assert (tmp_path / ".lock").read_text().startswith(f"pid {holder.pid} ")
    assert lock_holder(tmp_path) is None
    run = open_run(tmp_path, SETTINGS)
    assert run.state == "new"
    assert lock_holder(tmp_path) == f"pid {os.getpid()} on {socket.gethostname()}"
    run.close()
    assert (tmp_path / ".lock").read_text() == f"pid {os.getpid()} on {socket.gethostname()}\n"


def test_lock_holder_of_a_folder_without_a_lock_is_none(tmp_path):
    assert lock_holder(tmp_path / "missing") is None and lock_holder(tmp_path) is None
    lock = run_lock(tmp_path)
    lock.acquire()
    lock.release()
    assert lock_holder(tmp_path) is None


# ---------------------------------------------------------------- state before the data

def state(folder, settings=SETTINGS, **flags):
    run = open_run(folder, settings, **flags)
    run.close()
    return run.state


def test_complete_run_answers_before_any_data(tmp_path, capsys):
    folder = write_run(tmp_path)
    assert state(folder) == "complete"
    assert "is complete" in capsys.readouterr().out
    assert state(folder, {**SETTINGS, "num_epoch": 5}) == "resume"  # extended
    assert (folder / "result.json").exists()  # until the first new epoch is written
    with pytest.raises(UsageError, match=r"other settings \(batch_size\)"):
        open_run(folder, {**SETTINGS, "batch_size": 64})


def test_a_capped_subset_asks_for_the_same_run(tmp_path):
    folder = write_run(tmp_path)  # all 600 samples, recorded as no subset
    assert state(folder, {**SETTINGS, "subset": 5000}) == "complete"
    with pytest.raises(UsageError, match="subset"):
        open_run(folder, {**SETTINGS, "subset": 300})


def test_runs_of_another_code_family_are_not_resumed(tmp_path):
    folder = write_run(tmp_path, code_family=1)
    with pytest.raises(UsageError, match="code_family"):
        open_run(folder, SETTINGS)


def test_damaged_result_is_computed_again(tmp_path, capsys):
    folder = write_run(tmp_path)
    (folder / "result.json").write_text("{\"epochs\": 3,")
    assert state(folder) == "resume"  # the trainer recomputes the result
    assert "result.json is damaged" in capsys.readouterr().out
    assert not (folder / "result.json").exists()


def test_a_result_that_disagrees_with_history_is_kept_until_the_run_checks_out(tmp_path, capsys):
    folder = write_run(tmp_path)
    kept = (folder / "result.json").read_bytes()
    rows = (folder / "history.csv").read_text().splitlines(keepends=True)
    (folder / "history.csv").write_text("".join(rows[:3]))  # two epochs of three: history damaged
    assert state(folder) == "resume"  # resuming checks last.keras against the history next
    assert (folder / "result.json").read_bytes() == kept


def fake_checkpoint(path, identity):
    """A .keras-like zip carrying a run identity (no model: the check reads only the zip)."""
    import zipfile
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
        if identity is not None:
            z.writestr("helmholtz-run.json", json.dumps(identity, sort_keys=True))


@pytest.mark.parametrize("change", [{"level": 5}, {"seed": 1}, {"model": "cnns-dense-64"},
                                    {"batch_size": 64}])
def test_a_checkpoint_of_another_run_is_refused_before_it_is_resumed(tmp_path, change):
    from helmholtz.run.checkpoints import resume_state
    from helmholtz.run.folder import run_identity
    settings = {**SETTINGS, "level": 25}
    folder = write_run(tmp_path, complete=False, level=25)
    fake_checkpoint(folder / "last.keras", run_identity({**settings, **change}))
    fake_checkpoint(folder / "best.keras", run_identity(settings))
    run = open_run(folder, settings)
    try:
        with pytest.raises(UsageError, match="last.keras is a checkpoint of another run"):
            resume_state(run, steps=1)
    finally:
        run.close()
    # the run's own identity (also with more epochs asked) and a checkpoint without one pass
    assert run_identity({**settings, "num_epoch": 9}) == run_identity(settings)
    from helmholtz.run.checkpoints import check_identity
    fake_checkpoint(folder / "last.keras", None)
    check_identity(folder / "last.keras", run_identity(settings))


def test_a_saved_checkpoint_carries_its_identity_and_still_loads(tmp_path):
    from helmholtz.backend import keras
    from helmholtz.run.checkpoints import check_identity, load_checkpoint, save_model
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    identity = {"experiment": "abc", "level": "25", "seed": 0}
    save_model(model, tmp_path / "last.keras", identity)
    assert load_checkpoint(tmp_path / "last.keras").count_params() == 3
    check_identity(tmp_path / "last.keras", identity)
    with pytest.raises(UsageError, match=r"another run \(level 25, not 5, seed 0, not 1\)"):
        check_identity(tmp_path / "last.keras", {**identity, "level": "5", "seed": 1})


@pytest.mark.parametrize("name, text", [("config.json", "{"), ("history.csv", "epoch,loss\n1,x\n")])
def test_damaged_config_or_history_stops_or_restarts_on_request(tmp_path, name, text):
    folder = write_run(tmp_path, complete=False)
    (folder / name).write_text(text)
    with pytest.raises(DamagedFile) as e:
        open_run(folder, SETTINGS)
    assert name in str(e.value) and "--restart_damaged" in str(e.value)
    assert (folder / "last.keras").exists()  # nothing removed without the flag
    assert state(folder, restart_damaged=True) == "new"
    assert sorted(p.name for p in folder.iterdir()) == [".lock"]


# ---------------------------------------------------------------- caches

def test_flipped_bytes_in_a_cache_are_found_and_it_is_rebuilt(tmp_path, capsys):
    path, record = tmp_path / "c.h5", {"format": 1}
    data = np.arange(40_000, dtype=np.uint8).reshape(100, 400) % 251
    cache.write_h5(path, {"data": data, "names": np.array(["a", "b"])}, record)
    np.testing.assert_array_equal(cache.read_h5(path, record)["data"], data)
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(data[50].tobytes())  # the array's bytes, inside the HDF5 file
    assert at > 0
    raw[at + 7] ^= 0x10
    path.write_bytes(bytes(raw))
    assert cache.read_h5(path, record) is None  # the caller rebuilds...
    assert "damaged" in capsys.readouterr().err
    cache.write_h5(path, {"data": data, "names": np.array(["a", "b"])}, record)  # ...and writes
    np.testing.assert_array_equal(cache.read_h5(path, record)["data"], data)


def test_caches_without_checksums_are_not_trusted(tmp_path):
    import h5py
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.zeros(3))
        f.attrs["format"] = "1"
    assert cache.read_h5(path, {"format": 1}) is None
    cache._release_build_lock(path)


BUILD = """
    import sys, time
    import numpy as np
    from helmholtz.data import cache
    path, log = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    arrays = cache.read_h5(path, {"v": 1})
    if arrays is None:
        with open(log, "a") as f:
            f.write("built\\n")
        time.sleep(1.5)
        arrays = {"data": np.arange(10)}
        cache.write_h5(path, arrays, {"v": 1})
    print(int(arrays["data"].sum()), flush=True)
"""


def test_one_process_builds_a_cache_the_others_wait_and_read(tmp_path):
    path, log = tmp_path / "c.h5", tmp_path / "builds.txt"
    procs = [spawn(BUILD, path, log) for _ in range(3)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outs == ["45"] * 3 and log.read_text() == "built\n"


def test_disk_full_names_the_file_and_leaves_no_temporary(tmp_path):
    """On a real full file system: a tmpfs of 64 KiB (in a private mount namespace)."""
    script = textwrap.dedent("""
        import sys, numpy as np
        from helmholtz.data.cache import write_h5
        from helmholtz.errors import cli_main
        cli_main(lambda: write_h5(sys.argv[1] + "/big.h5", {"a": np.zeros(100_000)}, {}))
    """)
    mount = tmp_path / "small"
    mount.mkdir()
    shell = (f"mount -t tmpfs -o size=64k tmpfs {mount} && {sys.executable} -c '{script}' {mount}; "
             f"echo rc=$?; ls -A {mount}")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", shell], cwd=REPO, capture_output=True,
                          text=True)
    if "rc=" not in proc.stdout:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()[:200]}")
    assert "rc=2" in proc.stdout and proc.stdout.strip().endswith("rc=2")  # nothing left in it
    assert proc.stderr.strip() == f"error: disk full while writing {mount}/big.h5; free some " \
        "space (or point --cache_dir/--log_dir elsewhere) and run again"


def test_checksums_are_verified_once_per_file_per_process(tmp_path, monkeypatch):
    path, record = tmp_path / "c.h5", {"format": 1}
    cache.write_h5(path, {"data": np.arange(10)}, record)
    cache.read_h5(path, record)
    calls = []
    monkeypatch.setattr(cache, "_crc", lambda arr: calls.append(arr) or 0)
    assert cache.read_h5(path, record) is not None and calls == []


# ---------------------------------------------------------------- steps and the subset

def test_steps_per_epoch_are_whole_batches_as_keras_2_fit_generator(capsys):
    from helmholtz.run.training import steps_per_epoch, train_batches
    # Keras 2.1.5 legacy interface: samples_per_epoch // generator.batch_size.
    assert steps_per_epoch(50_000, 128, drop_last_batch=True) == 390
    assert steps_per_epoch(50_000, 128) == 391  # model.fit (the audio half): the last batch too
    x, y = np.arange(10), np.arange(10)
    batches = [b.numpy() for b, _ in train_batches(x, y, 4, 7, 0, 3, lambda a, s, training: a,
                                                   drop_last_batch=True)]
    assert [len(b) for b in batches] == [4] * 6
    import tensorflow as tf
    for epoch in range(3):  # each epoch: the first 8 of that epoch's shuffle; 2 are left out
        order = tf.random.experimental.stateless_shuffle(tf.range(10), seed=[7, epoch]).numpy()
        np.testing.assert_array_equal(np.concatenate(batches[2 * epoch:2 * epoch + 2]), order[:8])


def test_a_subset_larger_than_the_data_is_capped_and_recorded_as_all(capsys):
    from helmholtz.run.splits import Data
    from helmholtz.run.training import full_config
    data = Data(train=(np.zeros((300, 2)), np.zeros(300)), val=(np.zeros((5, 2)), np.zeros(5)))
    config = {"batch_size": 128, "drop_last_batch": True, "subset": 5000}
    recorded = full_config(config, data)
    assert recorded["subset"] is None and recorded["train_size"] == 300
    assert recorded["steps_per_epoch"] == 2 and recorded["code_family"] == 2
    assert "--subset 5000 is more than the 300 training samples" in capsys.readouterr().out
    assert full_config({**config, "subset": 300}, data)["subset"] == 300  # not capped: as given
    with pytest.raises(UsageError, match="no whole batch of 512"):
        full_config({**config, "batch_size": 512}, data)


def test_float32_runs_without_tf32():
    """TF32 would round float32 convolutions to a 10-bit mantissa on recent GPUs."""
    from helmholtz.backend import tf
    from helmholtz.run.training import set_precision
    try:
        set_precision("float32")
        assert not tf.config.experimental.tensor_float_32_execution_enabled()
        set_precision("mixed_bfloat16")
        assert tf.config.experimental.tensor_float_32_execution_enabled()
    finally:
        set_precision("float32")


def test_both_trainers_default_to_float32_as_the_original():
    """bf16 would round the inputs (mel values to a quarter dB and coarser) and erase
    part of what the codec changed; it is an explicit option only."""
    from audio import train as audio_train
    from cifar import train as cifar_train
    assert cifar_train.parse_args([]).precision == "float32"
    assert audio_train.parse_args([]).precision == "float32"
    assert cifar_train.parse_args(["--precision", "mixed_bfloat16"]).precision == "mixed_bfloat16"
