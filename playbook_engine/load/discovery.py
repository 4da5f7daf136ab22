"""Where a library is and which of its files are documents: `*.yaml`, `*.yml` and `*.json`
below the root, except hidden files and the `tests/` and `incidents/` folders, which hold test
suites and example incidents."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from playbook_engine.diagnostics import Diagnostic, Span, error
from playbook_engine.load import schema

DOCUMENT_SUFFIXES = (".yaml", ".yml", ".json")
NON_LIBRARY_DIRS = frozenset({"tests", "incidents"})
POLICY_NAMES = ("policy.yaml", "policy.yml", "policy.json")
ENV_VAR = "PLAYBOOK_LIBRARY"


def find_library_root(start: Path | None = None) -> Path | None:
    """The library for a command run without paths: `$PLAYBOOK_LIBRARY`, else the nearest
    directory at or above `start` holding a policy file directly or in `playbooks/`."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        for candidate in (directory, directory / "playbooks"):
            if any((candidate / name).is_file() for name in POLICY_NAMES):
                return candidate
    return None


def library_root_of(path: Path) -> Path | None:
    """The library a file or directory belongs to: the nearest ancestor holding a policy file."""
    here = path.resolve()
    for directory in (here if here.is_dir() else here.parent, *here.parents):
        if any((directory / name).is_file() for name in POLICY_NAMES):
            return directory
    return None


def discover(root: Path) -> list[Path]:
    """Library document files below `root`, sorted, skipping hidden, tests/ and incidents/."""
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(
            d for d in subdirs if not d.startswith(".") and d not in NON_LIBRARY_DIRS
        )
        folder = Path(directory)
        for name in sorted(files):
            if name.endswith(DOCUMENT_SUFFIXES) and not name.startswith("."):
                found.append(folder / name)
    return found


def discover_listing(root: Path) -> list[tuple[str, bool]]:
    """`discover(root)` as text, each path with whether it is a symbolic link: what a large
    library's every file costs, without a `Path` or an `lstat` per file (the folder listing
    says which entries are links)."""
    found: list[tuple[str, bool]] = []

    def walk(directory: str) -> None:
        try:
            with os.scandir(directory) as listed:
                entries = sorted(listed, key=lambda e: e.name)
        except OSError:
            return  # as os.walk: a folder that cannot be listed has no documents
        folders = []
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not name.startswith(".") and name not in NON_LIBRARY_DIRS:
                    folders.append(entry)
            elif name.endswith(DOCUMENT_SUFFIXES) and not name.startswith("."):
                found.append((entry.path, entry.is_symlink()))
        for entry in folders:
            if not entry.is_symlink():  # as os.walk: linked folders are not followed
                walk(entry.path)

    walk(os.fspath(root))
    return found


def display_paths(paths: list[str], links: set[str]) -> list[str]:
    """`display_path` of each of `paths`, of which only those in `links` are links (the rest
    need no `lstat`: their folder's links are resolved once for all of them)."""
    cwd = os.getcwd()
    return [_shown(path, cwd, path in links) for path in paths]


def confine(root: Path, paths: list[Path]) -> tuple[list[Path], list[Diagnostic]]:
    """The paths that stay inside the library, and a PB113 error for each symbolic link whose
    target lies outside it: a library never reads (or prints) a file from elsewhere, such as
    a committed `x.yaml -> /etc/passwd`."""
    real_root = os.path.join(os.path.realpath(root), "")
    kept: list[Path] = []
    refused: list[Diagnostic] = []
    for path in paths:
        if os.path.islink(path):
            target = os.path.realpath(path)
            if not target.startswith(real_root):
                refused.append(
                    error(
                        "PB113",
                        "is a symbolic link to a file outside the library; it is not read",
                        Span(display_path_of_link(path)),
                        hint="keep library documents inside the library (copy the file in)",
                    )
                )
                continue
        kept.append(path)
    return kept, refused


def display_path_of_link(path: Path) -> str:
    """A link's own path as diagnostics show it (not its target's)."""
    absolute = os.path.abspath(path)
    here = os.path.join(os.path.abspath(os.getcwd()), "")
    return absolute[len(here) :] if absolute.startswith(here) else str(path)


def document_files(directory: Path) -> list[Path]:
    """The YAML and JSON files anywhere below `directory` (example incidents), sorted,
    skipping hidden ones; none if it is not a directory."""
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in DOCUMENT_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


def display_path(path: Path) -> str:
    """A path as shown in diagnostics: relative to the working directory when below it
    (both with symbolic links resolved), else as given."""
    return _shown(os.fspath(path), os.getcwd(), os.path.islink(path))


def _shown(path: str, cwd: str, link: bool) -> str:
    here = _real_directory(cwd, "")
    head, tail = os.path.split(path)
    if link or tail in ("", ".", ".."):
        real = os.path.realpath(path)
    else:  # one folder's links resolved once for all its files (a library names them all)
        real = os.path.join(_real_directory(cwd, head), tail)
    if real == here:
        return "."
    # Text, not pathlib: a large library names every file (docs/benchmarks.md, "Shapes").
    prefix = os.path.join(here, "")  # "/" stays "/"
    return real[len(prefix) :] if real.startswith(prefix) else path


@lru_cache(maxsize=256)
def _real_directory(cwd: str, directory: str) -> str:
    """`directory` (relative to `cwd`) with its links resolved."""
    return os.path.realpath(os.path.join(cwd, directory))


def incident_fields() -> frozenset[str]:
    """Top-level incident fields the incident schema declares."""
    return frozenset(schema.load_schema("incident").get("properties", {}))
