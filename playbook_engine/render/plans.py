"""Render a plan, and with `explain` its trace, as Markdown, text or JSON.

Markdown is for pasting into a ticket or a chat, text for a terminal, JSON (see
`schemas/plan.schema.json`) for automation. Each output is a pure function of the plan:
deterministic to the byte, ending in exactly one newline, with incident data shown inertly.
All times are shown in the offset of the plan's clock (`at`).
"""

from __future__ import annotations

from collections.abc import Mapping

from playbook_engine.plan import Plan
from playbook_engine.render.json_plan import plan_to_dict, render_json
from playbook_engine.render.markdown import render_markdown
from playbook_engine.render.text import render_text

FORMATS = ("markdown", "text", "json")

__all__ = ["FORMATS", "plan_to_dict", "render_plan"]


def render_plan(
    plan: Plan,
    fmt: str,
    explain: bool = False,
    color: bool = False,
    checked: Mapping[str, str] | None = None,
) -> str:
    """The plan in `fmt` (markdown, text or json); `color` adds ANSI colour to text only;
    `checked` ticks steps in markdown and text (step id -> `done` or `skipped`)."""
    if fmt == "markdown":
        return render_markdown(plan, explain, checked)
    if fmt == "text":
        return render_text(plan, explain, color, checked)
    if fmt == "json":
        return render_json(plan, explain)
    raise ValueError(f"unknown plan format {fmt!r}; known: {', '.join(FORMATS)}")
