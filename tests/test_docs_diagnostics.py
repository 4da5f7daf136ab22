"""The README's Diagnostics section documents every code the package emits, and only those.

A code is a string literal such as "PB303" anywhere under playbook_engine/; a documented code is
a row of a table in the README section `## Diagnostics`. Each row must give the code's
severity (checked against the `warning(...)` and `error(...)` calls that emit it), an example
that shows the line as printed (`severity CODE message`) and a fix.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "playbook_engine"
README = ROOT / "README.md"

CODE = re.compile(r"(?:PB|IN|AD|TS|GT|NW|DC|ST)[0-9]{3}")
LITERAL = re.compile(rf"""["']({CODE.pattern})["']""")
COLUMNS = ["code", "severity", "what it means", "example", "fix"]


@dataclass(frozen=True, slots=True)
class Row:
    """One documented code: the table row's cells, and the README line it is on."""

    code: str
    severity: str
    meaning: str
    example: str
    fix: str
    line: int


def section(readme: str) -> tuple[str, int]:
    """The text of the `## Diagnostics` section and the line number of its heading."""
    lines = readme.splitlines()
    start = lines.index("## Diagnostics")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]), start + 1


def cells(line: str) -> list[str]:
    """The cells of a Markdown table row; `\\|` inside a cell is not a separator."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def documented(readme: str) -> tuple[list[Row], list[str]]:
    """The rows of the section's tables, and the problems with their shape."""
    text, first_line = section(readme)
    rows: list[Row] = []
    problems: list[str] = []
    for offset, line in enumerate(text.splitlines()):
        number = first_line + offset
        if not line.startswith("|"):
            continue
        found = cells(line)
        if found == COLUMNS or all(set(cell) <= {"-", ":"} for cell in found):
            continue
        if len(found) != len(COLUMNS):
            problems.append(f"README.md:{number}: expected {len(COLUMNS)} cells, got {len(found)}")
            continue
        code = found[0].strip("`")
        if not CODE.fullmatch(code):
            problems.append(f"README.md:{number}: {found[0]!r} is not a diagnostic code")
            continue
        severity, meaning, example, fix = found[1:]
        rows.append(Row(code, severity, meaning, example, fix, number))
    return rows, problems


def emitted(package: Path) -> dict[str, set[str]]:
    """Every code literal under `package`, with the severities of the calls that emit it.

    A code passed first to a call named `warning` (`info`) is emitted as a warning (an info);
    to any other call
    (`error`, the loader's `_fail` and `_Refused`...) as an error. A literal seen only in a
    comparison has no severity of its own.
    """
    codes: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for code in LITERAL.findall(source):
            codes.setdefault(code, set())
        for node in ast.walk(ast.parse(source, str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            if not CODE.fullmatch(first.value):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            codes[first.value].add(name if name in ("warning", "info") else "error")
    return codes


def problems_of(readme: str, codes: dict[str, set[str]]) -> list[str]:
    """Everything wrong with the README's Diagnostics section, given the emitted codes."""
    rows, problems = documented(readme)
    seen: dict[str, int] = {}
    for row in rows:
        where = f"README.md:{row.line}: {row.code}"
        if row.code in seen:
            problems.append(f"{where} is documented twice (also line {seen[row.code]})")
        seen.setdefault(row.code, row.line)
        if row.code not in codes:
            problems.append(f"{where} is documented but no longer emitted: remove the row")
            continue
        severities = set(re.findall(r"error|warning|info", row.severity))
        wanted = codes[row.code] or severities
        if severities != wanted or not severities:
            problems.append(f"{where}: severity {row.severity!r}, emitted as {sorted(wanted)}")
        if not any(f"{severity} {row.code} " in row.example for severity in wanted):
            problems.append(f"{where}: the example does not show the printed '<severity> CODE'")
        if not row.meaning or not row.fix:
            problems.append(f"{where}: 'what it means' and 'fix' must not be empty")
    for code in sorted(set(codes) - set(seen)):
        problems.append(f"{code} is emitted under playbook_engine/ but not documented in README.md")
    return problems


def test_readme_documents_every_emitted_code_and_no_other() -> None:
    codes = emitted(PACKAGE)
    assert len(codes) > 50  # the scan finds the codes at all
    assert problems_of(README.read_text(encoding="utf-8"), codes) == []


def test_the_section_has_one_table_per_family() -> None:
    rows, _ = documented(README.read_text(encoding="utf-8"))
    families = [row.code[:3] for row in rows]
    assert families == sorted(families, key=families.index)  # each family's rows together
    assert {"PB1", "PB2", "PB3", "PB4", "PB5", "IN1", "AD1", "TS1"} <= set(families)


_SAMPLE = """# tool

## Diagnostics

| code | severity | what it means | example | fix |
| --- | --- | --- | --- | --- |
| PB101 | error | Bad YAML. | `a: "b` → `x.yaml:1:4: error PB101 YAML syntax error` | Fix it. |
| PB504 | warning | Unused \\| idle. | `- {id: x}` → `p.yaml:2:3: warning PB504 unused` | Drop. |

## More
"""


def test_the_check_finds_missing_stale_and_wrong_rows() -> None:
    good = {"PB101": {"error"}, "PB504": {"warning"}}
    assert problems_of(_SAMPLE, good) == []
    assert problems_of(_SAMPLE, {**good, "PB999": {"error"}}) == [
        "PB999 is emitted under playbook_engine/ but not documented in README.md"
    ]
    assert problems_of(_SAMPLE, {"PB504": {"warning"}}) == [
        "README.md:7: PB101 is documented but no longer emitted: remove the row"
    ]
    assert problems_of(_SAMPLE, {"PB101": {"error"}, "PB504": {"error"}}) == [
        "README.md:8: PB504: severity 'warning', emitted as ['error']",
        "README.md:8: PB504: the example does not show the printed '<severity> CODE'",
    ]
    twice = _SAMPLE.replace("| PB504 |", "| PB101 |")
    assert "README.md:8: PB101 is documented twice (also line 7)" in problems_of(twice, good)
    short = _SAMPLE.replace("| Drop. |", "")
    assert problems_of(short, good)[0] == "README.md:8: expected 5 cells, got 4"


def test_codes_are_found_in_calls_with_their_severity(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        'warning("PB310", "w", span)\n'
        'error("PB303", "e", span)\n'
        '_fail("PB101", "f", span)\n'
        'if d.code == "TS109": pass\n',
        encoding="utf-8",
    )
    assert emitted(tmp_path) == {
        "PB310": {"warning"},
        "PB303": {"error"},
        "PB101": {"error"},
        "TS109": set(),
    }
