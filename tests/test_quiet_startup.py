"""TensorFlow's C++ start-up notes (CUDA probing: "failed call to cuInit", oneDNN
banners) stay off the terminal of every command, as helmholtz/backend.py keeps them."""
import os
import re
import subprocess
import sys

from helmholtz import REPO

PACKAGES = ("helmholtz", "cifar", "audio", "scripts")
TF_IMPORT = re.compile(r"^\s*(?:import (?:tensorflow|keras)\b|from (?:tensorflow|keras)[\w.]* import)", re.M)
BACKEND_IMPORT = re.compile(r"^\s*(?:from helmholtz\.backend import|import helmholtz\.backend)", re.M)


def test_every_module_that_uses_tensorflow_imports_it_through_the_backend_first():
    for path in sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py")):
        if path == REPO / "helmholtz" / "backend.py":
            continue
        text = path.read_text()
        first_tf = TF_IMPORT.search(text)
        if first_tf:
            backend = BACKEND_IMPORT.search(text)
            assert backend and backend.start() < first_tf.start(), \
                f"{path.relative_to(REPO)} imports TensorFlow or Keras before helmholtz.backend"


def test_the_tensorboard_export_starts_quietly(tmp_path):
    run = tmp_path / "logs" / "cifar" / "all-cnns" / "quality_5" / "seed_0"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n"
                                     "1,2.3,0.1,2.3,0.1,0.01,1.0\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "CUDA_VISIBLE_DEVICES")}
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "tensorboard_export.py"),
                           str(tmp_path / "logs"), "--out", str(tmp_path / "tb")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "wrote the histories of 1 run(s)" in proc.stdout, proc.stderr
    assert proc.stderr == ""
