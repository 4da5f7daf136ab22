"""`playbook init DIR [--preset NAME]`: a complete starting library, copied from package data.

A preset is a folder of `playbook_engine/authoring/presets/` (shipped in the wheel, read through
`importlib.resources`, never from anywhere else): a policy, playbooks, a test suite, example
incidents and a README citing the public page it encodes. Without a preset the `minimal` one is
written. Nothing is ever overwritten: a directory that is not empty is refused unless `force`
is given, and even then every file is created only if its name is free (all or nothing).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from playbook_engine.authoring.scaffold import create
from playbook_engine.diagnostics import InputError, Span, error
from playbook_engine.load.discovery import library_root_of

MINIMAL = "minimal"
# name -> what it encodes (one line, as `playbook init --list` shows it)
PRESETS: dict[str, str] = {
    "pagerduty": "PagerDuty SEV-1..SEV-5, its major-incident response steps and security "
    "incident checklist (response.pagerduty.com)",
    "gitlab": "GitLab severity::1..4 by availability and share of users affected "
    "(handbook.gitlab.com, incident management)",
    "atlassian": "Atlassian SEV 1..3 with its affected-users x impact-level matrix "
    "(atlassian.com incident management handbook)",
    "itil": "ITIL's priority coding: impact x urgency (3x3) gives 1 Critical..5 Planning, "
    "with its target resolution times",
    "itil-p1-p4": "An ITIL P1-P4 matrix (4x4) with response and resolution targets, P3/P4 "
    "on a business-hours clock",
    "itil-5x3": "A non-square ITIL matrix: 5 impacts x 3 urgencies give Emergency..Low, with "
    "response and resolution times (a university service desk's published matrix)",
    "google-sre": "Google SRE: declare an incident if any of the criteria holds, else handle "
    "it as ordinary on-call work (sre.google)",
}


def _root() -> Traversable:
    return files("playbook_engine.authoring").joinpath("presets")


def preset_files(name: str) -> dict[PurePosixPath, bytes]:
    """The files of preset NAME (`minimal` included): relative path -> content."""
    if name != MINIMAL and name not in PRESETS:
        known = ", ".join(PRESETS)
        raise InputError(
            [
                error(
                    "NW107",
                    f"unknown preset {name!r}",
                    Span("--preset"),
                    hint=f"presets: {known} (playbook init --list); without --preset, a "
                    "minimal library",
                )
            ]
        )
    out: dict[PurePosixPath, bytes] = {}

    def walk(node: Traversable, prefix: PurePosixPath) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.name.startswith((".", "__")):
                continue  # caches and editor files are no part of a preset
            if child.is_dir():
                walk(child, prefix / child.name)
            else:
                out[prefix / child.name] = child.read_bytes()

    walk(_root().joinpath(name), PurePosixPath())
    return out


def init_library(target: Path, preset: str | None, force: bool = False) -> list[str]:
    """Write preset PRESET (else the minimal library) into TARGET; the paths created.

    Raises `InputError`: NW107 for an unknown preset, NW106 for a TARGET that is a file, or a
    non-empty folder without `force`, or (with `force`) one where a file to write exists;
    NW108 for a TARGET inside another library (whose validation would find two policies).
    """
    content = preset_files(preset or MINIMAL)
    existing = next(p for p in (target.absolute(), *target.absolute().parents) if p.exists())
    enclosing = library_root_of(existing) if existing.is_dir() else None
    if enclosing is not None and enclosing != target.resolve():
        raise InputError(
            [
                error(
                    "NW108",
                    f"inside the library {enclosing}: it would hold two policies; "
                    "nothing was written",
                    Span(str(target)),
                    hint="a library holds exactly one policy: write the new one outside it",
                )
            ]
        )
    if target.exists() and not target.is_dir():
        raise InputError(
            [error("NW106", "not a directory: playbook init writes a folder", Span(str(target)))]
        )
    if target.is_dir() and any(target.iterdir()) and not force:
        raise InputError(
            [
                error(
                    "NW106",
                    "the directory is not empty; nothing was written",
                    Span(str(target)),
                    hint="name a new or empty directory; --force adds the library's files "
                    "to it, but never replaces a file that exists",
                )
            ]
        )
    paths = {target.joinpath(*relative.parts): data for relative, data in content.items()}
    taken = [p for p in paths if p.exists() or p.is_symlink()]
    if taken:
        raise InputError(
            [
                error("NW106", "file exists already; refusing to overwrite it", Span(str(p)))
                for p in taken
            ]
        )
    return create({path: data.decode("utf-8") for path, data in paths.items()})
