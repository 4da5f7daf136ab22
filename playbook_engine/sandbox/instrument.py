"""Compile-time work on a template's tree: what the sandbox refuses statically, and the
runtime guards it inserts (iteration, size, work) through the code generator."""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import LoopContext
from jinja2.tests import TESTS
from jinja2.visitor import NodeTransformer

from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.sandbox.budget import MAX_INT_BITS

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


class _Unknown:
    """A value the source does not fix."""


_UNKNOWN = _Unknown()
_TEXT_CAP = DEFAULT_LIMITS.rendered_output_chars


def _literal(node: nodes.Node) -> object:
    """The value of literal arithmetic (`'a' * 10**9`, `9**999999999`) as far as it can be
    computed within the caps a render enforces, else `_UNKNOWN`; raises `ValueError` with the
    reason when the literal alone is past a cap (every render would refuse it)."""
    if isinstance(node, nodes.Const):
        value = node.value
        return value if isinstance(value, int | str) and not isinstance(value, bool) else _UNKNOWN
    if isinstance(node, nodes.Neg | nodes.Pos):
        inner = _literal(node.node)
        return -inner if isinstance(node, nodes.Neg) and isinstance(inner, int) else inner
    if not isinstance(node, nodes.Pow | nodes.Mul | nodes.Add | nodes.Concat):
        return _UNKNOWN
    if isinstance(node, nodes.Concat):
        parts = [_literal(n) for n in node.nodes]
        if any(p is _UNKNOWN for p in parts):
            return _UNKNOWN
        text = "".join(str(p) for p in parts)
        return _capped(text)
    left, right = _literal(node.left), _literal(node.right)
    if left is _UNKNOWN or right is _UNKNOWN:
        return _UNKNOWN
    if isinstance(node, nodes.Pow):
        if isinstance(left, int) and isinstance(right, int):
            if right > 0 and left.bit_length() * right > MAX_INT_BITS:
                raise ValueError(f"a number in the template is larger than {MAX_INT_BITS:,} bits")
            return left**right if right >= 0 else _UNKNOWN
        return _UNKNOWN
    if isinstance(node, nodes.Mul):
        if isinstance(left, str) and isinstance(right, int):
            left, right = right, left
        if isinstance(left, int) and isinstance(right, str):
            if len(right) * left > _TEXT_CAP:
                raise ValueError(f"a value in the template is larger than {_TEXT_CAP:,} characters")
            return right * left
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise ValueError(f"a number in the template is larger than {MAX_INT_BITS:,} bits")
            return left * right
        return _UNKNOWN
    if type(left) is type(right):
        total = left + right  # type: ignore[operator]
        return _capped(total) if isinstance(total, str) else total
    return _UNKNOWN


def _capped(text: str) -> str:
    if len(text) > _TEXT_CAP:
        raise ValueError(f"a value in the template is larger than {_TEXT_CAP:,} characters")
    return text


def _static_refusal(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Test) and node.name not in TESTS:
        return f"no test named '{node.name}'"
    if isinstance(node, nodes.Pow | nodes.Mul | nodes.Add | nodes.Concat):
        try:
            _literal(node)
        except ValueError as refused:
            return str(refused)
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
