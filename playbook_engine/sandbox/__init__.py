"""The only place that builds Jinja2 environments: an immutable sandbox with caps and escaping.

Templates (step texts, notification subjects, bodies and recipients) and `expr:` conditions are
written by playbook authors and run against incident data, so this module assumes neither is
friendly. On top of Jinja2's `ImmutableSandboxedEnvironment` it

- makes undefined names and attributes errors (`StrictUndefined`), with messages that name the
  path: `'incident' has no attribute 'servce'`;
- allows only curated filters, the globals `range` (capped) and `dict`, and, on values, only
  the non-mutating str/dict/list methods listed in `_SAFE_METHODS`. `str.format`,
  `format_map`, `%`-formatting, the `format`/`attr`/`xmlattr` filters, `{% include %}`-style
  loading and `{% autoescape %}` blocks are unavailable;
- refuses while compiling, so that `playbook validate` reports it, what the render would
  refuse whatever the data: methods outside the allow-list on literals, on `dict` and on the
  incident's mappings (`"{}".format`, `dict.mro`, `incident.labels.update`) and `%` on a
  literal string. Names starting with `_` are reported by `private_lookups`;
- never evaluates anything while compiling (Jinja2 folds constants, and `{{ "a" * 10**9 }}`
  then hangs the compiler): the optimizer is off, `finalize` and every filter need the
  runtime context, and all arithmetic is intercepted;
- bounds each render: every value built is at most `rendered_output_chars` characters, at most
  `MAX_STEPS` loop iterations and calls run, at most `WORK_FACTOR` times the output cap of text
  is produced in all (literal text included, so loops cannot build text without limit), and
  the output itself is capped while it streams;
- escapes interpolated values (never the template's own text) for where the text goes, one
  environment per `MODES` entry: `plain`, `markdown`, `chat`, `html`, `header` (see `escape`).
  Outside `html`, text a template builds (a macro's output, a `{% set %}` block, `~`) is a
  value like any other and is escaped when printed: write structure as literal text.

Blocks are written one per line in YAML, so `trim_blocks` and `lstrip_blocks` are on: a line
holding only `{% if %}` leaves no blank line behind.

Failures are `TemplateError(message, line)`, `line` being 1-based inside the template text (0
when unknown). Compiled templates and expressions are memoised by source (and mode).

The package, by job: `budget` (the caps each render counts against), `escaping` (per output
mode), `filters` (curated and guarded), `instrument` (static refusals and runtime guards put
into the compiled code), `environment` (the Jinja2 environment per mode), `templates` (compile
and render: the API the compiler and engine use) and `analysis` (what a template reads, and
`check_template` for validation). It relies on a few Jinja2 internals (the code generator and
its frames, `VAR_LOAD_RESOLVE`, `_PassArg`); `pyproject.toml` pins the Jinja2 range they were
tested with, and `tests/test_sandbox_internals.py` fails with a clear message if one changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.sandbox.analysis import (
        TemplateAnalysis,
        attribute_paths,
        check_template,
        forget_templates,
        macro_uses,
        not_a_condition,
        prepare_template,
        private_lookups,
        template_variables,
    )
    from playbook_engine.sandbox.budget import (
        MAX_INT_BITS,
        MAX_STEPS,
        PLAN_STEPS,
        WORK_FACTOR,
        plan_budget,
    )
    from playbook_engine.sandbox.environments import SandboxEnvironment, environment
    from playbook_engine.sandbox.errors import TemplateError
    from playbook_engine.sandbox.escaping import MODES, escape
    from playbook_engine.sandbox.templates import (
        CompiledExpression,
        CompiledTemplate,
        compile_expression,
        compile_template,
        evaluate_expression,
        macro_module,
        render,
    )

__all__ = [
    "CompiledExpression",
    "CompiledTemplate",
    "MAX_INT_BITS",
    "MAX_STEPS",
    "PLAN_STEPS",
    "MODES",
    "SandboxEnvironment",
    "TemplateAnalysis",
    "TemplateError",
    "WORK_FACTOR",
    "attribute_paths",
    "check_template",
    "compile_expression",
    "compile_template",
    "environment",
    "escape",
    "evaluate_expression",
    "forget_templates",
    "macro_module",
    "macro_uses",
    "not_a_condition",
    "plan_budget",
    "prepare_template",
    "private_lookups",
    "render",
    "template_variables",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "TemplateError": "errors",
        "MODES": "escaping",
        "escape": "escaping",
        "MAX_STEPS": "budget",
        "WORK_FACTOR": "budget",
        "MAX_INT_BITS": "budget",
        "PLAN_STEPS": "budget",
        "plan_budget": "budget",
        "SandboxEnvironment": "environments",
        "environment": "environments",
        "CompiledTemplate": "templates",
        "CompiledExpression": "templates",
        "prepare_template": "analysis",
        "compile_template": "templates",
        "macro_module": "templates",
        "render": "templates",
        "compile_expression": "templates",
        "evaluate_expression": "templates",
        "TemplateAnalysis": "analysis",
        "check_template": "analysis",
        "forget_templates": "analysis",
        "template_variables": "analysis",
        "attribute_paths": "analysis",
        "private_lookups": "analysis",
        "macro_uses": "analysis",
        "not_a_condition": "analysis",
    },
)
