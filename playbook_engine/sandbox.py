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
"""

from __future__ import annotations

import io
import marshal
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes, pass_context, pass_eval_context
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Template, TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.idtracking import VAR_LOAD_RESOLVE
from jinja2.meta import find_undeclared_variables
from jinja2.nodes import EvalContext
from jinja2.parser import Parser
from jinja2.runtime import Context, LoopContext, Macro, Undefined, markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.speed.stores import CodeStore as CodeStore
from playbook_engine.speed.stores import MemoryStore as MemoryStore
from playbook_engine.speed.stores import active_store as active_store
from playbook_engine.speed.stores import stored as _stored
from playbook_engine.speed.stores import use_code_store as use_code_store
from playbook_engine.textsafe import visible

MODES = ("plain", "markdown", "chat", "html", "header", "chat-header")
MAX_STEPS = 10_000
"""Loop iterations plus calls (macros, methods, `range`...) one render or evaluation may run."""
WORK_FACTOR = 10
"""Text produced in one render, literal text and discarded values included, is capped at this
many times `rendered_output_chars`."""
MAX_INT_BITS = 4096
"""Largest integer arithmetic may produce (about 1,200 digits)."""

_VALUE_CHARS = DEFAULT_LIMITS.rendered_output_chars
_WORK_CHARS = WORK_FACTOR * _VALUE_CHARS


class TemplateError(Exception):
    """A template or expression that does not compile or cannot be rendered.

    `message` is one line for a person; `line` is 1-based inside the template text, 0 when
    unknown. `str(error)` is the message.
    """

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _MacroText(str):
    """What a macro returned: its literal text plus values it already escaped when printing."""

    __slots__ = ()


class _LimitError(SecurityError):
    """A resource cap was reached while rendering."""


# --- per-render budget --------------------------------------------------------------------


class _Run:
    """The budget and data of one render or evaluation (a context variable, so thread-safe)."""

    __slots__ = ("steps", "work", "context", "_paths")

    def __init__(self, context: Mapping[str, Any]) -> None:
        self.steps = MAX_STEPS
        self.work = _WORK_CHARS
        self.context = context
        self._paths: dict[int, str] | None = None

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise _LimitError(
                f"the template runs more than {MAX_STEPS:,} loop iterations and calls"
            )

    def charge(self, chars: int) -> None:
        self.work -= chars
        if self.work < 0:
            raise _LimitError(
                f"the template produces more than {_WORK_CHARS:,} characters of text in all"
            )

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


# --- escaping per output ------------------------------------------------------------------

_LINE_BREAKS = re.compile("\r\n|[\n\r\v\f\x85\u2028\u2029]")
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>|#]|(?<![^\W_])_|_(?![^\W_])")
_MARKDOWN_LEADING = re.compile(r"^(\s*)(?:([-+=])|([0-9]+)([.)]))")
_MENTION = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)


def _escape_plain(text: str) -> str:
    return visible(_LINE_BREAKS.sub(" ", text))


def _escape_markdown(text: str) -> str:
    text = _MARKDOWN_SPECIAL.sub(r"\\\g<0>", _LINE_BREAKS.sub(" ", text))
    text = _MARKDOWN_LEADING.sub(
        lambda m: f"{m[1]}\\{m[2]}" if m[2] else f"{m[1]}{m[3]}\\{m[4]}", text
    )
    return visible(text)


def _escape_chat(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MENTION.sub("@\u200d\\1", _LINE_BREAKS.sub("\n", text))
    return visible(text)


def _escape_html(text: str) -> str:
    # Jinja2's autoescape turns & < > " ' into entities after this.
    return visible(_LINE_BREAKS.sub("\n", text))


def _escape_header(text: str) -> str:
    return _INVISIBLE.sub("", _LINE_BREAKS.sub(" ", text.replace("\t", " ")))


_ESCAPES: dict[str, Callable[[str], str]] = {
    "plain": _escape_plain,
    "markdown": _escape_markdown,
    "chat": _escape_chat,
    "html": _escape_html,
    "header": _escape_header,
    # a chat message's one-line parts (subject, recipients): one line, and no mentions
    "chat-header": lambda text: _escape_chat(_escape_header(text)),
}


def escape(text: str, mode: str) -> str:
    """`text` made inert for an output mode, as templates do to every interpolated value.

    - `plain`: line breaks become spaces; other control and bidi characters become visible
      escapes such as `\\x1b`.
    - `markdown`: as plain, and `\\`, `` ` ``, `*`, `_`, `[`, `]`, `<`, `>`, `|`, `#` and a
      leading `-`, `+`, `=` or `1.` are backslash-escaped (an `_` between letters or digits is
      kept, so identifiers stay readable): a value cannot forge a list, link or heading.
    - `chat`: line breaks kept; `&`, `<`, `>` become entities (Slack's `<!here>`, `<@U123>`,
      `<url|text>` stay text) and `@here`, `@channel`, `@everyone` get a zero-width joiner.
    - `html`: control characters as in plain, line breaks kept; HTML escaping itself is done
      by the environment's autoescape.
    - `header`: line breaks and tabs become spaces, other control and bidi characters are
      removed, so a value cannot add an e-mail header.
    """
    return _ESCAPES[mode](text)


def _make_finalize(mode: str) -> Callable[[EvalContext, Any], Any]:
    escape_text = _ESCAPES[mode]

    @pass_eval_context
    def finalize(eval_ctx: EvalContext, value: Any) -> Any:
        _check_size(value)
        if hasattr(value, "__html__") and mode == "html":
            text = value  # already safe HTML (|tojson): autoescape leaves it alone
        elif isinstance(value, _MacroText):
            text = str(value)  # escaped inside the macro; escaping again would double it
        else:
            text = escape_text(value if isinstance(value, str) else str(value))
        _run().charge(len(text))
        return text

    return finalize


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


# --- the environment --------------------------------------------------------------------------

_SAFE_METHODS: tuple[tuple[type, frozenset[str]], ...] = (
    (
        str,
        frozenset(
            "capitalize casefold count endswith find isalnum isalpha isdecimal isdigit islower "
            "isnumeric isspace istitle isupper lower lstrip partition removeprefix removesuffix "
            "replace rfind rpartition rsplit rstrip split splitlines startswith strip swapcase "
            "title upper".split()
        ),
    ),
    (dict, frozenset({"get", "items", "keys", "values"})),
    (list, frozenset({"count", "index"})),
    (tuple, frozenset({"count", "index"})),
    (LoopContext, frozenset({"cycle", "changed"})),
)
_REFUSED_NODES: tuple[tuple[type[nodes.Node], str], ...] = (
    (nodes.Extends, "'extends' is not available: a template cannot load other templates"),
    (nodes.Include, "'include' is not available: a template cannot load other templates"),
    (nodes.Import, "'import' is not available: a template cannot load other templates"),
    (nodes.FromImport, "'from' is not available: a template cannot load other templates"),
    (
        nodes.ScopedEvalContextModifier,
        "'autoescape' blocks are not available: escaping depends on where the text goes",
    ),
    (
        nodes.EvalContextModifier,
        "'autoescape' blocks are not available: escaping depends on where the text goes",
    ),
)


# Values whose type is known from the source: literals, the `dict` global, and the incident's
# mappings (the schema makes these objects).
_MAPPINGS = frozenset(
    {"incident", "incident.labels", "incident.metrics", "incident.source", "deadlines", "playbook"}
)


def _known_value(node: nodes.Node) -> object | None:
    """A sample of the kind of value `node` always evaluates to, if the source says."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return ""
    if isinstance(node, nodes.List | nodes.Tuple | nodes.Dict):
        return {nodes.List: [], nodes.Tuple: (), nodes.Dict: {}}[type(node)]
    if isinstance(node, nodes.Name) and node.name == "dict":
        return dict
    parts: list[str] = []
    while isinstance(node, nodes.Getattr):
        parts.append(node.attr)
        node = node.node
    if isinstance(node, nodes.Name) and ".".join([node.name, *parts[::-1]]) in _MAPPINGS:
        return {}
    return None


def _static_refusal(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Mod) and isinstance(node.left, nodes.Const):
        if isinstance(node.left.value, str):
            return "'%' formatting is not available in templates: join text with ~"
    name = value = None
    if isinstance(node, nodes.Getattr):
        name, value = node.attr, _known_value(node.node)
    elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        name, value = node.arg.value, _known_value(node.node)
        if isinstance(value, dict) or value is dict:
            return None  # `x["update"]` reads a key first: it may be data
    if not isinstance(name, str) or name.startswith("_"):
        return None
    if value is None or not hasattr(value, name):
        return None
    if any(isinstance(value, kind) and name in names for kind, names in _SAFE_METHODS):
        return None
    return f"'{type(value).__name__}.{name}' is not available in templates"


def _refuse_statically(tree: nodes.Node) -> None:
    """Raise for the first construct, in evaluation order, that no data could make work."""
    for child in tree.iter_child_nodes():
        _refuse_statically(child)
    message = _static_refusal(tree)
    if message is not None:
        raise TemplateSyntaxError(message, tree.lineno)


# Jinja2 forbids custom node types, so a runtime check is a call of an environment attribute
# (a node templates cannot write), compiled to a direct call by `_CodeGenerator`.
_GUARDS = frozenset({"pe_iter", "pe_size", "pe_charge", "pe_concat"})


def _guard(kind: str, node: nodes.Node) -> nodes.Call:
    check = nodes.EnvironmentAttribute(f"pe_{kind}", lineno=node.lineno)
    return nodes.Call(check, [node], [], None, None, lineno=node.lineno)


class _Instrument(NodeTransformer):
    """Wraps loops, literals, `~` and literal output in runtime checks; refuses loading and
    autoescape tags."""

    def generic_visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        for kind, message in _REFUSED_NODES:
            if isinstance(node, kind):
                raise TemplateSyntaxError(message, node.lineno)
        return super().generic_visit(node, *args, **kwargs)

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = _guard("iter", node.iter)
        return node

    def visit_Output(self, node: nodes.Output) -> list[nodes.Node]:
        self.generic_visit(node)
        literal = sum(len(c.data) for c in node.nodes if isinstance(c, nodes.TemplateData))
        if not literal:
            return [node]
        charge = nodes.ExprStmt(
            _guard("charge", nodes.Const(literal, lineno=node.lineno)), lineno=node.lineno
        )
        return [charge, node]

    def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
        self.generic_visit(node)
        return _guard("concat", nodes.List(node.nodes, lineno=node.lineno))

    def visit_List(self, node: nodes.List) -> nodes.Call:
        self.generic_visit(node)
        return _guard("size", node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Call:
        self.generic_visit(node)
        return _guard("size", node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Expr:
        self.generic_visit(node)
        return node if node.ctx == "store" else _guard("size", node)


class _CodeGenerator(CodeGenerator):
    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        _refuse_statically(node)
        _Instrument().visit(node)
        super().visit_Template(node, frame)

    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        if isinstance(node.node, nodes.EnvironmentAttribute) and node.node.name in _GUARDS:
            self.write(f"environment.{node.node.name}(")
            self.visit(node.args[0], frame)
            self.write(")")
        else:
            super().visit_Call(node, frame, forward_caller=forward_caller)


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
            str(obj)  # report the undefined name, not the attribute asked of it
        return self._named_undefined(super().getattr(obj, attribute), obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
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


@lru_cache(maxsize=len(MODES))
def environment(mode: str) -> SandboxEnvironment:
    """The environment of an output mode (one of `MODES`), created once."""
    if mode not in MODES:
        raise ValueError(f"unknown output mode {mode!r}: expected one of {', '.join(MODES)}")
    return SandboxEnvironment(mode)


# --- public API -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A template compiled for one output mode."""

    source: str
    mode: str
    template: Template


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


def prepare_template(source: str, mode: str) -> None:
    """Do, into the active store, the work `check_template` does for `source` in `mode`
    that the store keeps; a template that does not compile is left for it to report."""
    try:
        check_template(source, mode)
    except TemplateError:  # reported where the library is compiled
        return


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
        return CompiledTemplate(source, mode, template)
    except Exception as exc:
        raise _compile_error(exc) from exc


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
        return "".join(chunks)
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


def _parse(source: str, expression: bool) -> nodes.Template:
    env = environment("plain")
    if expression:
        _check_source(source, DEFAULT_LIMITS.expression_source_chars, "expression")
    else:
        _check_source(source, DEFAULT_LIMITS.template_source_chars, "template")
    try:
        if not expression:
            return env.parse(source)
        parser = Parser(env, source, state="variable")
        body = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
        tree = nodes.Template([nodes.Output([body], lineno=1)], lineno=1)
        tree.set_environment(env)
        return tree
    except Exception as exc:
        raise _compile_error(exc) from exc


@lru_cache(maxsize=4096)
def _variables(source: str, expression: bool) -> frozenset[str]:
    # A whole code-generation pass, made and kept in the store with the tree's analyses.
    found = _analysis(source, expression).variables
    return found if found is not None else _find_variables(source, expression)


def _find_variables(source: str, expression: bool) -> frozenset[str]:
    try:
        return frozenset(find_undeclared_variables(_parse(source, expression)))
    except TemplateError:
        raise
    except Exception as exc:
        raise _compile_error(exc) from exc


def template_variables(source: str, expression: bool = False) -> set[str]:
    """The top-level names a template (or, with `expression=True`, an expression) reads from
    its context, by `jinja2.meta.find_undeclared_variables`. Raises `TemplateError` if it
    does not parse."""
    return set(_variables(source, expression))


def _chain(node: nodes.Node) -> list[str] | None:
    """`incident.labels["team"]` as [incident, labels, team]; None unless rooted at a name
    with constant keys all the way."""
    parts: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        else:
            key = node.arg.value if isinstance(node.arg, nodes.Const) else None
            if isinstance(key, bool) or not isinstance(key, str | int):
                return None
            parts.append(str(key))
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load":
        return None
    parts.append(node.name)
    return parts[::-1]


@dataclass(frozen=True, slots=True)
class TemplateAnalysis:
    """What validation asks of a template's tree: the dotted paths it reads, its lookups of
    names starting with `_`, the names it looks up on `macros`, and the names it reads from
    its context."""

    paths: frozenset[str]
    private: frozenset[str]
    macros: frozenset[str]
    variables: frozenset[str] | None  # None: finding them failed (`_variables` says why)


@lru_cache(maxsize=4096)
def _analysis(source: str, expression: bool) -> TemplateAnalysis:
    # Parsing is most of a warm validation's template work once the code comes from the
    # store, so the store keeps the analyses too, in one entry (only of sources that parse:
    # a failure is found, and reported, every time). Keys may hold any text: the store
    # hashes them, and entries are marshalled, not split.
    store = active_store()
    key = f"analysis\0{int(expression)}\0{source}"
    stored = _stored_analysis(store, key)
    if stored is not None:
        return stored
    tree = _parse(source, expression)  # memoised through `_analysis`
    variables: frozenset[str] | None
    try:
        variables = _find_variables(source, expression)
    except TemplateError:
        variables = None
    found = TemplateAnalysis(*_tree_analyses(tree), variables)
    _store_analysis(store, key, found)
    return found


def _stored_analysis(store: CodeStore | None, key: str) -> TemplateAnalysis | None:
    stored = _stored(store, key)
    if (
        isinstance(stored, tuple)
        and len(stored) == 4
        and all(isinstance(part, tuple) for part in stored[:3])
        and (stored[3] is None or isinstance(stored[3], tuple))
        and all(isinstance(name, str) for part in stored if part for name in part)
    ):
        paths, private, macros, names = stored
        return TemplateAnalysis(
            frozenset(paths),
            frozenset(private),
            frozenset(macros),
            None if names is None else frozenset(names),
        )
    return None


def _store_analysis(store: CodeStore | None, key: str, found: TemplateAnalysis) -> None:
    if store is not None:
        parts = (found.paths, found.private, found.macros, found.variables)
        store.put(key, marshal.dumps(tuple(None if p is None else tuple(sorted(p)) for p in parts)))


class _TrackingGenerator(_CodeGenerator):
    """The code generator, noting the names the template reads from its context the way
    `jinja2.meta.find_undeclared_variables` does in a generation pass of its own."""

    def __init__(self, env: SandboxEnvironment) -> None:
        self.text = io.StringIO()
        super().__init__(env, None, None, self.text, optimized=env.optimized)
        self.undeclared: set[str] = set()

    def enter_frame(self, frame: Frame) -> None:
        super().enter_frame(frame)
        for action, param in frame.symbols.loads.values():
            if action == VAR_LOAD_RESOLVE and param not in self.environment.globals:
                self.undeclared.add(param)


_CHECKED_CODE: dict[str, types.CodeType] = {}
"""Code `check_template` made in this process, by its code-store key, for `compile_template`
to wrap when the template is first rendered (bounded like the memos)."""


def forget_templates() -> None:
    """Drop what this process memoised of templates (compiled, checked, analysed), so that
    the next question goes to the code store or compiles afresh."""
    for memo in (compile_template, check_template, _analysis, _variables):
        memo.cache_clear()
    _CHECKED_CODE.clear()


@lru_cache(maxsize=4096)
def check_template(source: str, mode: str) -> TemplateAnalysis:
    """Check a template for `mode` as `compile_template` would, and analyse it, without
    making the template object: validation needs only the diagnostics.

    One parse and one code generation give the analyses and the code, where compiling and
    then analysing took three parses and two generations. The code is kept in this process
    for `compile_template`; the store keeps the analysis of a template that compiled, under
    its mode, so that a later check is one read. Raises `TemplateError` as compiling would;
    the result's `variables` is never None.
    """
    _check_source(source, DEFAULT_LIMITS.template_source_chars, "template")
    store = active_store()
    key = f"checked\0{mode}\0{source}"
    stored = _stored_analysis(store, key)
    if stored is not None and stored.variables is not None:
        return stored  # only a template that compiled in this mode is stored
    env = environment(mode)
    try:
        tree = env._parse(source, None, None)
        # The analyses first: generating the code instruments the tree.
        paths, private, macros = _tree_analyses(tree)
        generator = _TrackingGenerator(env)
        generator.visit(tree)
        code = env._compile(generator.text.getvalue(), "<template>")
    except Exception as exc:
        raise _compile_error(exc) from exc
    found = TemplateAnalysis(paths, private, macros, frozenset(generator.undeclared))
    if len(_CHECKED_CODE) >= 4096:
        _CHECKED_CODE.clear()
    _CHECKED_CODE[f"{mode}\0{source}"] = code
    _store_analysis(store, key, found)
    return found


def _tree_analyses(tree: nodes.Template) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The dotted paths, private lookups and macro names of a tree, from one walk over it
    (`find_all` walks the whole tree for each kind of node asked for)."""
    lookups: list[nodes.Getattr | nodes.Getitem] = []
    callees: set[int] = set()
    filters: list[nodes.Filter | nodes.Test] = []
    stack = list(tree.iter_child_nodes())
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            lookups.append(node)
        elif isinstance(node, nodes.Call):
            callees.add(id(node.node))
        elif isinstance(node, nodes.Filter | nodes.Test):
            filters.append(node)
        stack.extend(node.iter_child_nodes())
    return _paths(lookups, callees), _private(lookups, filters), _macros(lookups)


def _paths(lookups: list[nodes.Getattr | nodes.Getitem], callees: set[int]) -> frozenset[str]:
    # A lookup inside a longer constant chain is not reported on its own.
    inner = {id(n.node) for n in lookups if _chain(n) is not None}
    found: set[str] = set()
    for node in lookups:
        chain = _chain(node)
        if chain is None or id(node) in inner:
            continue
        if id(node) in callees:
            chain = chain[:-1]  # `incident.title.upper()`: the method is not a field
        if len(chain) > 1:
            found.add(".".join(chain))
    return frozenset(found)


def _macros(lookups: list[nodes.Getattr | nodes.Getitem]) -> frozenset[str]:
    return frozenset(
        node.attr
        for node in lookups
        if isinstance(node, nodes.Getattr)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "macros"
    )


def macro_uses(source: str) -> set[str]:
    """Names looked up on `macros` (`macros.badge(...)`) in a template.

    Raises `TemplateError` if the source does not parse.
    """
    return set(_analysis(source, False).macros)


def private_lookups(source: str, expression: bool = False) -> set[str]:
    """Attribute and constant-key lookups of names starting with `_` (`x.__class__`,
    `x['_y']`, `map(attribute='__class__')`): the sandbox refuses them when rendering;
    validation reports them earlier."""
    return set(_analysis(source, expression).private)


def _private(
    lookups: list[nodes.Getattr | nodes.Getitem], filters: list[nodes.Filter | nodes.Test]
) -> frozenset[str]:
    found = {n.attr for n in lookups if isinstance(n, nodes.Getattr) and n.attr.startswith("_")}
    for call in filters:
        # Attribute arguments are dotted paths: `map(attribute="a.__class__")`.
        for arg in [*call.args, *(keyword.value for keyword in call.kwargs)]:
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                found.update(p for p in arg.value.split(".") if p.startswith("_"))
    for node in lookups:
        key = node.arg if isinstance(node, nodes.Getitem) else None
        if (
            isinstance(key, nodes.Const)
            and isinstance(key.value, str)
            and key.value.startswith("_")
        ):
            found.add(key.value)
    return frozenset(found)


def attribute_paths(source: str, expression: bool = False) -> set[str]:
    """Dotted paths a template (or expression) reads, such as `incident.labels.team`.

    Best effort, from the parsed tree: chains of `.name` and `[constant]` lookups starting at
    a name, longest chain only, without a trailing method name; lookups with computed keys
    stop the chain, and names bound inside the template (loop variables) are reported like
    any other root. Raises `TemplateError` if the source does not parse.
    """
    return set(_analysis(source, expression).paths)
