"""Compile and render templates and expressions: the API the compiler and the engine use."""

from __future__ import annotations

import marshal
import re
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
from playbook_engine.sandbox.budget import _PLAN, _RUN, _VALUE_CHARS, _WORK_CHARS, _Run
from playbook_engine.sandbox.environments import SandboxEnvironment, environment
from playbook_engine.sandbox.errors import TemplateError, _check_source
from playbook_engine.sandbox.escaping import _ESCAPES, inert_links
from playbook_engine.speed.stores import active_store
from playbook_engine.speed.stores import stored as _stored


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A template compiled for one output mode."""

    source: str
    mode: str
    template: Template
    constant: str | None = None  # the output of a template without Jinja2 syntax
    # A template that is only text and `{{ name.name... }}` (see `_interpolation`): its text
    # and paths, and the length of its text.
    parts: tuple[str | tuple[tuple[str, ...], str | None], ...] | None = None
    literal_chars: int = 0


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
        constant = _constant(source, mode)
        parts = None if constant is not None else _interpolation(source, mode)
        literal = sum(len(part) for part in parts if type(part) is str) if parts else 0
        return CompiledTemplate(source, mode, template, constant, parts, literal)
    except Exception as exc:
        raise _compile_error(exc) from exc


# `{{ incident.title }}` or `{{ incident.reporter | default("unknown") }}`: a name, then names
# after dots, and at most a `default` of plain quoted text. Literal text around it has no brace
# at all, so Jinja2's lexer can read nothing else into it.
_SPACE = r"[ \t\n]*"
_INTERPOLATION = re.compile(
    r"\{\{" + _SPACE + r"([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)" + _SPACE
    + r"(?:\|" + _SPACE + r"default" + _SPACE + r"\(" + _SPACE
    + r"""(?:"([^"\\{}]*)"|'([^'\\{}]*)')""" + _SPACE + r"\)" + _SPACE + r")?\}\}"
)  # fmt: skip
# Names Jinja2 reads as something else (constants, operators) or defines itself.
_NOT_CONTEXT_NAMES = frozenset(
    "true false none True False None not and or in is if else self loop caller varargs "
    "kwargs super range dict macros".split()
)
# A dict's own attributes: Jinja2 looks an attribute up before an item.
_DICT_ATTRIBUTES = frozenset(dir(dict))


_Lookup = tuple[tuple[str, ...], str | None]
"""A path to look up, and the text `default` gives if it is missing."""


def _interpolation(source: str, mode: str) -> tuple[str | _Lookup, ...] | None:
    """The parts of a template that only interpolates values (`Reported by {{ incident.reporter
    }}.`): its literal text and the paths it looks up, rendered without Jinja2 (see `render`);
    None for any other template, and in html (autoescaped, links made inert)."""
    if mode == "html" or "\r" in source or len(source) > DEFAULT_LIMITS.rendered_output_chars:
        return None
    text = source[:-1] if source.endswith("\n") else source
    parts: list[str | _Lookup] = []
    start = 0
    for found in _INTERPOLATION.finditer(text):
        parts.append(text[start : found.start()])
        path = tuple(found[1].split("."))
        if path[0] in _NOT_CONTEXT_NAMES or any(name in _DICT_ATTRIBUTES for name in path[1:]):
            return None
        parts.append((path, found[2] if found[2] is not None else found[3]))
        start = found.end()
    parts.append(text[start:])
    if any(type(part) is str and ("{" in part or "}" in part) for part in parts):
        return None
    return tuple(part for part in parts if part)


_MISSING = object()


def _interpolated(template: CompiledTemplate, context: Mapping[str, Any]) -> str | None:
    """`template` rendered as Jinja2 renders it, if each path names a text or number in
    dicts and the budgets allow; else None (Jinja2 then renders it, and says what is wrong)."""
    assert template.parts is not None
    escape_text = _ESCAPES[template.mode]
    texts: list[str] = []
    total = template.literal_chars
    for part in template.parts:
        if isinstance(part, str):
            texts.append(part)
            continue
        path, default = part
        value = context.get(path[0], _MISSING)
        for name in path[1:]:
            if value is _MISSING:
                break  # Jinja2 looks up in the undefined value: undefined again
            if type(value) is not dict:
                return None
            value = value.get(name, _MISSING)
        if value is _MISSING and default is not None:
            value = default
        kind = type(value)
        if kind is str:
            if len(value) > _VALUE_CHARS:
                return None
            if default is not None:
                total += len(value)  # a filter's text result is charged, then its output
            text = escape_text(value)
        elif kind is int or kind is float:
            text = escape_text(str(value))
        else:
            return None  # missing, or a value Jinja2 shows its own way
        total += len(text)
        texts.append(text)
    if total > DEFAULT_LIMITS.rendered_output_chars or total > _WORK_CHARS:
        return None
    plan = _PLAN.get()
    if plan is not None:
        if plan.work < total:
            return None
        plan.work -= total
    return "".join(texts)


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
    if template.parts is not None:
        text = _interpolated(template, context)
        if text is not None:
            return text
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
