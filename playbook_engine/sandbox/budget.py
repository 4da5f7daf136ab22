"""The per-render budget: every value built, loop iteration, call and character produced is
counted against the caps, so no template can run or grow without limit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined

from playbook_engine.limits import DEFAULT_LIMITS


class _LimitError(SecurityError):
    """A resource cap was reached while rendering."""


MAX_STEPS = 10_000
"""Loop iterations plus calls (macros, methods, `range`...) one render or evaluation may run."""
WORK_FACTOR = 10
"""Text produced in one render, literal text and discarded values included, is capped at this
many times `rendered_output_chars`."""
MAX_INT_BITS = 4096
"""Largest integer arithmetic may produce (about 1,200 digits)."""
PLAN_STEPS = 100_000
"""Loop iterations plus calls all the templates and expressions of one plan may run together
(`plan_budget`): many templates each just under `MAX_STEPS` cannot add up to a long run."""
PLAN_WORK_FACTOR = 4
"""Text produced by all the templates of one plan is capped at this many times the text one
render may produce."""

_VALUE_CHARS = DEFAULT_LIMITS.rendered_output_chars
_WORK_CHARS = WORK_FACTOR * _VALUE_CHARS


# --- per-render budget --------------------------------------------------------------------


class PlanBudget:
    """What all the renders and evaluations of one plan may still spend together."""

    __slots__ = ("steps", "work")

    def __init__(self) -> None:
        self.steps = PLAN_STEPS
        self.work = PLAN_WORK_FACTOR * _WORK_CHARS

    def spent(self) -> _LimitError:
        if self.steps < 0:
            return _LimitError(
                f"the plan's templates and expressions run more than {PLAN_STEPS:,} loop "
                "iterations and calls in all"
            )
        return _LimitError(
            f"the plan's templates produce more than {PLAN_WORK_FACTOR * _WORK_CHARS:,} "
            "characters of text in all"
        )


_PLAN: ContextVar[PlanBudget | None] = ContextVar("playbook_engine_plan_budget", default=None)


@contextmanager
def plan_budget() -> Iterator[PlanBudget]:
    """Give the renders and evaluations inside the block one shared budget besides their own
    (the engine opens one per plan). Once it is spent, every render fails at once."""
    token = _PLAN.set(PlanBudget())
    try:
        yield _PLAN.get() or PlanBudget()
    finally:
        _PLAN.reset(token)


class _Run:
    """The budget and data of one render or evaluation (a context variable, so thread-safe)."""

    __slots__ = ("steps", "work", "context", "plan", "_paths")

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.steps = MAX_STEPS
        self.work = _WORK_CHARS
        self.context = context
        self.plan = _PLAN.get()
        self._paths: dict[int, str] | None = None

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise _LimitError(
                f"the template runs more than {MAX_STEPS:,} loop iterations and calls"
            )
        plan = self.plan
        if plan is not None:
            plan.steps -= 1
            if plan.steps < 0:
                raise plan.spent()

    def charge(self, chars: int) -> None:
        self.work -= chars
        if self.work < 0:
            raise _LimitError(
                f"the template produces more than {_WORK_CHARS:,} characters of text in all"
            )
        plan = self.plan
        if plan is not None:
            plan.work -= chars
            if plan.work < 0:
                raise plan.spent()

    def path_of(self, obj: object) -> str | None:
        """The dotted path of a dict or list of the context, for error messages."""
        if self._paths is None:
            self._paths = {}
            pending: list[tuple[str, object]] = list(self.context.items())
            # Only needed for messages: a bounded walk, built on the first undefined value.
            while pending and len(self._paths) < 10_000:
                path, value = pending.pop()
                if isinstance(value, dict):
                    self._paths.setdefault(id(value), path)
                    pending.extend((f"{path}.{k}", v) for k, v in value.items())
                elif isinstance(value, list):
                    self._paths.setdefault(id(value), path)
                    pending.extend((f"{path}.{i}", v) for i, v in enumerate(value))
        return self._paths.get(id(obj))


_RUN: ContextVar[_Run | None] = ContextVar("playbook_engine_sandbox_run", default=None)


def _run() -> _Run:
    # Outside render/evaluate (Jinja folding constants, say) the caps hold, on a fresh budget.
    return _RUN.get() or _Run({})


def _size(value: Any, limit: int = _VALUE_CHARS) -> int:
    """Characters and items in `value`, counted through containers; stops once over `limit`.

    Refuses what has no stable text: functions (their text shows memory addresses), lazy
    iterators, and undefined values (whose own error is raised).
    """
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, Undefined):
            str(item)  # StrictUndefined raises its "has no attribute" error here
            total += 1
        elif isinstance(item, str):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif isinstance(item, Iterator):
            raise SecurityError("a lazy sequence cannot be used as a value here: add |list")
        elif callable(item):
            raise SecurityError("a function cannot be used as a value: call it")
        elif isinstance(item, Iterable):
            items = list(item) if total + 1 <= limit else []
            total += len(items) + 1
            if total <= limit:
                pending.extend(items)
        else:
            total += 1
    return total


def _check_size(value: Any) -> Any:
    if _size(value) > _VALUE_CHARS:
        raise _LimitError(f"a value in the template is larger than {_VALUE_CHARS:,} characters")
    return value


def _produced(value: Any) -> Any:
    """Account for a value an operation built: text is charged, everything is capped."""
    if isinstance(value, str):
        if len(value) > _VALUE_CHARS:
            raise _LimitError(f"a value in the template is larger than {_VALUE_CHARS:,} characters")
        _run().charge(len(value))
    elif isinstance(value, list | tuple | dict) and len(value) > _VALUE_CHARS:
        raise _LimitError(f"a value in the template has more than {_VALUE_CHARS:,} items")
    elif isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _LimitError(f"a number in the template is larger than {MAX_INT_BITS:,} bits")
    return value


def _check_text_size(chars: int) -> None:
    if chars > _VALUE_CHARS:
        raise _LimitError(f"a value in the template is larger than {_VALUE_CHARS:,} characters")


def _check_growth(operator: str, left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if operator == "**":
            bits = left.bit_length() * right if right > 0 else 0
        else:
            bits = left.bit_length() + right.bit_length()
        if bits > MAX_INT_BITS:
            raise _LimitError(f"a number in the template is larger than {MAX_INT_BITS:,} bits")
        return
    if operator == "*":
        sequence, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(times, int) and isinstance(sequence, str | list | tuple) and times > 0:
            _check_text_size(_size(sequence) * times)
