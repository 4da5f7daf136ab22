"""Compile and render templates and expressions: the API the compiler and the engine use."""

from __future__ import annotations

import marshal
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError as JinjaTemplateError
from jinja2 import TemplateSyntaxError
from jinja2.environment import Template, TemplateExpression
from jinja2.runtime import Macro, Undefined

from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.sandbox.budget import _RUN, _Run
from playbook_engine.sandbox.environments import SandboxEnvironment, environment
from playbook_engine.sandbox.errors import TemplateError
from playbook_engine.sandbox.escaping import inert_links
from playbook_engine.speed.stores import active_store
from playbook_engine.speed.stores import stored as _stored


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A template compiled for one output mode."""

    source: str
    mode: str
    template: Template
    constant: str | None = None  # the output of a template without Jinja2 syntax


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """An expression compiled for `evaluate_expression`."""

    source: str
    expression: TemplateExpression


def _compile_error(exc: Exception) -> TemplateError:
    if isinstance(exc, TemplateSyntaxError):
        return TemplateError(exc.message or "syntax error", exc.lineno)
    if isinstance(exc, RecursionError | SyntaxError | MemoryError):
        return TemplateError("the template is nested too deeply")
    return TemplateError(str(exc) or type(exc).__name__)


def _runtime_error(exc: Exception) -> TemplateError:
    line = 0
    trace = exc.__traceback__
    while trace is not None:
        # Jinja2 rewrites a render's traceback to template lines ("<template>" frames); an
        # expression's frames still run generated code, mapped back through the template.
        template = trace.tb_frame.f_globals.get("__jinja_template__")
        if template is not None:
            line = template.get_corresponding_lineno(trace.tb_lineno)
        elif trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    if isinstance(exc, JinjaTemplateError):
        message = exc.message or type(exc).__name__
    elif isinstance(exc, ZeroDivisionError):
        message = "division by zero"
    elif isinstance(exc, RecursionError):
        message = "the template calls itself too deeply"
    elif isinstance(exc, MemoryError):
        message = "the template needs too much memory"
    else:
        message = str(exc) or type(exc).__name__
    return TemplateError(message.splitlines()[0] if message else message, line)


def _check_source(source: str, limit: int, what: str) -> None:
    if len(source) > limit:
        raise TemplateError(f"the {what} is longer than {limit:,} characters")


def _template_code(env: SandboxEnvironment, source: str, mode: str) -> types.CodeType:
    key = f"{mode}\0{source}"
    checked = _CHECKED_CODE.get(key)
    if checked is not None:
        return checked
    store = active_store()
    stored = _stored(store, key)
    if isinstance(stored, types.CodeType):
        return stored
    code = env.compile(source)
    if store is not None:
        store.put(key, marshal.dumps(code))
    return code


@lru_cache(maxsize=4096)
def compile_template(source: str, mode: str, macros: str = "") -> CompiledTemplate:
    """Compile a template for an output mode (one of `MODES`); memoised.

    `macros` is a library's `{% macro %}` source: its macros are available to the template as
    `macros.NAME(...)`. Raises `TemplateError` with the 1-based line of a syntax error, an unknown
    filter, or a refused tag, and for a source over `Limits.template_source_chars`.
    """
    env = environment(mode)
    _check_source(source, DEFAULT_LIMITS.template_source_chars, "template")
    shared = {"macros": macro_module(macros, mode)} if macros else None
    try:
        # What `env.from_string` does, with the code possibly from the store.
        code = _template_code(env, source, mode)
        template = env.template_class.from_code(env, code, env.make_globals(shared), None)
        return CompiledTemplate(source, mode, template, _constant(source, mode))
    except Exception as exc:
        raise _compile_error(exc) from exc


def _constant(source: str, mode: str) -> str | None:
    """What a template renders whatever the context, if it has no Jinja2 syntax at all (most
    step titles): its text, less the one final newline Jinja2 drops. Such a template renders
    without a context or a generator; its text is the author's, and counts against the plan's
    budget like any rendered text."""
    if "{" in source or "\r" in source or len(source) > DEFAULT_LIMITS.rendered_output_chars:
        return None
    text = source[:-1] if source.endswith("\n") else source
    return inert_links(text) if mode == "html" else text


@lru_cache(maxsize=64)
def macro_module(source: str, mode: str) -> dict[str, Macro]:
    """The macros defined by `source`, compiled for `mode`, by name; memoised.

    Only `{% macro %}` definitions count; other text in the source is ignored. A macro sees
    only its arguments, not the incident: pass values in, e.g. `macros.badge(priority)`.
    Raises `TemplateError` like `compile_template`.
    """
    _check_source(source, DEFAULT_LIMITS.template_source_chars, "macros")
    token = _RUN.set(_Run({}))
    try:
        module = environment(mode).from_string(source).make_module({})
    except TemplateError:
        raise
    except Exception as exc:
        raise _compile_error(exc) from exc
    finally:
        _RUN.reset(token)
    return {
        name: value
        for name, value in sorted(vars(module).items())
        if isinstance(value, Macro) and not name.startswith("_")
    }


def render(template: CompiledTemplate, context: Mapping[str, Any]) -> str:
    """Render a compiled template with `context`, streaming and capping the output.

    Raises `TemplateError` for undefined names and attributes, refused operations, any error a
    value causes, and reached limits; never anything else.
    """
    if template.constant is not None:
        _Run(context).charge(len(template.constant))
        return template.constant
    cap = DEFAULT_LIMITS.rendered_output_chars
    token = _RUN.set(_Run(context))
    try:
        chunks: list[str] = []
        size = 0
        for chunk in template.template.generate(dict(context)):
            size += len(chunk)
            if size > cap:
                raise TemplateError(f"the rendered text is longer than {cap:,} characters")
            chunks.append(chunk)
        text = "".join(chunks)
        return inert_links(text) if template.mode == "html" else text
    except TemplateError:
        raise
    except Exception as exc:
        raise _runtime_error(exc) from exc
    finally:
        _RUN.reset(token)


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> CompiledExpression:
    """Compile a Jinja2 expression (an `expr:` condition); memoised.

    Raises `TemplateError` for syntax errors, refused operations known at compile time, and a
    source over `Limits.expression_source_chars`.
    """
    _check_source(source, DEFAULT_LIMITS.expression_source_chars, "expression")
    try:
        expression = environment("plain").compile_expression(source, undefined_to_none=False)
    except Exception as exc:
        raise _compile_error(exc) from exc
    return CompiledExpression(source, expression)


def evaluate_expression(expression: CompiledExpression, context: Mapping[str, Any]) -> Any:
    """Evaluate a compiled expression with `context` and return its value.

    An undefined result raises `TemplateError`; a lazy sequence (`select`, `map`) comes back
    as a list, so that its truth is whether it holds anything.
    """
    token = _RUN.set(_Run(context))
    try:
        result = expression.expression(dict(context))
        if isinstance(result, Undefined):
            str(result)  # raises the undefined error
        if isinstance(result, Iterator):
            result = list(result)
        return result
    except Exception as exc:
        raise _runtime_error(exc) from exc
    finally:
        _RUN.reset(token)


_CHECKED_CODE: dict[str, types.CodeType] = {}
"""Code `check_template` made in this process, by its code-store key, for `compile_template`
to wrap when the template is first rendered (bounded like the memos)."""
