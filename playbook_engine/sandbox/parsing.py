"""Parsing templates and expressions with Jinja2 for `analysis`: what the code store did not
hold is found here (the tree's paths, private lookups and macros, the names read, the code a
check generates)."""

from __future__ import annotations

import io

from jinja2 import TemplateSyntaxError, nodes
from jinja2.compiler import Frame
from jinja2.idtracking import VAR_LOAD_RESOLVE
from jinja2.meta import find_undeclared_variables
from jinja2.parser import Parser

from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.sandbox.environments import SandboxEnvironment, environment
from playbook_engine.sandbox.errors import TemplateError, _check_source
from playbook_engine.sandbox.instrument import _CodeGenerator
from playbook_engine.sandbox.templates import _CHECKED_CODE, _compile_error


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


def find_variables(source: str, expression: bool) -> frozenset[str]:
    try:
        return frozenset(find_undeclared_variables(_parse(source, expression)))
    except TemplateError:
        raise
    except Exception as exc:
        raise _compile_error(exc) from exc


Analysed = tuple[frozenset[str], frozenset[str], frozenset[str], frozenset[str] | None]
"""The fields of `analysis.TemplateAnalysis`: paths, private lookups, macros, names read."""


def analyse(source: str, expression: bool) -> Analysed:
    """The analysis of a template (or expression) that parses; raises `TemplateError`."""
    tree = _parse(source, expression)
    variables: frozenset[str] | None
    try:
        variables = find_variables(source, expression)
    except TemplateError:
        variables = None
    return (*_tree_analyses(tree), variables)


def check(source: str, mode: str) -> Analysed:
    """`analysis.check_template`'s work: one parse and one code generation give the analyses
    and the code, kept in this process for `compile_template`."""
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
    if len(_CHECKED_CODE) >= 4096:
        _CHECKED_CODE.clear()
    _CHECKED_CODE[f"{mode}\0{source}"] = code
    return paths, private, macros, frozenset(generator.undeclared)


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


# Filters whose result is text, a number or a sequence, never true or false.
_VALUE_FILTERS = frozenset(
    "abs capitalize count default d dictsort filesizeformat first float groupby indent int items "
    "join last length list lower map max min reject rejectattr replace reverse round select "
    "selectattr sort string sum title tojson trim truncate unique upper urlencode wordcount "
    "wordwrap".split()
) - {"default", "d", "first", "last", "max", "min"}  # these pass a boolean through


def not_a_condition(source: str) -> str | None:
    """What an `expr:` condition gives instead of true or false, when its source says so (a
    literal, arithmetic, joined text, a list, a filter that makes text or numbers), else None.
    A field (`incident.customerFacing`) may hold a boolean, so it is accepted."""
    tree = _parse(source, expression=True)
    output = tree.body[0]
    assert isinstance(output, nodes.Output)
    node = output.nodes[0]
    if isinstance(node, nodes.Const) and not isinstance(node.value, bool):
        return f"the literal {node.value!r}"
    if isinstance(node, nodes.BinExpr | nodes.Neg | nodes.Pos) and not isinstance(
        node, nodes.And | nodes.Or
    ):
        return "a number or text computed by arithmetic"
    if isinstance(node, nodes.Concat):
        return "text joined with ~"
    if isinstance(node, nodes.List | nodes.Tuple | nodes.Dict):
        return "a list or mapping"
    if isinstance(node, nodes.Filter) and node.name in _VALUE_FILTERS:
        return f"the result of the '{node.name}' filter"
    return None
