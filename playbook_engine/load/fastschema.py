"""A fast yes/no JSON Schema check for the common case: a document that is valid.

`jsonschema` is the authority and writes every message, but it is slow to import and to
validate with (docs/benchmarks.md, "Shapes"). Almost every document a library holds is valid,
and for a valid document nothing needs explaining, so `schema` first asks this module whether
the document is valid, and only when it is not (or when this module cannot tell) does it import
`jsonschema` to say why.

A schema is translated once into Python source, as ajv does into JavaScript, and compiled:
a function for each `$ref` target that holds references itself and for each subschema that
`anyOf`/`oneOf`/`not`/`if` test as a whole and that looks inside its value; everything else
is inlined as `if <fails>: return False` lines (a property is an `in` test and a lookup, a
closed mapping a subset test against a frozenset, `required` `not in` tests, a `pattern` a
lookup in a table of strings already answered). The source holds only names this module makes
and `repr()`s of the schema's strings and integers; every other value is bound by name. It
follows jsonschema's Draft 2020-12 semantics keyword by keyword (booleans are not numbers,
`1.0` is an integer, NaN passes `minimum` as in jsonschema, `enum`/`const` compare as its
`equal` does and `uniqueItems` as its `uniq`, `pattern` is `re.search`). Only the keywords our
schemas use are supported; a schema with any other validating keyword compiles to None, which
sends every document to jsonschema. The differential tests check that both always agree.

Translating a schema is paid once per process (a third writing the source, two thirds
`compile()`); with a code store (`validate FILE`), the compiled code is kept there.
"""

from __future__ import annotations

import itertools
import marshal
import numbers
import re
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from playbook_engine.speed.stores import CodeStore, stored

Check = Callable[[Any], bool]

# Keywords that never reject anything (annotations), under Draft 2020-12 without a format
# checker, as `schema._validator` builds it. `then`/`else` are read by `if`.
_ANNOTATIONS = frozenset(
    "$schema $comment $defs title description default examples deprecated readOnly writeOnly "
    "format markdownDescription then else".split()
)
# The keywords that apply to one type of value only.
_GROUPS = {
    keyword: group
    for group, keywords in (
        ("object", "required properties additionalProperties propertyNames dependentSchemas"),
        ("object", "minProperties maxProperties"),
        ("array", "items minItems maxItems uniqueItems"),
        ("string", "pattern minLength maxLength"),
        ("number", "minimum maximum exclusiveMinimum exclusiveMaximum"),
    )
    for keyword in keywords.split()
}
# The keywords implemented, cheap ones first: the order changes only how soon a value fails.
_ORDER = {
    keyword: position
    for position, keyword in enumerate(
        "type const enum required additionalProperties minProperties maxProperties minItems "
        "maxItems minLength maxLength minimum maximum exclusiveMinimum exclusiveMaximum pattern "
        "uniqueItems dependentSchemas properties propertyNames items $ref allOf not if oneOf "
        "anyOf".split()
    )
}
_TYPE_TESTS = {
    "object": "isinstance({0}, dict)",
    "array": "isinstance({0}, list)",
    "string": "isinstance({0}, str)",
    "boolean": "type({0}) is bool",  # bool has no subclasses
    "null": "{0} is None",
    # Exact types first: the general test is an abstract-class check.
    "number": "(type({0}) in _NUMBERS or _number({0}))",
    "integer": "(type({0}) is int or _integer({0}))",
}
# The group of keywords a value of each type is tested with.
_GROUP_OF_TYPE = dict(object="object", array="array", string="string", number="number")
_GROUP_OF_TYPE["integer"] = "number"
_LENGTHS = {
    f"{bound}{noun}": "<" if bound == "min" else ">"
    for bound in ("min", "max")
    for noun in ("Properties", "Items", "Length")
}
# As jsonschema compares: a value fails `minimum` when `value < minimum` (so NaN passes).
_BOUNDS = {"minimum": "<", "maximum": ">", "exclusiveMinimum": "<=", "exclusiveMaximum": ">="}
# Beyond these depths a subschema becomes a function of its own: Python limits indentation
# and the nesting of expressions.
_MAX_INDENT = 12
_MAX_NESTING = 8
# How many strings, of at most what length, a `pattern` remembers its answer for.
_MEMO_SIZE = 1 << 14
_MEMO_LENGTH = 100
# Stands for the value in a test written before it is known whether the value gets a name:
# no `repr()` of a string holds a raw NUL.
_HOLE = "\x00"


class Unsupported(Exception):
    """The schema uses something this module does not implement."""


def equal(one: Any, two: Any) -> bool:
    """Equality as jsonschema's `_utils.equal`: `True` is not `1`, through containers."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return one.keys() == two.keys() and all(equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    return bool(one == two)


_TRUE, _FALSE = object(), object()


def _unbool(value: Any) -> Any:
    return _TRUE if value is True else _FALSE if value is False else value


def _unique(items: list[Any]) -> bool:
    try:
        # Values jsonschema calls equal are equal in Python and hash alike: a set as long as
        # the list proves them unique (a shorter one, as {1, True}, proves nothing).
        if len(set(items)) == len(items):
            return True
    except TypeError:
        pass  # lists or mappings among the items
    # jsonschema's `uniq`, quirks included (it compares neighbours once sorted, so
    # [[1], [True], [1]] passes): both must give the same answer.
    try:
        ordered = sorted(_unbool(item) for item in items)
        for one, two in zip(ordered, ordered[1:], strict=False):
            if equal(one, two):
                return False
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in map(_unbool, items):
            if any(equal(earlier, item) for earlier in seen):
                return False
            seen.append(item)
    return True


class _Matches(dict[str, bool]):
    """Whether strings match a pattern (`re.search`), remembered: ids and durations recur in
    every document, and a lookup costs a tenth of a search."""

    __slots__ = ("search",)

    def __init__(self, pattern: str) -> None:
        super().__init__()
        self.search = re.compile(pattern).search

    def __missing__(self, value: str) -> bool:
        found = self.search(value) is not None
        if len(self) < _MEMO_SIZE and type(value) is str and len(value) <= _MEMO_LENGTH:
            self[value] = found
        return found


def _in(value: Any, options: tuple[Any, ...]) -> bool:
    return any(equal(option, value) for option in options)


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


def _integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


class _Generator:
    """Writes the source of one module with a function per schema that is not inlined."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.namespace: dict[str, Any] = {
            "_NUMBERS": (int, float),
            "_number": _number,
            "_integer": _integer,
            "_unique": _unique,
            "_in": _in,
            "_equal": equal,
        }
        self.source: list[str] = []
        self.functions: dict[int, str] = {}
        self.targets: dict[str, Any] = {}
        self.ref_free: dict[int, bool] = {}
        self.patterns: dict[str, str] = {}
        self.numbers = itertools.count()

    def build(self, store: CodeStore | None) -> Check:
        name = self.function(self.root)
        exec(_code("\n".join(self.source), store), self.namespace)
        check: Check = self.namespace[name]
        return check

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.numbers)}"

    def literal(self, value: Any) -> str:
        """Source for `value`: a `repr` for a plain string or integer, else a bound name."""
        if type(value) is str or type(value) is int:
            return repr(value)
        name = self.fresh("_c")
        self.namespace[name] = value
        return name

    def function(self, schema: Any) -> str:
        name = self.functions.get(id(schema))
        if name is None:
            # Named before its body is written, so that recursive references find it.
            name = self.functions[id(schema)] = self.fresh("_s")
            body = self.statements(schema, "v", None, 1)
            self.source += [f"def {name}(v):", *body, "    return True", ""]
        return name

    def keywords(self, schema: Any) -> list[str]:
        if not isinstance(schema, Mapping):
            raise Unsupported(f"schema {schema!r}")
        found = []
        for key in schema:
            if key in _ORDER:
                found.append(key)
            elif key == "$id" and schema is self.root:
                continue  # elsewhere it would change what `$ref`s resolve against
            elif key not in _ANNOTATIONS:
                raise Unsupported(key)
        return sorted(found, key=_ORDER.__getitem__)

    def statements(self, schema: Any, var: str, known: str | None, indent: int) -> list[str]:
        """Lines (at `indent`) that return False when `var` fails `schema`; `known` is the
        JSON type `var` is known to have, if any."""
        pad = "    " * indent
        if schema is True:
            return []
        if schema is False:
            return [f"{pad}return False"]
        keys = self.keywords(schema)
        if indent > _MAX_INDENT:
            return [f"{pad}if not {self.function(schema)}({var}): return False"]
        lines: list[str] = []
        # Consecutive tests share one `if`: fewer statements compile faster.
        failures: list[str] = []
        for key in keys:
            block = self.block(key, schema, var, known, indent)
            if block is None:
                failed = self.failure(key, schema, var, known, 0)
                if failed is not None:
                    failures.append(failed)
            elif block:
                lines += _refusal(pad, failures) + block
                failures = []
            if key == "type":
                known = _narrowed(schema[key], known)
        return lines + _refusal(pad, failures)

    def failed(self, schema: Any, var: str, known: str | None, nesting: int) -> str | None:
        """One expression true when `var` fails `schema` ("" if it cannot), or None when
        `schema` applies schemas to values inside `var` (that takes statements)."""
        if schema is True or schema is False:
            return "True" if schema is False else ""
        keys = self.keywords(schema)
        if nesting > _MAX_NESTING or any(_nests(key, schema[key]) for key in keys):
            return None
        failures = []
        for key in keys:
            failed = self.failure(key, schema, var, known, nesting + 1)
            if failed is not None:
                failures.append(failed)
            if key == "type":
                known = _narrowed(schema[key], known)
        return " or ".join(failures)

    def refused(self, schema: Any, var: str, known: str | None, nesting: int) -> str | None:
        """An expression true when `var` fails `schema`, or None if it cannot."""
        failed = self.failed(schema, var, known, nesting)
        if failed is None:
            return f"not {self.function(schema)}({var})"
        return f"({failed})" if failed else None

    def test(self, schema: Any, var: str, known: str | None, nesting: int) -> str:
        """An expression (an atom: safe after `not`) true when `var` is valid."""
        failed = self.failed(schema, var, known, nesting)
        if failed is None:
            return f"{self.function(schema)}({var})"
        return f"(not ({failed}))" if failed else "True"

    def block(
        self, key: str, schema: Mapping[str, Any], var: str, known: str | None, indent: int
    ) -> list[str] | None:
        """Lines for a keyword better written as statements than as one test, else None."""
        rule = schema[key]
        pad = "    " * indent
        if key == "$ref":
            target = self.resolve(rule)
            return self.statements(target, var, known, indent) if self.inlined(target) else None
        if key == "allOf":
            return [
                line for part in _list(rule) for line in self.statements(part, var, known, indent)
            ]
        if key == "if":
            condition = self.test(rule, var, known, 0)
            then = self.statements(schema.get("then", True), var, known, indent + 1)
            otherwise = self.statements(schema.get("else", True), var, known, indent + 1)
            if not otherwise:
                return [f"{pad}if {condition}:", *then] if then else []
            if not then:
                return [f"{pad}if not {condition}:", *otherwise]
            return [f"{pad}if {condition}:", *then, f"{pad}else:", *otherwise]
        if key != "dependentSchemas" and not _nests(key, rule):
            return None
        group = _GROUPS[key]
        if known is not None and _GROUP_OF_TYPE.get(known) != group:
            return []  # the keyword never applies to a value of the known type
        if known is not None:
            return self.typed_block(key, schema, var, indent)
        body = self.typed_block(key, schema, var, indent + 1)
        return [f"{pad}if {_TYPE_TESTS[group].format(var)}:", *body] if body else []

    def typed_block(self, key: str, schema: Mapping[str, Any], var: str, indent: int) -> list[str]:
        """`block` for a keyword of objects or arrays, `var` being one."""
        rule = schema[key]
        pad = "    " * indent
        lines: list[str] = []
        if key == "properties":
            required = _names(schema.get("required", []))
            for name, subschema in _mapping(rule).items():
                # `required` sorts first: a required property is known to be there.
                lines += self.property(var, name, subschema, name in required, indent)
        elif key == "dependentSchemas":
            for name, subschema in _mapping(rule).items():
                body = self.statements(subschema, var, "object", indent + 1)
                lines += [f"{pad}if {self.literal(name)} in {var}:", *body] if body else []
        elif key == "items":
            item = self.fresh("x")
            body = self.statements(rule, item, None, indent + 1)
            lines += [f"{pad}for {item} in {var}:", *body] if body else []
        elif key == "propertyNames":
            item = self.fresh("k")
            body = self.statements(rule, item, None, indent + 1)
            lines += [f"{pad}for {item} in {var}:", *body] if body else []
        else:  # additionalProperties with a schema
            item, value = self.fresh("k"), self.fresh("x")
            allowed = self.literal(frozenset(_mapping(schema.get("properties", {}))))
            body = self.statements(rule, value, None, indent + 2)
            loop = f"{pad}for {item}, {value} in {var}.items():"
            lines += [loop, f"{pad}    if {item} not in {allowed}:", *body] if body else []
        return lines

    def property(
        self, var: str, name: str, subschema: Any, required: bool, indent: int
    ) -> list[str]:
        """Lines checking property `name` of mapping `var`, if present."""
        pad = "    " * indent
        lookup = f"{var}[{self.literal(name)}]"
        present = f"{self.literal(name)} in {var}"
        item = self.fresh("x")
        failed = self.failed(subschema, _HOLE, None, 0)
        if failed is None:  # a mapping or a list: statements on a name
            inner = indent if required else indent + 1
            body = self.statements(subschema, item, None, inner)
            if not body:
                return []
            assign = f"{'    ' * inner}{item} = {lookup}"
            return [assign, *body] if required else [f"{pad}if {present}:", assign, *body]
        if not failed:
            return []
        if failed.count(_HOLE) <= 1:  # the value is read once: no name for it
            test = failed.replace(_HOLE, lookup)
            return [f"{pad}if {test if required else f'{present} and ({test})'}: return False"]
        test = failed.replace(_HOLE, item)
        if required:
            return [f"{pad}{item} = {lookup}", f"{pad}if {test}: return False"]
        return [
            f"{pad}if {present}:",
            f"{pad}    {item} = {lookup}",
            f"{pad}    if {test}: return False",
        ]

    def failure(
        self, key: str, schema: Mapping[str, Any], var: str, known: str | None, nesting: int
    ) -> str | None:
        """An expression true when `var` fails keyword `key`, or None if it cannot."""
        rule = schema[key]
        if key == "type":
            names = [rule] if isinstance(rule, str) else _list(rule)
            if any(not isinstance(name, str) or name not in _TYPE_TESTS for name in names):
                raise Unsupported(f"type {rule!r}")
            if known is not None and known in names:
                return None
            return f"not ({' or '.join(_TYPE_TESTS[name].format(var) for name in names)})"
        if key == "const":
            if type(rule) is str:
                return f"not ({var} == {self.literal(rule)})"
            return f"not _equal({var}, {self.literal(rule)})"
        if key == "enum":
            options = _list(rule)
            if options and all(type(option) is str for option in options):
                strings = self.literal(frozenset(options))
                if known == "string":
                    return f"{var} not in {strings}"
                return f"not (isinstance({var}, str) and {var} in {strings})"
            return f"not _in({var}, {self.literal(tuple(options))})"
        if key == "$ref":
            target = self.resolve(rule)
            if self.inlined(target):
                return self.refused(target, var, known, nesting)
            return f"not {self.function(target)}({var})"
        if key == "allOf":
            refusals = [self.refused(part, var, known, nesting) for part in _list(rule)]
            return " or ".join(r for r in refusals if r is not None) or None
        if key in ("anyOf", "oneOf"):
            single = _single_names(rule)
            if single:
                return self.presence(key, single, var, known)
            tests = [self.test(part, var, known, nesting) for part in _list(rule)]
            if key == "anyOf":
                return f"not ({' or '.join(tests)})" if tests else "True"
            return f"{' + '.join(tests) or '0'} != 1"
        if key == "not":
            return self.test(rule, var, known, nesting)
        if key == "if":
            condition = self.test(rule, var, known, nesting)
            then = self.test(schema.get("then", True), var, known, nesting)
            otherwise = self.test(schema.get("else", True), var, known, nesting)
            if then == otherwise == "True":
                return None
            return f"not ({then} if {condition} else {otherwise})"
        return self.typed_failure(key, schema, var, known, nesting)

    def typed_failure(
        self, key: str, schema: Mapping[str, Any], var: str, known: str | None, nesting: int
    ) -> str | None:
        """`failure` for a keyword of one type of value: None when `var` cannot be one."""
        group = _GROUPS[key]
        if known is not None and _GROUP_OF_TYPE.get(known) != group:
            return None
        failed = self.typed_test(key, schema, var, nesting)
        if failed is None or known is not None:
            return failed
        return f"({_TYPE_TESTS[group].format(var)} and ({failed}))"

    def typed_test(self, key: str, schema: Mapping[str, Any], var: str, nesting: int) -> str | None:
        rule = schema[key]
        if key in _LENGTHS:
            return f"len({var}) {_LENGTHS[key]} {self.literal(_count(rule))}"
        if key in _BOUNDS:
            if isinstance(rule, bool) or not isinstance(rule, int | float):
                raise Unsupported(f"{key} {rule!r}")
            return f"{var} {_BOUNDS[key]} {self.literal(rule)}"
        if key == "pattern":
            if not isinstance(rule, str):
                raise Unsupported(f"pattern {rule!r}")
            # One memory per pattern: ids are tested in many places.
            matches = self.patterns.get(rule)
            if matches is None:
                matches = self.patterns[rule] = self.literal(_Matches(rule))
            return f"not {matches}[{var}]"
        if key == "uniqueItems":
            return f"not _unique({var})" if rule else None
        if key == "required":
            names = list(dict.fromkeys(_names(rule)))
            if len(names) > 4:
                return f"not {var}.keys() >= {self.literal(frozenset(names))}"
            return " or ".join(f"{self.literal(name)} not in {var}" for name in names) or None
        if key == "additionalProperties":  # a boolean: `block` writes a schema's loop
            if rule is True:
                return None
            allowed = self.literal(frozenset(_mapping(schema.get("properties", {}))))
            return f"not {allowed}.issuperset({var})"
        # dependentSchemas
        tests = [
            f"({self.literal(name)} in {var} and not {self.test(part, var, 'object', nesting)})"
            for name, part in _mapping(rule).items()
        ]
        return " or ".join(tests) or None

    def presence(self, key: str, names: list[str], var: str, known: str | None) -> str | None:
        """`failure` of an `anyOf`/`oneOf` of `required` one name each: a set operation."""
        keys = self.literal(frozenset(names))
        if key == "anyOf":
            failed = f"{keys}.isdisjoint({var})"
        else:
            failed = f"len({keys}.intersection({var})) != 1"
        # Every branch accepts a value that is not a mapping.
        other_fails = key == "oneOf" and len(names) != 1
        if known == "object":
            return failed
        if known is not None:
            return "True" if other_fails else None
        if other_fails:
            return f"(not isinstance({var}, dict) or {failed})"
        return f"(isinstance({var}, dict) and {failed})"

    def inlined(self, schema: Any) -> bool:
        """Whether a `$ref` target is written in place: when it holds no `$ref` itself (so
        inlining ends), as the short definitions (ids, durations, scalars) are."""
        if isinstance(schema, bool):
            return True
        free = self.ref_free.get(id(schema))
        if free is None:
            free = self.ref_free[id(schema)] = not _has_ref(schema)
        return free

    def resolve(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")) or "%" in ref:
            raise Unsupported(f"$ref {ref!r}")
        if ref in self.targets:
            return self.targets[ref]
        target: Any = self.root
        for token in ref[2:].split("/") if ref != "#" else []:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and token in target:
                target = target[token]
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            else:
                raise Unsupported(f"$ref {ref!r} does not resolve")
        self.targets[ref] = target
        return target


def _refusal(pad: str, failures: list[str]) -> list[str]:
    return [f"{pad}if {' or '.join(failures)}: return False"] if failures else []


def _narrowed(rule: Any, known: str | None) -> str | None:
    if isinstance(rule, str):
        return rule
    if isinstance(rule, list) and len(rule) == 1 and isinstance(rule[0], str):
        return rule[0]
    return known


def _has_ref(schema: Any) -> bool:
    if isinstance(schema, Mapping):
        return "$ref" in schema or any(_has_ref(part) for part in schema.values())
    return isinstance(schema, list) and any(_has_ref(part) for part in schema)


def _single_names(parts: Any) -> list[str] | None:
    """The names if every schema of `parts` is only `required` of one name, all different."""
    names = []
    for part in _list(parts):
        if not isinstance(part, Mapping) or any(
            k not in _ANNOTATIONS for k in part if k != "required"
        ):
            return None
        required = part.get("required")
        if not isinstance(required, list) or len(required) != 1 or type(required[0]) is not str:
            return None
        names.append(required[0])
    return names if names and len(set(names)) == len(names) else None


def _nests(key: str, rule: Any) -> bool:
    """Whether a keyword applies a schema to values inside `var` (a loop or a lookup)."""
    if key == "additionalProperties":
        return not isinstance(rule, bool)
    return key in ("properties", "items", "propertyNames")


def _list(rule: Any) -> list[Any]:
    if not isinstance(rule, list):
        raise Unsupported(f"not a list: {rule!r}")
    return rule


def _mapping(rule: Any) -> Mapping[str, Any]:
    if not isinstance(rule, Mapping) or not all(type(key) is str for key in rule):
        raise Unsupported(f"not a mapping of names: {rule!r}")
    return rule


def _names(rule: Any) -> list[str]:
    names = _list(rule)
    if not all(type(name) is str for name in names):
        raise Unsupported(f"not a list of names: {rule!r}")
    return names


def _count(rule: Any) -> int:
    if type(rule) is not int:
        raise Unsupported(f"not a count: {rule!r}")
    return rule


def _code(source: str, store: CodeStore | None) -> types.CodeType:
    """`source` compiled, from `store` when it holds it: compiling is two thirds of the
    translation, which a `validate FILE` of an edited document pays (the key is the source
    itself, so any other translation has another key)."""
    key = f"fastschema\0{source}"
    code = stored(store, key)
    if isinstance(code, types.CodeType):
        return code
    code = compile(source, "<fastschema>", "exec")
    if store is not None:
        store.put(key, marshal.dumps(code))
    return code


def compile_schema(schema: Mapping[str, Any], store: CodeStore | None = None) -> Check | None:
    """A predicate telling whether data is valid against `schema`, or None when the schema
    uses a keyword this module does not implement (then only jsonschema can tell). The code
    of the predicate is kept in `store`, if given."""
    try:
        return _Generator(schema).build(store)
    except (Unsupported, RecursionError, SyntaxError, KeyError, TypeError, ValueError, re.error):
        return None
