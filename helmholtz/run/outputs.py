"""The one rule of every command that writes outside a run folder: it creates files,
or replaces files it wrote there itself; anything else is refused before any work.

Each output folder keeps a manifest, `.helmholtz-outputs`, of the names this
program wrote in it (one a line). `claim` checks, before anything is written,
every existing entry a command may write (its names, or glob patterns for names
known only later, such as plots; "!pattern" leaves out names another command
writes there): each must be a plain file listed in the manifest, or one the
command recognises as its own by its content (outputs of older versions). A
file of another name, a symlink or a folder is someone else's and ends the
command with one line naming it, exit status 2, nothing written; the way out is
another --out, or moving that file away. No command but the trainer writes
inside a run folder (helmholtz.run.layout.is_run_folder), so an output there is
refused too. `record` adds what was written to the manifest; `writing` does
both around a block of writes.
"""
import contextlib
import fnmatch
from pathlib import Path

from helmholtz.data.cache import write_text
from helmholtz.errors import UsageError
from helmholtz.run.layout import is_run_folder

MANIFEST = ".helmholtz-outputs"


def written_here(folder):
    """The names this program wrote in `folder`, from its manifest (none without one)."""
    path = Path(folder) / MANIFEST
    if not path.is_file() or path.is_symlink():
        return set()
    try:
        return {line for line in path.read_text(encoding="utf-8").splitlines() if line}
    except (OSError, UnicodeDecodeError):
        return set()


def first_line(path):
    """The first line of a text file ("" when it cannot be read as text)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline(10_000).rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return ""


def _matching(folder, patterns):
    """Entries of `folder` matching a pattern; "!pattern" leaves out what another
    command writes there (as in .gitignore)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    take = [p for p in patterns if not p.startswith("!")]
    leave = [p[1:] for p in patterns if p.startswith("!")]
    return sorted(p for p in folder.iterdir() if p.name != MANIFEST
                  and any(fnmatch.fnmatchcase(p.name, pat) for pat in take)
                  and not any(fnmatch.fnmatchcase(p.name, pat) for pat in leave))


def outside_run_folders(folder, fix="choose another --out"):
    """Refuse (UsageError) a folder that is, or is inside, a run folder."""
    folder = Path(folder).absolute()
    run = next((p for p in (folder, *folder.parents) if is_run_folder(p)), None)
    if run is not None:
        raise UsageError(f"{folder} is inside the run folder {run}, which only the trainer writes; "
                         f"{fix}")


def claim(folder, patterns, fix="choose another --out", recognise=None):
    """Refuse (UsageError) unless every entry of `folder` whose name matches one of
    `patterns` is a file this program wrote there, and `folder` is in no run folder.

    recognise(path): whether a file not in the manifest is this program's by its
    content (what older versions wrote, or a record that names its maker)."""
    folder = Path(folder)
    outside_run_folders(folder, fix)
    if (folder / MANIFEST).is_symlink() or (folder / MANIFEST).is_dir():
        raise UsageError(f"{folder / MANIFEST} is not a file this program wrote; move it away or "
                         f"{fix}")
    own = written_here(folder)
    for path in _matching(folder, patterns):
        if path.is_symlink() or not path.is_file() or not (
                path.name in own or (recognise is not None and recognise(path))):
            kind = "a symlink" if path.is_symlink() else "a folder" if path.is_dir() else "a file"
            raise UsageError(f"{path} is {kind} this program did not write (it is not in "
                             f"{MANIFEST}); move it away or {fix}")


def record(folder, patterns):
    """Add the plain files of `folder` matching `patterns` to its manifest (they were
    claimed first, so each is new or was ours already); forget names no longer there."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    names = written_here(folder) | {p.name for p in _matching(folder, patterns)
                                    if p.is_file() and not p.is_symlink()}
    names = sorted(n for n in names if (folder / n).is_file())
    if names and set(names) != written_here(folder):
        write_text(folder / MANIFEST, "".join(f"{n}\n" for n in names))


@contextlib.contextmanager
def writing(folder, patterns, fix="choose another --out", recognise=None):
    """claim, then the block's writes, then record them (also when the block fails,
    so a next run may replace what this one wrote)."""
    claim(folder, patterns, fix, recognise)
    try:
        yield Path(folder)
    finally:
        record(folder, patterns)
