"""Live progress: a sweep shows its runs done / running / queued and each running run's
epoch n of N with its ETA (plain lines in a log, a tqdm display on a terminal); a run's
own epoch lines carry the ETA."""
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import numpy as np

from helmholtz import REPO
from helmholtz.run.progress import duration, status

STAND_IN = REPO / "tests" / "stand_in_train.py"

# A trainer that prints three epoch lines 0.4 s apart, then does what the stand-in does.
SLOW_TRAINER = f"""
import runpy, sys, time
for epoch in (1, 2, 3):
    print(f"epoch {{epoch}}/3  loss 1.0  0.4s  eta {{(3 - epoch) * 0.4:.1f}}s", flush=True)
    time.sleep(0.4)
sys.argv[0] = {str(STAND_IN)!r}
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def sweep_command(tmp_path, *extra):
    trainer = tmp_path / "slow_train.py"
    trainer.write_text(SLOW_TRAINER)
    return [sys.executable, str(REPO / "scripts" / "sweep.py"), "audio", "--levels", "8", "16", "32",
            "--models", "cnn_x3_mlp_0", "--log_dir", str(tmp_path / "logs"), "--trainer", str(trainer),
            "--gpus", "none", "--jobs", "2", *extra]


def test_a_sweep_in_a_log_reports_done_running_queued_and_each_runs_epoch(tmp_path):
    proc = subprocess.run(sweep_command(tmp_path, "--progress_every", "0.3"), cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert re.search(r"^progress \d\d:\d\d:\d\d: 0/3 done, 2 running, 1 queued$", out, re.M), out
    assert re.search(r"^progress \S+: 2/3 done, 1 running, 0 queued$", out, re.M), out
    assert re.search(r"^  running  audio cnn_x3_mlp_0 bitrate_\d+ seed 0: epoch [123]/3, eta \d", out,
                     re.M), out
    assert "sweep finished: 3 ran" in out


def test_a_sweep_on_a_terminal_draws_a_live_display(tmp_path):
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))  # a real size
    proc = subprocess.Popen(sweep_command(tmp_path), cwd=REPO, stdout=secondary, stderr=secondary,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
    os.close(secondary)
    shown = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed with the sweep
            break
        if not chunk:
            break
        shown += chunk
    assert proc.wait(timeout=60) == 0
    os.close(primary)
    text = shown.decode(errors="replace")
    assert re.search(r"runs: .*\| [0-3]/3 .*running, \d queued", text), text[-3000:]
    assert re.search(r"audio cnn_x3_mlp_0 bitrate_\d+ seed 0: epoch [123]/3 .*eta \d", text), text[-3000:]
    assert "sweep finished: 3 ran" in text


def test_status_reads_the_last_epoch_line_of_a_log(tmp_path):
    log = tmp_path / "run.log"
    assert status(log) == "starting"
    log.write_text("# command\nepoch 1/20  loss 2.3  10.0s  eta 3m10s\nEpoch 2/20 keras bar\n"
                   "epoch 2/20  loss 2.1  10.2s  eta 3m04s\n")
    assert status(log) == "epoch 2/20, eta 3m04s"
    assert [duration(s) for s in (0.4, 59, 185, 3725)] == ["0s", "59s", "3m05s", "1h02m"]


def test_a_runs_epoch_lines_carry_its_eta(tmp_path, capsys):
    from helmholtz.backend import keras
    from helmholtz.run.training import RunRecorder
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = np.zeros((8, 4), np.float32), np.zeros(8, np.int64)
    model.fit(x, y, validation_data=(x, y), epochs=3, verbose=0,
              callbacks=[RunRecorder(tmp_path, [], 3)])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 3
    assert all(re.search(r"\d+\.\ds  eta \d+s$", line) for line in lines), lines
    assert lines[-1].endswith("eta 0s")
