"""A schema error no longer hides the rest of its file (#13): the parts the schema refuses are
removed, and what is left is built and checked like any document, at its own positions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from conftest import PLAYBOOK
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playbook_engine.authoring.validate import validate_paths
from playbook_engine.load import schema
from playbook_engine.load.salvage import salvage
from playbook_engine.pipeline import load_library
from playbook_engine.speed.doccache import load_checked

BUNDLED = Path(__file__).resolve().parent.parent / "playbooks"

BROKEN = """\
apiVersion: playbook-engine/v1
kind: Playbook
metadata: {id: broken, title: Broken, owner: ops}
spec:
  bogusKey: 1
  steps:
    - id: a
      title: A
      owner: responder
      completedBy: nope
    - id: b
    - id: c
      title: C
      owner: responder
      dependsOn: [a, b, zzz]
      due: 15min
    - 42
  notifications:
    - {id: n, channel: chat, body: "hi", when: {field: incident.title, equalz: 3}}
"""


def init(tmp_path: Path) -> Path:
    target = tmp_path / "lib"
    subprocess.run([*PLAYBOOK, "init", str(target)], check=True, capture_output=True)
    return target


def found(library: Path) -> list[tuple[str, int, int, str]]:
    return [
        (d.code, d.span.line, d.span.col, d.message)
        for d in validate_paths([library]).diagnostics
        if d.span.path.endswith("broken.yaml")
    ]


def test_every_finding_of_a_file_with_schema_errors_is_reported(tmp_path: Path) -> None:
    library = init(tmp_path)
    (library / "broken.yaml").write_text(BROKEN)
    codes = [(code, line, col) for code, line, col, _ in found(library)]
    assert codes == [
        ("PB202", 5, 3),  # the schema's own errors, all of them
        ("PB201", 10, 20),
        ("PB203", 11, 7),
        ("PB307", 12, 7),  # c depends on zzz, never written: reported at step c
        ("PB201", 16, 12),
        ("PB204", 17, 7),
        ("PB303", 19, 24),  # unknown channel, in the part that validated
        ("PB207", 19, 72),
    ]
    messages = [message for *_, message in found(library)]
    assert any("'zzz'" in m for m in messages)
    assert not any("'b'" in m for m in messages)  # b went for lacking a title: c is not at fault


def test_the_reproduction_of_the_issue(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    shutil.copytree(BUNDLED, library)
    target = library / "database-failure.yaml"
    text = target.read_text().replace("  order: 30\n", "  order: 30\n  bogusKey: 1\n", 1)
    target.write_text(text.replace("set: {impact: moderate}\n", "set: {impact: moderat}\n", 1))
    done = subprocess.run(
        [*PLAYBOOK, "validate", str(library)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if ": error " in line]
    assert len(errors) == 2, done.stdout
    assert "PB202 unknown key 'bogusKey'" in errors[0]
    assert "database-failure.yaml:" in errors[1] and "PB303 unknown impact 'moderat'" in errors[1]


def test_warnings_of_a_salvaged_file_wait_until_it_validates(tmp_path: Path) -> None:
    library = init(tmp_path)
    ownerless = BROKEN.replace("      owner: responder\n      completedBy: nope\n", "")
    (library / "broken.yaml").write_text(ownerless)
    assert not any(code[:3] == "PB5" for code, *_ in found(library))
    valid = ownerless.replace("  bogusKey: 1\n", "").replace("    - id: b\n", "")
    valid = valid.replace("due: 15min", "due: 15m").replace("    - 42\n", "")
    valid = valid.replace("equalz", "equals").replace(", b, zzz", "")
    (library / "broken.yaml").write_text(valid.replace("channel: chat", "channel: incident-chat"))
    codes = [code for code, *_ in found(library)]
    assert "PB505" in codes and all(code[:3] == "PB5" for code in codes)  # a has no owner


def test_without_its_id_or_kind_a_document_is_not_salvaged(tmp_path: Path) -> None:
    library = init(tmp_path)
    (library / "broken.yaml").write_text(BROKEN.replace("id: broken, ", ""))
    codes = {code for code, *_ in found(library)}
    assert "PB203" in codes and "PB303" not in codes  # only the schema speaks


def test_a_salvaged_playbook_is_never_run(tmp_path: Path) -> None:
    library = init(tmp_path)
    (library / "broken.yaml").write_text(BROKEN)
    done = subprocess.run(
        [*PLAYBOOK, "run", str(library / "incidents" / "example.yaml"), "-l", str(library)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "broken.yaml" in done.stderr


# Values that break the schema wherever they are put.
JUNK = st.sampled_from([42, None, True, "", "15min", [], {}, {"bogus": 1}, [1, 2], "x" * 3])


def pointers(data: Any, base: str = "") -> list[str]:
    found = [base] if base else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += pointers(value, f"{base}/{key}")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += pointers(value, f"{base}/{index}")
    return found


def put(data: Any, pointer: str, value: Any) -> None:
    *parents, last = pointer.split("/")[1:]
    for token in parents:
        data = data[int(token)] if isinstance(data, list) else data[token]
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


SOURCE = (BUNDLED / "database-failure.yaml").read_text()
ORIGINAL = yaml.safe_load(SOURCE)
PLACES = [p for p in pointers(ORIGINAL) if "/" in p[1:]]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.lists(st.tuples(st.sampled_from(PLACES), JUNK), min_size=1, max_size=4))
def test_what_is_salvaged_validates_and_keeps_its_positions(
    tmp_path: Path, changes: list[tuple[str, Any]]
) -> None:
    data = yaml.safe_load(SOURCE)
    for pointer, value in changes:
        try:
            put(data, pointer, value)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # an earlier change removed the place
    library = tmp_path / "lib"
    library.mkdir(exist_ok=True)
    shutil.copy(BUNDLED / "policy.yaml", library / "policy.yaml")
    path = library / "db.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    doc, _, checked = load_checked(path, "db.yaml")
    assert doc is not None
    rest = salvage(doc, checked)
    if rest is not None:
        assert schema.validate_document(rest.doc) == []
        written = set(doc.value_positions.values())  # positions are carried, never invented
        assert set(rest.doc.value_positions.values()) <= written
        assert len(rest.doc.value_positions) <= len(doc.value_positions)
    lines = len(path.read_text().splitlines())
    for d in load_library(library).diagnostics:  # never a traceback; every place real
        if d.span.path.endswith("db.yaml"):
            assert 0 <= d.span.line <= lines, d
