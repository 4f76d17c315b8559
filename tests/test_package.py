"""The package as pyproject.toml and the requirements declare it: every library the
code imports is pinned, every pin is used, every package and command is there."""
import ast
import importlib
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from helmholtz import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PACKAGES = PYPROJECT["tool"]["setuptools"]["packages"]
# Pins used without an import of their own.
USED_INDIRECTLY = {"soxr": "librosa's resampler, res_type='soxr_hq' (audio/codec.py)"}


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(*files):
    """Distribution names of the requirement lines of `files`."""
    names = set()
    for name in files:
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                names.add(normalized(re.match(r"[A-Za-z0-9_.-]+", line)[0]))
    return names


def imported_modules(folders):
    """Top-level names of the modules imported anywhere in the .py files of `folders`."""
    names = set()
    for folder in folders:
        for path in (REPO / folder).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - sys.stdlib_module_names - set(PACKAGES)


def test_every_library_the_code_imports_is_pinned():
    pinned = pins("requirements.txt", "requirements-ray.txt", "requirements-test.txt",
                  "requirements-nodeps.txt")
    local = {p.stem for p in (REPO / "tests").glob("*.py")}
    modules = imported_modules([*PACKAGES, "scripts", "tests"]) - local
    assert {"numpy", "tensorflow", "sklearn", "pytest"} <= modules  # the scan finds imports
    distributions = packages_distributions()
    unpinned = {m: distributions.get(m) for m in modules
                if not pinned & {normalized(d) for d in distributions.get(m, [m])}}
    assert not unpinned


def test_every_pinned_library_is_used():
    distributions = packages_distributions()
    imported = {normalized(d) for m in imported_modules([*PACKAGES, "scripts"])
                for d in distributions.get(m, [m])}
    unused = pins("requirements.txt") - imported - set(USED_INDIRECTLY)
    assert not unused


def test_the_packages_are_the_folders_that_hold_one():
    folders = {p.parent.name for p in REPO.glob("*/__init__.py")}
    assert set(PACKAGES) == folders


def test_every_command_names_a_function():
    commands = PYPROJECT["project"]["scripts"]
    assert {"cifar-train", "audio-train", "helmholtz-sweep", "helmholtz-report"} <= set(commands)
    for command, target in commands.items():
        module, _, name = target.partition(":")
        assert callable(getattr(importlib.import_module(module), name)), command


def test_every_command_is_installed_beside_python():
    """`make setup` reinstalls when pyproject.toml changes, so no command is missing."""
    bin_folder = Path(sys.executable).parent
    missing = [c for c in PYPROJECT["project"]["scripts"] if not (bin_folder / c).is_file()]
    assert not missing


@pytest.mark.parametrize("argv, fragment", [(["cifar-train", "--quality", "500"], "quality '500'"),
                                            (["helmholtz-sweep", "speech"], "'speech'")])
def test_bad_input_to_a_command_is_one_line(argv, fragment, tmp_path):
    proc = subprocess.run([str(Path(sys.executable).parent / argv[0]), *argv[1:]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and fragment in proc.stderr
