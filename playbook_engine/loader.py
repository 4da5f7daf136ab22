"""Safe loading of YAML and JSON documents into data plus a source map.

(Stub: the interface below is the contract; the loading itself is being written.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .diagnostics import Span


@dataclass(frozen=True, slots=True)
class SourceDoc:
    """One loaded document: JSON-compatible data and where each value was written.

    Pointers are RFC 6901 JSON pointers ("" is the root, "/spec/steps/0/id").
    Positions are 1-based (line, column).
    """

    path: str
    data: Any
    value_positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    key_positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def span(self, pointer: str) -> Span:
        """The position of the value at `pointer`, or of its nearest known ancestor."""
        while True:
            if pointer in self.value_positions:
                line, col = self.value_positions[pointer]
                return Span(self.path, line, col)
            if not pointer:
                return Span(self.path, 1, 1)
            pointer = pointer.rsplit("/", 1)[0]

    def key_span(self, pointer: str) -> Span:
        """The position of the key naming `pointer` (for unknown-key errors), else its value."""
        if pointer in self.key_positions:
            line, col = self.key_positions[pointer]
            return Span(self.path, line, col)
        return self.span(pointer)
