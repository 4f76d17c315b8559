"""The package as pyproject.toml and the requirements declare it: every library the
code imports is pinned, every pin is used, every package and command is there."""
import ast
import graphlib
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
TOP_PACKAGES = {p.split(".")[0] for p in PACKAGES}
# The core's jobs, in the order they may import each other (helmholtz/__init__.py).
JOBS = ["data", "run", "sweep", "analysis", "report", "bench"]
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
        for path in (REPO / folder.replace(".", "/")).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names - sys.stdlib_module_names - TOP_PACKAGES


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
    folders = {".".join(p.parent.relative_to(REPO).parts) for p in REPO.glob("**/__init__.py")
               if p.parts[len(REPO.parts)] in TOP_PACKAGES}
    assert set(PACKAGES) == folders
    assert {"helmholtz.run", "helmholtz.analysis"} <= folders  # the scan finds sub-packages


def core_imports():
    """(importing module, imported module, at module level?) for every import of this
    project's packages in the core, as dotted names."""
    modules = {".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (REPO / "helmholtz").rglob("*.py")}
    edges = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and \
                    node.module.split(".")[0] in TOP_PACKAGES:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] in TOP_PACKAGES]
            else:
                continue
            edges += [(name, target, id(node) in top_level) for target in targets]
    return modules, edges


def job(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in JOBS else None


def test_the_core_imports_its_jobs_in_order_and_names_no_domain():
    modules, edges = core_imports()
    assert {job(m) for m in modules} == {None, *JOBS}
    assert len(edges) > 100  # the scan finds the imports
    upward = [(a, b) for a, b, _ in edges if a != "helmholtz.commands" and job(b) and (
        job(a) is None or JOBS.index(job(b)) > JOBS.index(job(a)))]
    assert not upward
    domains = [(a, b) for a, b, _ in edges if b.split(".")[0] != "helmholtz"]
    assert not domains
    # No circle among the imports run when a module loads.
    graph = {}
    for a, b, at_load in edges:
        if at_load and a != b:
            graph.setdefault(a, set()).add(b)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        raise AssertionError(f"import circle: {' -> '.join(error.args[1])}") from None


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
