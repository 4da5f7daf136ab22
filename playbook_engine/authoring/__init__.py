"""Authoring: what a team writing a library uses — `validate`, test suites (`testing/`), the
behaviour diff between revisions (`behaviour_diff`), reference pages (`docsgen`), the
overview (`overview`) and new playbooks (`scaffold`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.authoring.behaviour_diff import diff_library
    from playbook_engine.authoring.docsgen import build_pages
    from playbook_engine.authoring.overview import render_overview
    from playbook_engine.authoring.validate import validate_paths

__all__ = [
    "build_pages",
    "diff_library",
    "render_overview",
    "validate_paths",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "validate_paths": "validate",
        "diff_library": "behaviour_diff",
        "build_pages": "docsgen",
        "render_overview": "overview",
    },
)
