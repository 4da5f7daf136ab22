"""A fast yes/no JSON Schema check for the common case: a document that is valid.

`jsonschema` is the authority and writes every message, but it costs about 85 ms to import and
about 4 ms per playbook to validate. Almost every document a library holds is valid, and for a
valid document nothing needs explaining, so `schema` first asks this module whether the
document is valid, and only when it is not (or when this module cannot tell) does it import
`jsonschema` to say why.

A schema is compiled once into nested Python closures that follow jsonschema's
Draft 2020-12 semantics keyword by keyword (booleans are not numbers, `1.0` is an integer,
`enum`/`const`/`uniqueItems` compare as jsonschema's `equal` does, `pattern` is `re.search`).
Only the keywords our schemas use are supported; a schema with any other validating keyword
compiles to None, which sends every document to jsonschema. The differential tests check that
this module never calls valid what jsonschema rejects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never reject anything (annotations), under Draft 2020-12 without a format
# checker, as `schema._validator` builds it.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
        "markdownDescription",
    }
)
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
}


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


def _unique(items: list[Any]) -> bool:
    return not any(equal(items[i], items[j]) for i in range(len(items)) for j in range(i))


def _all(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]
    if not checks:
        return lambda value: True
    first, *rest = checks
    if len(rest) == 1:
        second = rest[0]
        return lambda value: first(value) and second(value)

    def every(value: Any) -> bool:  # a loop: no generator per call, as `all(...)` would make
        for check in checks:
            if not check(value):
                return False
        return True

    return every


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, list[Check]] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, Mapping):
            raise Unsupported(f"schema {schema!r}")
        checks: list[Check] = []
        object_checks: list[Check] = []
        for key, rule in schema.items():
            if key in _ANNOTATIONS or key in ("then", "else"):
                continue
            made = self.keyword(key, rule, schema)
            if key in _OBJECT_KEYWORDS:
                object_checks.append(made)
            else:
                checks.append(made)
        if object_checks:
            on_object = _all(object_checks)
            checks.append(lambda value: not isinstance(value, dict) or on_object(value))
        return _all(checks)

    def keyword(self, key: str, rule: Any, schema: Mapping[str, Any]) -> Check:
        if key == "type":
            names = [rule] if isinstance(rule, str) else list(rule)
            tests = [_TYPES[name] for name in names]
            return tests[0] if len(tests) == 1 else lambda v: any(t(v) for t in tests)
        if key == "$ref":
            return self.ref(rule)
        if key in ("enum", "const"):
            options = list(rule) if key == "enum" else [rule]
            if all(isinstance(o, str) for o in options):
                strings = frozenset(options)
                return lambda v: isinstance(v, str) and v in strings
            return lambda v: any(equal(o, v) for o in options)
        if key == "pattern":
            search = re.compile(rule).search
            return lambda v: not isinstance(v, str) or search(v) is not None
        if key in _BOUNDS:
            kind, compare = _BOUNDS[key]
            return lambda v: not kind(v) or compare(v, rule)
        if key == "uniqueItems":
            if not rule:
                return lambda v: True
            return lambda v: not isinstance(v, list) or _unique(v)
        if key == "items":
            if "prefixItems" in schema:
                raise Unsupported("prefixItems")
            item = self.compile(rule)

            def items(v: Any) -> bool:
                if isinstance(v, list):
                    for x in v:
                        if not item(x):
                            return False
                return True

            return items
        if key in ("anyOf", "oneOf", "allOf"):
            parts = [self.compile(s) for s in rule]
            if key == "anyOf":
                return lambda v: any(p(v) for p in parts)
            if key == "allOf":
                return _all(parts)
            return lambda v: sum(1 for p in parts if p(v)) == 1
        if key == "not":
            inner = self.compile(rule)
            return lambda v: not inner(v)
        if key == "if":
            condition = self.compile(rule)
            then = self.compile(schema.get("then", True))
            otherwise = self.compile(schema.get("else", True))
            return lambda v: then(v) if condition(v) else otherwise(v)
        if key in _OBJECT_KEYWORDS:
            return self.object_keyword(key, rule, schema)
        raise Unsupported(key)

    def object_keyword(self, key: str, rule: Any, schema: Mapping[str, Any]) -> Check:
        """A keyword that only applies to mappings (the caller checks the type)."""
        if key == "required":
            names = frozenset(rule)
            return lambda v: v.keys() >= names
        if key == "properties":
            props = {name: self.compile(s) for name, s in rule.items()}

            def properties(v: Any) -> bool:
                for k, x in v.items():
                    check = props.get(k)
                    if check is not None and not check(x):
                        return False
                return True

            return properties
        if key == "additionalProperties":
            if "patternProperties" in schema:
                raise Unsupported("patternProperties")
            known = frozenset(schema.get("properties", {}))
            if rule is False:
                return lambda v: known.issuperset(v)
            extra = self.compile(rule)
            return lambda v: all(extra(x) for k, x in v.items() if k not in known)
        if key == "propertyNames":
            name_check = self.compile(rule)
            return lambda v: all(name_check(k) for k in v)
        if key == "dependentSchemas":
            deps = {name: self.compile(s) for name, s in rule.items()}
            return lambda v: all(check(v) for name, check in deps.items() if name in v)
        # minProperties, maxProperties
        limit = int(rule)
        if key == "minProperties":
            return lambda v: len(v) >= limit
        return lambda v: len(v) <= limit

    def ref(self, ref: Any) -> Check:
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            raise Unsupported(f"$ref {ref!r}")
        cell = self.refs.get(ref)
        if cell is None:
            # A cell first, so that recursive references (conditions) find it while compiling.
            cell = self.refs[ref] = []
            cell.append(self.compile(self._resolve(ref)))
        return lambda v: cell[0](v)

    def _resolve(self, ref: str) -> Any:
        target: Any = self.root
        for token in ref[2:].split("/") if ref != "#" else []:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and token in target:
                target = target[token]
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            else:
                raise Unsupported(f"$ref {ref!r} does not resolve")
        return target


_OBJECT_KEYWORDS = frozenset(
    {
        "required",
        "properties",
        "additionalProperties",
        "propertyNames",
        "dependentSchemas",
        "minProperties",
        "maxProperties",
    }
)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_BOUNDS: dict[str, tuple[Check, Callable[[Any, Any], bool]]] = {
    "minimum": (_is_number, lambda v, r: bool(v >= r)),
    "maximum": (_is_number, lambda v, r: bool(v <= r)),
    "exclusiveMinimum": (_is_number, lambda v, r: bool(v > r)),
    "exclusiveMaximum": (_is_number, lambda v, r: bool(v < r)),
    "minLength": (lambda v: isinstance(v, str), lambda v, r: len(v) >= r),
    "maxLength": (lambda v: isinstance(v, str), lambda v, r: len(v) <= r),
    "minItems": (lambda v: isinstance(v, list), lambda v, r: len(v) >= r),
    "maxItems": (lambda v: isinstance(v, list), lambda v, r: len(v) <= r),
}


def compile_schema(schema: Mapping[str, Any]) -> Check | None:
    """A predicate telling whether data is valid against `schema`, or None when the schema
    uses a keyword this module does not implement (then only jsonschema can tell)."""
    try:
        return _Compiler(schema).compile(schema)
    except (Unsupported, KeyError, TypeError, ValueError, re.error):
        return None
