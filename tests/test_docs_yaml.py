"""Every ```yaml block of README.md and docs/*.md is checked as written, through the CLI.

A block is one of:

- a document (it has `kind:`): written into a temporary library and validated there with
  `playbook validate`. The library holds the README's Policy example and the block, so a
  Playbook or Shared example must use ids that Policy defines; the Policy block is validated
  alone. A block preceded by `<!-- library: playbooks -->` is validated in a copy of the
  bundled example library instead (a TestSuite naming its playbooks and incidents).
- an incident (no `kind:`, but `id`, `title` and `startedAt`): run with `playbook run`
  against the README's Policy, exit 0.
- marked by an HTML comment on the line before: `<!-- fragment -->` (a part of a document:
  only parsed as YAML) or `<!-- not-playbook-engine -->` (another tool's file, such as a CI
  workflow: only parsed as YAML).

Any other block fails: a new example must validate or say what it is. The summary test says how
many blocks were checked in each way.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import PLAYBOOK

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKERS = {"<!-- fragment -->": "fragment", "<!-- not-playbook-engine -->": "other"}
BUNDLED = "<!-- library: playbooks -->"


@dataclass(frozen=True, slots=True)
class Block:
    """One ```yaml block: where it is, its text, and how it is checked."""

    source: str
    line: int
    text: str
    how: str  # document, incident, fragment, other, unmarked
    bundled: bool

    @property
    def name(self) -> str:
        return f"{self.source}:{self.line}"


def blocks() -> list[Block]:
    found: list[Block] = []
    for path in SOURCES:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            if lines[i].strip() != "```yaml":
                i += 1
                continue
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            text = "\n".join(lines[i + 1 : end]) + "\n"
            before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            how = MARKERS.get(before, "")
            if not how:
                data = yaml.safe_load(text)
                if isinstance(data, dict) and "kind" in data:
                    how = "document"
                elif isinstance(data, dict) and {"id", "title", "startedAt"} <= set(data):
                    how = "incident"
                else:
                    how = "unmarked"
            found.append(
                Block(path.relative_to(ROOT).as_posix(), i + 1, text, how, before == BUNDLED)
            )
            i = end + 1
    return found


BLOCKS = blocks()


def readme_policy() -> str:
    policies = [
        b.text
        for b in BLOCKS
        if b.how == "document" and (yaml.safe_load(b.text) or {}).get("kind") == "Policy"
    ]
    assert len(policies) == 1, "the README has one Policy example, the base of the others"
    return policies[0]


def playbook(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PLAYBOOK, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name)
def test_block_is_valid_as_written(block: Block, tmp_path: Path) -> None:
    assert block.how != "unmarked", (
        f"{block.name}: a ```yaml block that is neither a document (kind:) nor an incident; "
        "mark it <!-- fragment --> or <!-- not-playbook-engine --> on the line before"
    )
    data = yaml.safe_load(block.text)  # every block is YAML, fragments included
    if block.how in ("fragment", "other"):
        return
    library = tmp_path / "lib"
    if block.bundled:
        shutil.copytree(ROOT / "playbooks", library)
    else:
        library.mkdir()
        if not (block.how == "document" and data.get("kind") == "Policy"):
            (library / "policy.yaml").write_text(readme_policy(), encoding="utf-8")
    if block.how == "incident":
        incident = tmp_path / "incident.yaml"
        incident.write_text(block.text, encoding="utf-8")
        done = playbook("run", incident, "--library", library, "--format", "json")
    else:
        folder = library / "tests" if data.get("kind") == "TestSuite" else library
        folder.mkdir(exist_ok=True)
        (folder / "readme-example.yaml").write_text(block.text, encoding="utf-8")
        done = playbook("validate", library)
    assert done.returncode == 0, (
        f"{block.name} does not validate as written:\n{done.stdout}{done.stderr}"
    )


def test_summary_of_checked_blocks() -> None:
    counts = {how: sum(b.how == how for b in BLOCKS) for how in ("document", "incident")}
    skipped = {how: sum(b.how == how for b in BLOCKS) for how in ("fragment", "other")}
    summary = (
        f"{len(BLOCKS)} yaml blocks in {len(SOURCES)} files: {counts['document']} documents "
        f"validated, {counts['incident']} incident run, {skipped['fragment']} fragments and "
        f"{skipped['other']} other tools' files parsed only"
    )
    print(summary)
    # The README's examples of every document kind are validated, not skipped.
    kinds = {yaml.safe_load(b.text)["kind"] for b in BLOCKS if b.how == "document"}
    assert kinds == {"Policy", "Playbook", "Shared", "PayloadMapping", "TestSuite"}, summary
    assert counts["incident"] == 1, summary
    assert counts["document"] + counts["incident"] > skipped["fragment"] + skipped["other"]
