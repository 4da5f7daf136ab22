"""The sandboxed Jinja2 environment: one immutable environment per output mode, with strict
undefined, curated globals, filters and methods, and intercepted operators."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context, LoopContext, Macro, Undefined, markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS

from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.sandbox.budget import (
    _check_growth,
    _check_size,
    _check_text_size,
    _LimitError,
    _produced,
    _run,
    _size,
)
from playbook_engine.sandbox.errors import _MacroText
from playbook_engine.sandbox.escaping import MODES, _make_finalize
from playbook_engine.sandbox.filters import _KEPT_FILTERS, _check_replace, _guard_filter
from playbook_engine.sandbox.instrument import _SAFE_METHODS, _CodeGenerator


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    """The Jinja2 environment of one output mode; get it from `environment(mode)`."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, mode: str) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=mode == "html",
            finalize=_make_finalize(mode),
            optimized=False,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.filters = {name: _guard_filter(name, FILTERS[name]) for name in _KEPT_FILTERS}
        self.tests = dict(TESTS)
        self.globals = {"range": self.pe_range, "dict": dict}

    # Attribute access: the sandbox's rules, plus an allow-list for methods.

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if not callable(value):
            return True
        return any(isinstance(obj, kind) and attr in names for kind, names in _SAFE_METHODS)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Refuse at once, rather than hand back an undefined that fails only when used.
        raise SecurityError(f"'{type(obj).__name__}.{attribute}' is not available in templates")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # No format strings at all: `format`/`format_map` then meet the method allow-list.
        return None

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Undefined):
            # An optional nested field: `incident.metrics.p99 | default("n/a")` with no
            # `metrics` is the first undefined again, which `default` replaces and any other
            # use reports by its own name ('incident' has no attribute 'metrics').
            return obj
        return self._named_undefined(super().getattr(obj, attribute), obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Undefined):
            return obj
        return self._named_undefined(super().getitem(obj, argument), obj, argument)

    def _named_undefined(self, value: Any, obj: Any, name: Any) -> Any:
        if not isinstance(value, Undefined) or isinstance(obj, Undefined):
            return value
        path = _run().path_of(obj)
        if path is None:
            return value
        what = f"item {name}" if isinstance(name, int) else f"attribute '{name}'"
        return self.undefined(f"'{path}' has no {what}", obj=obj, name=name)

    # Calls and operators.

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _run().step()
        if isinstance(obj, LoopContext) and args:
            # `loop(items)` in a recursive for-loop iterates `items` in a loop of its own that
            # the instrumented `for` never sees: count those iterations too.
            args = (self.pe_iter(args[0]), *args[1:])
        if isinstance(obj, types.BuiltinMethodType) and isinstance(obj.__self__, str):
            if obj.__name__ == "replace":
                _check_replace(obj.__self__, *args, **kwargs)
        result = _produced(super().call(context, obj, *args, **kwargs))
        if isinstance(obj, Macro) and type(result) is str:
            return _MacroText(result)
        return result

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError("'%' formatting is not available in templates: join text with ~")
        if operator in ("*", "**"):
            _check_growth(operator, left, right)
        elif operator == "+" and isinstance(left, str | list | tuple):
            _check_text_size(_size(left) + _size(right))
        return _produced(self.binop_table[operator](left, right))

    def pe_range(self, *args: int) -> range:
        """`range` for templates, capped at `Limits.range_size` numbers."""
        cap = DEFAULT_LIMITS.range_size
        numbers = range(*args)
        try:
            too_many = len(numbers) > cap
        except OverflowError:
            too_many = True
        if too_many:
            raise _LimitError(f"range() may produce at most {cap:,} numbers")
        return numbers

    # Runtime checks the instrumented templates call (see `_Instrument`).

    def pe_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        run = _run()
        for item in iterable:
            run.step()
            yield item

    def pe_size(self, value: Any) -> Any:
        return _check_size(value)

    def pe_charge(self, chars: int) -> None:
        _run().charge(chars)

    def pe_concat(self, parts: list[Any]) -> str:
        texts = []
        total = 0
        for part in parts:
            _check_size(part)
            text = part if isinstance(part, str) else str(part)
            total += len(text)
            _check_text_size(total)
            texts.append(text)
        # As Jinja2's own `~`: with autoescape, safe HTML in a part keeps the result safe.
        markup = self.autoescape and any(hasattr(p, "__html__") for p in parts)
        joined = markup_join(parts) if markup else "".join(texts)
        _produced(joined)
        return joined


@lru_cache(maxsize=len(MODES))
def environment(mode: str) -> SandboxEnvironment:
    """The environment of an output mode (one of `MODES`), created once."""
    if mode not in MODES:
        raise ValueError(f"unknown output mode {mode!r}: expected one of {', '.join(MODES)}")
    return SandboxEnvironment(mode)
