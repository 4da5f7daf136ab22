"""playbook-engine: incident-response playbooks as code.

The public API, imported on first use (`import playbook_engine` costs nothing):

- `open_library(root)` loads, validates and compiles a library directory into a
  `CompiledLibrary`; it raises `InputError` (with `.diagnostics`) when the library has errors.
- `load_library(root)` does the same but returns every `Diagnostic` in a `LoadResult`.
- `evaluate(compiled, incident, at, explain=False)` is the pure evaluation: a `Plan`.
- `render_plan(plan, fmt)` writes a plan as `markdown`, `text` or `json`; `plan_to_dict(plan)`
  gives its JSON-ready data.

The pipeline, stage by stage, is the folder list: `load/` (documents, schema, model, incidents)
→ `check/` (semantic checks, lint) → `compile/` (conditions, sandboxed templates) → `engine/`
(evaluation) → `render/`; `sandbox/` owns Jinja2, `adapters/` turns alert payloads into
incidents, `authoring/` holds test/diff/docs/scaffold, `speed/` the caches, `cli/` the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

__version__ = "0.1.0"

if TYPE_CHECKING:
    from playbook_engine.compile.compiler import CompiledLibrary
    from playbook_engine.diagnostics import Diagnostic, InputError, Span
    from playbook_engine.engine.evaluation import evaluate
    from playbook_engine.load.incident import Incident
    from playbook_engine.pipeline import LoadResult, load_library, open_library
    from playbook_engine.plan import Plan
    from playbook_engine.render.plans import plan_to_dict, render_plan

__all__ = [
    "CompiledLibrary",
    "Diagnostic",
    "Incident",
    "InputError",
    "LoadResult",
    "Plan",
    "Span",
    "evaluate",
    "load_library",
    "open_library",
    "plan_to_dict",
    "render_plan",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "CompiledLibrary": "compile.compiler",
        "Diagnostic": "diagnostics",
        "InputError": "diagnostics",
        "Span": "diagnostics",
        "evaluate": "engine.evaluation",
        "Incident": "load.incident",
        "LoadResult": "pipeline",
        "load_library": "pipeline",
        "open_library": "pipeline",
        "Plan": "plan",
        "plan_to_dict": "render.plans",
        "render_plan": "render.plans",
    },
)
