"""The job array on a real SLURM: a one-node cluster of Debian's slurm-wlm and munge,
configured and started by the test (as root; installed with apt-get when missing),
runs every task, and the next call submits only the runs not yet complete."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helmholtz.sweep import slurm

STAND_IN = Path(__file__).parent / "stand_in_train.py"
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch")

SLURM_CONF = """\
ClusterName=helmholtz-test
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
AuthInfo=socket={root}/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def installed():
    return all(shutil.which(d) or shutil.which(d, path="/usr/sbin:/usr/bin") for d in DAEMONS)


@pytest.fixture(scope="module")
def cluster():
    """The environment in which sbatch and squeue talk to a one-node SLURM of the test's own."""
    if os.geteuid() != 0:
        pytest.skip("a SLURM of the test's own needs root (munged, slurmctld and slurmd run as root)")
    if not installed():
        if not shutil.which("apt-get"):
            pytest.skip("needs Debian's slurm-wlm and munge (no apt-get here to install them)")
        got = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends",
                              "slurm-wlm", "munge"], capture_output=True, text=True, timeout=600,
                             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if got.returncode or not installed():
            pytest.skip(f"could not install slurm-wlm and munge: {got.stderr.strip()[-300:]}")
    root = Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))  # short: munge's socket path
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    host = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, root=root, cpus=os.cpu_count(),
                                      ctld_port=free_port(), d_port=free_port()))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    sbin = lambda name: shutil.which(name) or f"/usr/sbin/{name}"  # noqa: E731
    subprocess.run([sbin("munged"), "--force", f"--key-file={key}", f"--socket={root}/munge.sock",
                    f"--pid-file={root}/munged.pid", f"--log-file={root}/munged.log",
                    f"--seed-file={root}/munged.seed"], check=True, timeout=30)
    try:
        subprocess.run([sbin("slurmctld"), "-f", str(conf)], check=True, env=env, timeout=30)
        subprocess.run([sbin("slurmd"), "-f", str(conf)], check=True, env=env, timeout=30)
        for _ in range(60):  # the node registers within seconds
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
            if state.stdout.strip() == "idle":
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the test's SLURM node never became idle: {state.stdout}{state.stderr}; "
                        f"see {root}/slurmctld.log and slurmd.log")
        yield env
    finally:
        subprocess.run(["scontrol", "shutdown"], env=env, capture_output=True, timeout=30)
        pid_file = root / "munged.pid"
        if pid_file.is_file():
            os.kill(int(pid_file.read_text()), 15)
        time.sleep(1)
        shutil.rmtree(root, ignore_errors=True)


def submit(argv, workdir, env):
    """Write the array as scripts/slurm.py does, submit it and wait for every task."""
    options, args, train_args = slurm.parse_args(argv)
    commands, todo, done, _ = slurm.write_job(options, args, train_args, workdir=workdir)
    if commands is None:
        return todo, done, None
    ran = subprocess.run(["sbatch", "--wait", str(commands.with_suffix(".sbatch"))], cwd=workdir,
                         env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return todo, done, ran.stdout


def test_the_array_runs_on_slurm_and_a_rerun_submits_only_what_is_not_complete(cluster, tmp_path):
    logs = tmp_path / "logs"
    argv = ["audio", "--levels", "8", "16", "32", "--models", "cnn_x3_mlp_0", "--log_dir", str(logs),
            "--python", sys.executable, "--trainer", str(STAND_IN), "--gpus_per_run", "0",
            "--cpus_per_run", "1", "--", "--num_epoch", "3"]
    todo, done, said = submit(argv, tmp_path, cluster)
    assert len(todo) == 3 and not done and said.startswith("Submitted batch job")
    assert all((r.folder / "result.json").is_file() for r in todo)  # every task ran its run
    task_logs = sorted((logs / "sweep-logs").glob("helmholtz-audio-*_*.log"))
    assert len(task_logs) == 3 and all("task " in log.read_text() for log in task_logs)

    (todo[1].folder / "result.json").unlink()  # as a run killed by its time limit
    again, done, _ = submit(argv, tmp_path, cluster)
    assert again == [todo[1]] and done == [todo[0], todo[2]]
    calls = (logs / "stand_in_calls.txt").read_text().splitlines()
    assert sorted(calls) == sorted(["audio 0 8 0", "audio 0 16 0", "audio 0 32 0", "audio 0 16 0"])
    assert all((r.folder / "result.json").is_file() for r in todo)
    assert submit(argv, tmp_path, cluster)[2] is None  # all complete: nothing submitted
