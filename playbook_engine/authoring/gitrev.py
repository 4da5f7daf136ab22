"""Read a directory as it was at a git revision, without touching the user's working tree.

`git ls-tree` lists the blobs below the directory at the revision and one `git cat-file
--batch` streams their contents into a scratch directory. Unlike `git archive`, this ignores
`export-ignore` and `export-subst` attributes, so the files are exactly those committed. Nothing
here runs `checkout`, `stash` or anything else that writes to the repository.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path, PurePosixPath

from playbook_engine.diagnostics import InputError, Span, error

# Keep git quiet and predictable: no pager, no prompts, no user config that changes output.
_ENV = {"GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
_BLOB_MODES = ("100644", "100755")


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env={**os.environ, **_ENV},
            check=False,
        )
    except FileNotFoundError:
        raise InputError(
            [error("GT101", "git is not installed or not on PATH", Span(str(cwd)))]
        ) from None


def _message(result: subprocess.CompletedProcess[bytes]) -> str:
    text = result.stderr.decode("utf-8", errors="replace").strip().splitlines()
    return text[0].removeprefix("fatal: ") if text else f"git exited with {result.returncode}"


def repository_root(path: Path) -> Path:
    """The top of the git working tree holding `path`; raises `InputError` (GT101) if none."""
    result = _git(path, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise InputError(
            [
                error(
                    "GT101",
                    "not a git repository (or any parent up to the mount point)",
                    Span(str(path)),
                    hint="playbook diff compares revisions of a library kept in git",
                )
            ]
        )
    return Path(result.stdout.decode("utf-8").strip())


def resolve_revision(repo: Path, revision: str) -> str:
    """The commit id of `revision`; raises `InputError` (GT102) if git does not know it."""
    if revision.startswith("-"):
        raise InputError([error("GT102", f"unknown revision: {revision}", Span("playbook diff"))])
    result = _git(
        repo, "rev-parse", "--verify", "--quiet", "--end-of-options", revision + "^{commit}"
    )
    if result.returncode != 0:
        raise InputError(
            [
                error(
                    "GT102",
                    f"unknown revision: {revision}",
                    Span("playbook diff"),
                    hint="use a commit, branch or tag such as HEAD, main or HEAD~1",
                )
            ]
        )
    return result.stdout.decode("ascii").strip()


def materialise(repo: Path, commit: str, directory: str, dest: Path) -> int:
    """Write the files of `directory` (relative to `repo`, POSIX) at `commit` below `dest`.

    Files keep their paths relative to `directory`. Symlinks and submodules are skipped.
    Returns how many files were written; raises `InputError` (GT103) when the revision has no
    such directory.
    """
    spec = [directory] if directory not in ("", ".") else []
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *spec)
    if listing.returncode != 0:
        raise InputError([error("GT104", f"git ls-tree failed: {_message(listing)}", Span(commit))])
    entries: list[tuple[str, PurePosixPath]] = []
    prefix = PurePosixPath(directory) if spec else PurePosixPath()
    for record in listing.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, oid = meta.decode("ascii").split()
        if kind != "blob" or mode not in _BLOB_MODES:
            continue
        path = PurePosixPath(name.decode("utf-8", errors="surrogateescape"))
        entries.append((oid, path.relative_to(prefix) if spec else path))
    if not entries:
        raise InputError(
            [
                error(
                    "GT103",
                    f"the library directory {directory or '.'} does not exist at {commit[:12]}",
                    Span(directory or "."),
                )
            ]
        )
    contents = _cat_blobs(repo, [oid for oid, _ in entries])
    for (_, relative), content in zip(entries, contents, strict=True):
        if ".." in relative.parts or relative.is_absolute():
            continue  # git refuses such trees; a crafted object still writes nothing outside
        target = dest.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return len(entries)


def _cat_blobs(repo: Path, oids: list[str]) -> list[bytes]:
    result = _git(repo, "cat-file", "--batch", stdin="".join(f"{o}\n" for o in oids).encode())
    if result.returncode != 0:
        raise InputError([error("GT104", f"git cat-file failed: {_message(result)}", Span(""))])
    out, data, position = [], result.stdout, 0
    for oid in oids:
        end = data.index(b"\n", position)
        header = data[position:end].split()
        if len(header) != 3 or header[1] != b"blob":
            raise InputError([error("GT104", f"git cannot read blob {oid}", Span(oid))])
        size = int(header[2])
        out.append(data[end + 1 : end + 1 + size])
        position = end + 1 + size + 1  # the content is followed by a newline
    return out
