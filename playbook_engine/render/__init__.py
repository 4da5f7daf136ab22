"""Render: plans as Markdown, text or JSON (`plans`, with one module per format), behaviour
diffs (`diff`), and diagnostics for people and machines (`diagnostics`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.render.diagnostics import report
    from playbook_engine.render.diff import render_diff
    from playbook_engine.render.plans import plan_to_dict, render_plan

__all__ = [
    "plan_to_dict",
    "render_diff",
    "render_plan",
    "report",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "render_plan": "plans",
        "plan_to_dict": "plans",
        "render_diff": "diff",
        "report": "diagnostics",
    },
)
