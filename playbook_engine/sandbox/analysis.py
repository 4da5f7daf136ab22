"""Static analysis of templates and expressions: the names and paths they read, private lookups,
macros they use, and `check_template` (what compiling would report, without a template object).

Answers come from this process's memo, then from the code store; only what neither holds is
parsed (`parsing`, which imports Jinja2), so a validation the store answers needs no Jinja2."""

from __future__ import annotations

import marshal
import sys
from dataclasses import dataclass
from functools import lru_cache

from playbook_engine.limits import DEFAULT_LIMITS
from playbook_engine.sandbox.errors import TemplateError, _check_source
from playbook_engine.speed.stores import CodeStore, active_store
from playbook_engine.speed.stores import stored as _stored


@lru_cache(maxsize=4096)
def _variables(source: str, expression: bool) -> frozenset[str]:
    # A whole code-generation pass, made and kept in the store with the tree's analyses.
    found = _analysis(source, expression).variables
    if found is None:  # the analysis could not find them: say why
        from playbook_engine.sandbox import parsing

        return parsing.find_variables(source, expression)
    return found


def template_variables(source: str, expression: bool = False) -> set[str]:
    """The top-level names a template (or, with `expression=True`, an expression) reads from
    its context, by `jinja2.meta.find_undeclared_variables`. Raises `TemplateError` if it
    does not parse."""
    return set(_variables(source, expression))


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
    from playbook_engine.sandbox import parsing  # Jinja2: only for what the store lacks

    found = TemplateAnalysis(*parsing.analyse(source, expression))
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


def forget_templates() -> None:
    """Drop what this process memoised of templates (compiled, checked, analysed), so that
    the next question goes to the code store or compiles afresh."""
    for memo in (check_template, _analysis, _variables):
        memo.cache_clear()
    templates = sys.modules.get("playbook_engine.sandbox.templates")
    if templates is not None:  # nothing was compiled if it was never imported
        templates.compile_template.cache_clear()
        templates._CHECKED_CODE.clear()


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
    from playbook_engine.sandbox import parsing  # Jinja2: only for what the store lacks

    found = TemplateAnalysis(*parsing.check(source, mode))
    _store_analysis(store, key, found)
    return found


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


def not_a_condition(source: str) -> str | None:
    """What an `expr:` condition gives instead of true or false, when its source says so (a
    literal, arithmetic, joined text, a list, a filter that makes text or numbers), else None.
    A field (`incident.customerFacing`) may hold a boolean, so it is accepted."""
    from playbook_engine.sandbox import parsing

    return parsing.not_a_condition(source)
