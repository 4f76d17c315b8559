"""`make gpu-check` on a machine without a GPU: one line saying so, exit 1, nothing
measured (and TensorFlow's start-up notes kept off the terminal)."""
import os
import subprocess
import sys

from helmholtz import REPO


def test_without_a_gpu_the_check_says_so_in_one_line_and_exits_1(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_check.py"), "--keep", str(tmp_path / "k")],
                          cwd=REPO, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.startswith("gpu-check: no GPU here") and proc.stderr.count("\n") == 1, proc.stderr
    assert "nothing measured" in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "k").exists()
