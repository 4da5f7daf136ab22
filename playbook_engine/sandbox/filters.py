"""The curated filters: Jinja2's harmless ones, and guarded versions of those that can grow
text (replace, join, indent, wordwrap, tojson)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.utils import _PassArg

from playbook_engine.sandbox.budget import _check_size, _check_text_size, _produced, _size

# --- filters --------------------------------------------------------------------------------

_KEPT_FILTERS = (
    "abs capitalize count d default dictsort filesizeformat first float groupby indent int items "
    "join last length list lower map max min reject rejectattr replace reverse round select "
    "selectattr sort string sum title tojson trim truncate unique upper urlencode wordcount "
    "wordwrap"
).split()


def _check_replace(s: Any, old: Any, new: Any, count: Any = None) -> Any:
    text, old_text = str(s), str(old)
    found = text.count(old_text)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _check_text_size(len(text) + found * max(0, len(str(new)) - len(old_text)))
    return s


def _check_join(value: Any, d: Any = "", attribute: Any = None) -> Any:
    items = list(value)
    _check_text_size(_size(items) + len(str(d)) * max(0, len(items) - 1))
    return items


def _check_indent(s: Any, width: Any = 4, first: Any = False, blank: Any = False) -> Any:
    text = str(s)
    pad = len(width) if isinstance(width, str) else max(0, int(width))
    _check_text_size(len(text) + (text.count("\n") + 1) * pad)
    return s


def _check_wordwrap(
    s: Any,
    width: Any = 79,
    break_long_words: Any = True,
    wrapstring: Any = None,
    break_on_hyphens: Any = True,
) -> Any:
    text = str(s)
    # Greedy wrapping puts a line and the next word over `width`: lines <= 2 * chars / width.
    lines = 2 * len(text) // max(1, int(width)) + text.count("\n") + 2
    _check_text_size(len(text) + lines * len(wrapstring or "\n"))
    return s


def _check_serialised(value: Any, *args: Any, **kwargs: Any) -> Any:
    _check_size(value)
    return value


def _check_tojson(value: Any, indent: Any = None) -> Any:
    # Indentation repeats on every line, once per level: a wide indent multiplies the text.
    width = len(indent) if isinstance(indent, str) else indent or 0
    if not isinstance(width, int) or width > 8:
        raise SecurityError("tojson indent may be at most 8")
    return _check_serialised(value)


_PRECHECKS: dict[str, Callable[..., Any]] = {
    "replace": _check_replace,
    "join": _check_join,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "tojson": _check_tojson,
    "string": _check_serialised,
    "urlencode": _check_serialised,
}


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    pass_arg = _PassArg.from_obj(func)
    precheck = _PRECHECKS.get(name)

    # Needing the context also stops Jinja2 from running the filter at compile time.
    @pass_context
    def guarded(context: Context, value: Any, *args: Any, **kwargs: Any) -> Any:
        if precheck is not None:
            value = precheck(value, *args, **kwargs)
        if pass_arg is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif pass_arg is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg is _PassArg.environment:
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        return _produced(result)

    return guarded
