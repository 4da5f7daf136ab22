"""Authors silence a warning where they decided it does not apply, with a YAML comment.

- `# playbook: disable=PB504` at the end of the line a warning points at, or alone on the line
  just above it, silences those codes there;
- `# playbook: disable-file=PB504,PB310` anywhere in a file silences them in the whole file.

Errors cannot be silenced: they mean the library would not do what it says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playbook_engine.diagnostics import Diagnostic

_DIRECTIVE = re.compile(r"#\s*playbook:\s*(disable|disable-file)\s*=\s*([A-Z0-9, ]+)")


def _codes(text: str) -> set[str]:
    return {code.strip() for code in text.split(",") if code.strip()}


class _FileDirectives:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.whole_file: set[str] = set()
        for line in self.lines:
            for kind, codes in _DIRECTIVE.findall(line):
                if kind == "disable-file":
                    self.whole_file |= _codes(codes)

    def on_line(self, number: int) -> set[str]:
        found: set[str] = set()
        if 1 <= number <= len(self.lines):
            found |= {
                c
                for k, codes in _DIRECTIVE.findall(self.lines[number - 1])
                if k == "disable"
                for c in _codes(codes)
            }
        if 2 <= number <= len(self.lines) + 1:
            above = self.lines[number - 2]
            if above.lstrip().startswith("#"):
                found |= {
                    c
                    for k, codes in _DIRECTIVE.findall(above)
                    if k == "disable"
                    for c in _codes(codes)
                }
        return found

    def silences(self, d: Diagnostic) -> bool:
        return d.code in self.whole_file or d.code in self.on_line(d.span.line)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def apply_suppressions(
    diagnostics: list[Diagnostic], read: Callable[[str], str] = _read
) -> list[Diagnostic]:
    """The diagnostics without the warnings their files' comments disable."""
    files: dict[str, _FileDirectives] = {}
    kept = []
    for d in diagnostics:
        if d.is_error:
            kept.append(d)
            continue
        directives = files.get(d.span.path)
        if directives is None:
            directives = files[d.span.path] = _FileDirectives(read(d.span.path))
        if not directives.silences(d):
            kept.append(d)
    return kept
