"""The README as a newcomer follows it after `make setup`: its quick commands run
verbatim in a fresh shell, the environment variables the code reads are documented,
and the layout table names files that exist."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helmholtz import REPO

README = (REPO / "README.md").read_text()
# What `source .venv/bin/activate` puts first on PATH: the environment running the tests.
VENV_BIN = Path(sys.executable).parent
# The commands that finish in seconds: help, dry runs, imports.
QUICK = re.compile(r" --help$| --dry_run$|^python -c ")


def section(title):
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def shell_lines(text):
    """The command of each line of the ```bash blocks of `text`, without its comment."""
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    return [re.split(r"\s+# ", line)[0].strip() for block in blocks for line in block.splitlines()
            if line.strip()]


def fresh_shell(command, cwd, home):
    """`command` in bash with no profile and none of this process's environment but PATH."""
    env = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
           "HELMHOLTZ_CACHE": str(home / "cache"), "LANG": "C.UTF-8"}
    return subprocess.run(["bash", "--noprofile", "--norc", "-c", command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


QUICK_COMMANDS = [c for c in shell_lines(README) if QUICK.search(c)]


def test_the_setup_activates_the_environment_before_any_command():
    assert shell_lines(section("Setup"))[0] == "source .venv/bin/activate"
    assert len(QUICK_COMMANDS) >= 3, QUICK_COMMANDS  # help, a dry run and the import


@pytest.mark.parametrize("command", QUICK_COMMANDS)
def test_quick_readme_command_runs_as_written(command, tmp_path):
    proc = fresh_shell(command, REPO, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if command.endswith("--help"):
        assert proc.stdout.startswith("usage: ")
    if command.endswith("--dry_run"):
        assert re.search(r"^run +\S", proc.stdout, re.M), proc.stdout[-2000:]


def test_the_packages_import_from_another_folder(tmp_path):
    imports = [c for c in QUICK_COMMANDS if c.startswith("python -c \"import")]
    assert imports
    for command in imports:
        proc = fresh_shell(command, tmp_path, tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_spelled_out_commands_run_without_activating(tmp_path):
    """The README's `.venv/bin/...` commands, where `make setup` made the .venv."""
    spelled = [c for c in re.findall(r"`(\.venv/bin/[^`]+)`", README) if QUICK.search(c)]
    assert spelled
    if not (REPO / ".venv" / "bin").is_dir():
        pytest.skip("no .venv in this clone: `make setup` makes it")
    for command in spelled:
        proc = fresh_shell(command, REPO, tmp_path)
        assert proc.returncode == 0 and proc.stdout.startswith("usage: "), proc.stderr[-2000:]


# How Python and shell code read a variable.
ENV_READS = [r"environ\.get\(\"([A-Z_]+)\"", r"environ\[\"([A-Z_]+)\"\]",
             r"\"([A-Z_]+)\" in environ", r"getenv\(\"([A-Z_]+)\"",
             r"environ\.setdefault\(\"([A-Z_]+)\"", r"\$\{([A-Z_]+):-"]


def test_every_environment_variable_the_code_reads_is_documented():
    sources = [*REPO.glob("helmholtz/**/*.py"), *REPO.glob("cifar/*.py"), *REPO.glob("audio/*.py"),
               *REPO.glob("scripts/*.py"), *REPO.glob("scripts/*.sh")]
    read = {name for path in sources for pattern in ENV_READS
            for name in re.findall(pattern, path.read_text())}
    make = set(re.findall(r"^([A-Z_]+) *\?=", (REPO / "Makefile").read_text(), re.M))
    assert {"HELMHOLTZ_CACHE", "VENV"} <= read | make  # the scan finds what it looks for
    documented = set(re.findall(r"`([A-Z_]+)`", section("Environment")))
    assert read | make <= documented, sorted((read | make) - documented)


def test_the_layout_table_names_files_that_exist():
    rows = re.findall(r"^\| `([^`|]+/)` \| (.*) \|$", section("Layout"), re.M)
    named = [(folder, name) for folder, job in rows for name in re.findall(r"`([\w*]+\.\w+)`", job)]
    assert len(named) > 20
    missing = [folder + name for folder, name in named if not list((REPO / folder).glob(name))]
    assert not missing, missing
