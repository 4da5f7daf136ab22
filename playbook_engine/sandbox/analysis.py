"""Static analysis of templates and expressions: the names and paths they read, private lookups,
macros they use, and `check_template` (what compiling would report, without a template object)."""

from __future__ import annotations

import io
import marshal
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import TemplateSyntaxError, nodes
from jinja2.compiler import Frame
from jinja2.idtracking import VAR_LOAD_RESOLVE
from jinja2.meta import find_undeclared_variables
from jinja2.parser import Parser

from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.sandbox.environments import SandboxEnvironment, environment
from playbook_engine.sandbox.errors import TemplateError
from playbook_engine.sandbox.instrument import _CodeGenerator
from playbook_engine.sandbox.templates import (
    _CHECKED_CODE,
    _check_source,
    _compile_error,
    compile_template,
)
from playbook_engine.speed.stores import CodeStore, active_store
from playbook_engine.speed.stores import stored as _stored


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


def prepare_template(source: str, mode: str) -> None:
    """Do, into the active store, the work `check_template` does for `source` in `mode`
    that the store keeps; a template that does not compile is left for it to report."""
    try:
        check_template(source, mode)
    except TemplateError:  # reported where the library is compiled
        return


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
