"""JSON Schema validation of documents and incidents, with diagnostics that point at lines.

The schemas under `schemas/` are the contract (the README's format reference); jsonschema
checks documents against them and this module turns each error into one human, one-line
`Diagnostic` placed with the source map of the loaded document. jsonschema reports
`anyOf`/`oneOf` failures as a tree of every branch's complaints; for the condition language we
pick the branch the user meant from the key that tells the forms apart (`all`, `any`, `not`,
`expr`, `field`) and report only that branch's problems.

Codes: PB201 schema violation (pattern, enum, range...), PB202 unknown key, PB203 missing
required key, PB204 wrong type, PB205 unsupported apiVersion, PB206 unknown kind, PB207
condition shape error.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playbook_engine.diagnostics import Diagnostic, Span, error
from playbook_engine.load import fastschema
from playbook_engine.load.documents import SourceDoc
from playbook_engine.model import OPERATORS
from playbook_engine.speed.stores import active_store

# jsonschema is slow to import (docs/benchmarks.md, "Shapes"): it is imported only when a
# document is not valid (the fast check of `fastschema` says so) and a message is needed.
if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

API_VERSION = "playbook-engine/v1"
KINDS = {
    "Policy": "policy",
    "Playbook": "playbook",
    "Shared": "shared",
    "PayloadMapping": "payloadmapping",
    "TestSuite": "testsuite",
}
SCHEMA_NAMES = (
    "policy",
    "playbook",
    "shared",
    "payloadmapping",
    "incident",
    "plan",
    "testsuite",
    "mapping",
)

SpanOf = Callable[[str], Span]

_FORMS = ("all", "any", "not", "expr")
_LEAF_KEYS = ("field", "name", "ignoreCase", *OPERATORS)
_CASE_OPERATORS = ("equals", "oneOf", "contains")
# What a value of each titled `$defs` entry looks like, for messages.
_EXPECTED_BY_TITLE = {
    "Identifier": "an id in lower-case kebab case like 'database-failure'",
    "Priority id": "a priority id like P1",
    "Duration": "a duration like 15m, 4h, 1h30m",
    "Timestamp": "a timestamp with an offset like 2026-03-14T02:17:00Z",
    "Field path": (
        "a field path like incident.service (under incident, elapsed, priority, impact, urgency)"
    ),
    "Comparable": "a number, a timestamp like 2026-03-14T02:17:00Z or a duration like 1h",
    "Time of day": 'a quoted time of day like "09:30"',
    "Date": 'a quoted date like "2026-12-25"',
    "Time zone": "an IANA time zone like Europe/London",
    "URL": "an http(s) or mailto URL",
    "Scalar": "a string, number, boolean or null",
}
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}
_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n", "true", "false"}


def schemas_dir() -> Path:
    """The directory holding the schemas: the wheel's copy, else the source checkout's."""
    installed = Path(__file__).resolve().parent.parent / "schemas"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent.parent / "schemas"


def available_schemas() -> list[str]:
    """The names of the schemas present (`plan` and `testsuite` may not exist yet)."""
    return [name for name in SCHEMA_NAMES if (schemas_dir() / f"{name}.schema.json").is_file()]


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema `name` (policy, playbook, incident, plan, testsuite); do not mutate."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    schema: dict[str, Any] = json.loads(
        (schemas_dir() / f"{name}.schema.json").read_text(encoding="utf-8")
    )
    return schema


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    # No format checker: everything we rely on is a `pattern`, so that editors and
    # check-jsonschema (which assert formats differently) agree with us.
    return Draft202012Validator(load_schema(name))


def validate_document(doc: SourceDoc) -> list[Diagnostic]:
    """Diagnostics for a loaded document: its `apiVersion` and `kind`, then its kind's schema."""
    data = doc.data
    if not isinstance(data, dict):
        return [
            error(
                "PB204",
                f"expected a mapping with apiVersion, kind, metadata and spec, got {_got(data)}",
                doc.span(""),
            )
        ]
    name, diagnostics = _check_header(data, doc)
    if name is None:
        return diagnostics
    return _validate(data, name, doc.span, doc.key_span)


def validate_instance(data: Any, schema_name: str, span_of: SpanOf) -> list[Diagnostic]:
    """Diagnostics for `data` against schema `schema_name`, placed with `span_of(pointer)`."""
    return _validate(data, schema_name, span_of, span_of)


def _looks_like_an_incident(data: dict[str, Any]) -> bool:
    return "startedAt" in data and ("title" in data or "id" in data)


def _check_header(data: dict[str, Any], doc: SourceDoc) -> tuple[str | None, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    kinds = ", ".join(KINDS)
    if "apiVersion" not in data and "kind" not in data and _looks_like_an_incident(data):
        # An incident saved beside the playbooks is read as a library document.
        hint = "this looks like an incident: keep incidents in an incidents/ folder of the "
        hint += "library (not read as documents), or outside the library"
        return None, [
            error("PB203", "missing required keys 'apiVersion' and 'kind'", doc.span(""), hint)
        ]
    if "apiVersion" not in data:
        diagnostics.append(
            error(
                "PB203",
                "missing required key 'apiVersion'",
                doc.span(""),
                f"add `apiVersion: {API_VERSION}`",
                "/apiVersion",
            )
        )
    elif data["apiVersion"] != API_VERSION:
        version = data["apiVersion"]
        diagnostics.append(
            error(
                "PB205",
                f"unsupported apiVersion {_show(version)}",
                doc.span("/apiVersion"),
                _version_hint(version),
                "/apiVersion",
            )
        )
    kind = data.get("kind")
    if "kind" not in data:
        diagnostics.append(
            error(
                "PB203",
                "missing required key 'kind'",
                doc.span(""),
                f"add `kind:` with one of {kinds}",
                "/kind",
            )
        )
    elif not isinstance(kind, str) or kind not in KINDS:
        suggestion = _suggest(str(kind), list(KINDS), ignore_case=True)
        hint = f"did you mean '{suggestion}'? " if suggestion else ""
        diagnostics.append(
            error(
                "PB206",
                f"unknown kind {_show(kind)}",
                doc.span("/kind"),
                f"{hint}kinds: {kinds}",
                "/kind",
            )
        )
    if diagnostics or not isinstance(kind, str):
        return None, diagnostics
    return KINDS[kind], []


def _version_hint(version: Any) -> str:
    found = re.fullmatch(r"playbook-engine/v(\d+)", version) if isinstance(version, str) else None
    if found and int(found.group(1)) < 1:
        return (
            f"this engine supports {API_VERSION}: "
            "upgrade the document (see the README, Format reference)"
        )
    if found:
        return f"this engine supports {API_VERSION} only: upgrade playbook-engine to read it"
    return f"this engine supports v1: write `apiVersion: {API_VERSION}`"


@functools.cache
def _fast_check(name: str) -> fastschema.Check | None:
    return fastschema.compile_schema(load_schema(name), active_store())


def _validate(data: Any, name: str, value_span: SpanOf, key_span: SpanOf) -> list[Diagnostic]:
    check = _fast_check(name)
    if check is not None and check(data):
        return []  # valid: jsonschema would find nothing to say
    errors = _validator(name).iter_errors(data)
    return _Reporter(value_span, key_span).report(errors)


class _Reporter:
    """Turns jsonschema errors into diagnostics: one per real problem."""

    def __init__(self, value_span: SpanOf, key_span: SpanOf) -> None:
        self.value_span = value_span
        self.key_span = key_span

    def report(self, errors: Iterable[ValidationError]) -> list[Diagnostic]:
        found = self.convert(list(errors))
        # A wrong type makes every other complaint about the same value noise.
        typed = {d.pointer for d in found if d.code == "PB204"}
        kept = [d for d in found if d.code == "PB204" or d.pointer not in typed]
        unique = {(d.code, d.pointer, d.message): d for d in kept}
        return sorted(unique.values(), key=Diagnostic.sort_key)

    def convert(self, errors: list[ValidationError]) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        objects: dict[str, tuple[dict[str, Any], list[str], list[str]]] = {}
        for e in errors:
            instance = _instance(e)
            if e.validator in ("required", "additionalProperties") and isinstance(instance, dict):
                pointer = _pointer(e)
                _, missing, known = objects.setdefault(pointer, (instance, [], []))
                if e.validator == "required":
                    missing.extend(k for k in _rule(e) if k not in instance)
                else:
                    known.extend(_schema(e).get("properties", {}))
                continue
            out.extend(self.one(e))
        for pointer, (instance, missing, known) in objects.items():
            out.extend(self.keys(pointer, instance, missing, known))
        return out

    def keys(
        self, pointer: str, instance: dict[str, Any], missing: list[str], known: list[str]
    ) -> list[Diagnostic]:
        """Unknown and missing keys of one mapping; a typo of a required key is one problem."""
        out: list[Diagnostic] = []
        where = _where(pointer)
        explained: set[str] = set()
        for key in (k for k in instance if known and k not in known):
            suggestion = _suggest(key, missing or known)
            if suggestion is None and missing:
                suggestion = _suggest(key, known)
            hint = f"did you mean '{suggestion}'?" if suggestion else f"allowed: {', '.join(known)}"
            if suggestion:
                explained.add(suggestion)
            out.append(
                error(
                    "PB202",
                    f"unknown key '{key}' {where}",
                    self.key_span(_join(pointer, key)),
                    hint,
                    _join(pointer, key),
                )
            )
        for key in dict.fromkeys(missing):
            if key not in explained:
                out.append(
                    error(
                        "PB203",
                        f"missing required key '{key}' {where}",
                        self.key_span(pointer),
                        pointer=_join(pointer, key),
                    )
                )
        return out

    def one(self, e: ValidationError) -> list[Diagnostic]:
        pointer = _pointer(e)
        if e.validator == "anyOf" and _schema(e).get("title") == "Condition":
            return self.condition(e, pointer)
        if e.validator in ("anyOf", "oneOf"):
            return self.alternatives(e, pointer)
        if _on_property_name(e):
            return [self.property_name(e, pointer)]
        if e.validator == "type":
            return [self.wrong_type(e, pointer)]
        if e.validator == "uniqueItems":
            return [self.duplicate(e, pointer)]
        message, hint = _violation(e)
        return [error("PB201", message, self.value_span(pointer), hint, pointer)]

    def wrong_type(self, e: ValidationError, pointer: str) -> Diagnostic:
        schema, instance = _schema(e), _instance(e)
        return error(
            "PB204",
            f"expected {_expected(schema)}, got {_got(instance)}",
            self.value_span(pointer),
            _type_hint(schema, instance),
            pointer,
        )

    def duplicate(self, e: ValidationError, pointer: str) -> Diagnostic:
        items: list[Any] = _instance(e)
        index = next(i for i, item in enumerate(items) if item in items[:i])
        item_pointer = _join(pointer, str(index))
        return error(
            "PB201",
            f"duplicate item {_show(items[index])} in {_display(pointer)}",
            self.value_span(item_pointer),
            "each item may appear once",
            item_pointer,
        )

    def property_name(self, e: ValidationError, pointer: str) -> Diagnostic:
        key = str(_instance(e))
        return error(
            "PB201",
            f"invalid key '{key}' in {_display(pointer)}: expected {_expected(_schema(e))}",
            self.key_span(_join(pointer, key)),
            pointer=_join(pointer, key),
        )

    def alternatives(self, e: ValidationError, pointer: str) -> list[Diagnostic]:
        branches: list[Any] = _rule(e)
        path = list(e.relative_schema_path)
        if path[-3:-1] == ["dependentSchemas", "ignoreCase"]:
            return [
                error(
                    "PB207",
                    "ignoreCase applies only to equals, oneOf or contains",
                    self.key_span(_join(pointer, "ignoreCase")),
                    "remove ignoreCase, or use (?i) in a matches pattern",
                    _join(pointer, "ignoreCase"),
                )
            ]
        if all(set(b) == {"required"} for b in branches):
            names = " or ".join(f"'{key}'" for b in branches for key in b["required"])
            return [
                error(
                    "PB203",
                    f"missing required key {names} {_where(pointer)}",
                    self.key_span(pointer),
                    pointer=pointer,
                )
            ]
        from jsonschema.exceptions import best_match

        # A branch whose type does not fit the value says nothing about what the user meant:
        # rank only the complaints of the branches the value's type fits, if there are any.
        fitting = [c for c in e.context if not (c.validator == "type" and not c.relative_path)]
        best = best_match(fitting or e.context)
        return self.one(best) if best is not None else []

    def condition(self, e: ValidationError, pointer: str) -> list[Diagnostic]:
        """A failed condition: report the problems of the form the user meant, or its shape."""
        instance = _instance(e)
        if not isinstance(instance, dict):
            return []  # the sibling `type` error says it
        forms = [key for key in _FORMS if key in instance]
        operators = [key for key in OPERATORS if key in instance]
        if "field" in instance or operators:
            forms.append("field")
        span = self.value_span(pointer)
        if len(forms) > 1:
            found = " and ".join(f"'{f}'" for f in forms)
            return [
                error(
                    "PB207",
                    f"a condition has exactly one of all, any, not, expr or field; found {found}",
                    span,
                    "nest them: {all: [{...}, {...}]}",
                    pointer,
                )
            ]
        if not forms:
            return self.formless(instance, pointer)
        form = forms[0]
        ref = f"#/$defs/{'leaf' if form == 'field' else form}Condition"
        branch = [b.get("$ref") for b in _rule(e)].index(ref)
        chosen = [c for c in e.context if c.relative_schema_path[0] == branch]
        if form == "field":
            return self.leaf(instance, pointer, chosen)
        return self.convert(chosen)

    def formless(self, instance: dict[str, Any], pointer: str) -> list[Diagnostic]:
        shapes = "all: [...], any: [...], not: {...}, expr: '...' or field: PATH with an operator"
        if not instance:
            return [
                error(
                    "PB207",
                    "empty condition",
                    self.value_span(pointer),
                    f"write one of {shapes}",
                    pointer,
                )
            ]
        out = []
        for key in instance:
            suggestion = _suggest(key, [*_FORMS, *_LEAF_KEYS])
            hint = f"did you mean '{suggestion}'?" if suggestion else f"write one of {shapes}"
            out.append(
                error(
                    "PB207",
                    f"unknown condition key '{key}'",
                    self.key_span(_join(pointer, key)),
                    hint,
                    _join(pointer, key),
                )
            )
        return out

    def leaf(
        self, instance: dict[str, Any], pointer: str, errors: list[ValidationError]
    ) -> list[Diagnostic]:
        """A leaf's problems: operators (none, several, misspelt) first, then its values."""
        operators = [key for key in OPERATORS if key in instance]
        unknown = [key for key in instance if key not in _LEAF_KEYS]
        listing = ", ".join(OPERATORS)
        out: list[Diagnostic] = []
        typo_of_field = False
        for key in unknown:
            suggestion = _suggest(key, list(_LEAF_KEYS))
            key_pointer = _join(pointer, key)
            if not operators and suggestion not in ("field", "name", "ignoreCase"):
                meant = f" — did you mean '{suggestion}'?" if suggestion else ""
                out.append(
                    error(
                        "PB207",
                        f"unknown operator '{key}'{meant}",
                        self.key_span(key_pointer),
                        f"operators: {listing}",
                        key_pointer,
                    )
                )
                continue
            typo_of_field = typo_of_field or suggestion == "field"
            hint = f"did you mean '{suggestion}'?" if suggestion else f"operators: {listing}"
            out.append(
                error(
                    "PB202",
                    f"unknown key '{key}' in condition {_display(pointer)}",
                    self.key_span(key_pointer),
                    hint,
                    key_pointer,
                )
            )
        if len(operators) > 1:
            found = " and ".join(f"'{op}'" for op in operators)
            out.append(
                error(
                    "PB207",
                    f"a condition has exactly one operator, found {found}",
                    self.key_span(_join(pointer, operators[1])),
                    "combine several leaves with all: [...] or any: [...]",
                    _join(pointer, operators[1]),
                )
            )
        elif not operators and not unknown:
            out.append(
                error(
                    "PB207",
                    f"condition on {_show(instance.get('field'))} has no operator",
                    self.value_span(pointer),
                    f"add one of {listing}",
                    pointer,
                )
            )
        if "field" not in instance and not typo_of_field:
            out.append(
                error(
                    "PB203",
                    f"missing required key 'field' in condition {_display(pointer)}",
                    self.value_span(pointer),
                    "a leaf is {field: PATH, OPERATOR: VALUE}",
                    _join(pointer, "field"),
                )
            )
        rest = [
            e
            for e in errors
            if e.validator not in ("oneOf", "required", "additionalProperties")
            or _pointer(e) != pointer
        ]
        return out + self.convert(rest)


def _violation(e: ValidationError) -> tuple[str, str]:
    """Message and hint for a value of the right type that breaks a rule (PB201)."""
    value, rule, schema = _instance(e), _rule(e), _schema(e)
    if e.validator == "pattern":
        return f"expected {_expected(schema)}, got {_got(value)}", _pattern_hint(schema, value)
    if e.validator == "enum":
        options = [str(option) for option in rule]
        suggestion = _suggest(str(value), options, ignore_case=True)
        hint = f"did you mean '{suggestion}'?" if suggestion else ""
        return f"expected one of {', '.join(options)}, got {_got(value)}", hint
    if e.validator == "const":
        return f"expected {_show(rule)}, got {_got(value)}", ""
    if e.validator == "minimum":
        return f"expected a number of at least {rule}, got {_show(value)}", ""
    if e.validator == "maximum":
        return f"expected a number of at most {rule}, got {_show(value)}", ""
    if e.validator == "minItems":
        items = "item" if rule == 1 else "items"
        return f"expected at least {rule} {items}, got {len(value)}", ""
    if e.validator == "maxItems":
        items = "item" if rule == 1 else "items"
        return f"expected at most {rule} {items}, got {len(value)}", ""
    if e.validator == "minLength":
        return "expected a non-empty string", ""
    if e.validator == "minProperties":
        return "expected at least one key, got an empty mapping", ""
    return e.message.splitlines()[0], ""


def _expected(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "a valid value"
    title = schema.get("title", "")
    if title in _EXPECTED_BY_TITLE:
        return _EXPECTED_BY_TITLE[title]
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if types == ["object"] and title:
        return f"a mapping ({title.lower()})"
    if "pattern" in schema:
        return f"a string matching {schema['pattern']}"
    return " or ".join(_TYPE_NAMES.get(t, t) for t in types) or "a valid value"


def _type_hint(schema: dict[str, Any], value: Any) -> str:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    title = schema.get("title", "")
    if "boolean" in types and isinstance(value, str):
        if value.lower() in _YAML11_BOOLEANS:
            return f"write true or false: '{value}' is read as a string here"
        return "write true or false"
    if isinstance(value, datetime.date):
        return f'quote it: "{value.isoformat()}"'
    if title == "Time of day" and isinstance(value, int) and not isinstance(value, bool):
        hours, minutes = divmod(value, 60)
        written = f"{hours}:{minutes:02d}"
        quoted = f'"{hours:02d}:{minutes:02d}"'
        return f"quote it: {quoted} (YAML reads an unquoted {written} as {value})"
    if title == "Duration" and isinstance(value, int) and not isinstance(value, bool):
        return f"add a unit, e.g. {value}m"
    if value is None:
        return "the value is empty: write one or remove the key"
    if "string" in types and isinstance(value, int | float) and not isinstance(value, bool):
        return f'quote it: "{value}"'
    if types == ["array"] and not isinstance(value, dict | list):
        return f"write a list, e.g. [{_show(value)}]"
    if types in (["integer"], ["number"]) and isinstance(value, str):
        if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            return f"write it without quotes: {value}"
    return ""


def _pattern_hint(schema: dict[str, Any], value: Any) -> str:
    title = schema.get("title", "")
    if title == "Identifier" and isinstance(value, str):
        kebab = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
        if re.fullmatch(schema["pattern"], kebab):
            return f"try '{kebab}'"
        return "use lower-case letters, digits and dashes, starting with a letter or digit"
    if title == "Time of day" and isinstance(value, str) and re.fullmatch(r"[0-9]:[0-9]{2}", value):
        return f'write two-digit hours: "0{value}"'
    if title == "Duration":
        return "units: w, d, h, m, s, without spaces; combine them largest first: 1h30m"
    if title == "Field path":
        return "paths start with incident, elapsed, priority, impact or urgency"
    if title == "Comparable" and isinstance(value, str):
        if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            return f"write the number without quotes: {value}"
    if title == "Timestamp" or title == "Comparable":
        return "include the offset: Z or +01:00" + (
            "; a duration (against an elapsed field) is written 1h, 90m or 1h30m"
            if title == "Comparable"
            else ""
        )
    return ""


def _suggest(word: str, options: list[str], *, ignore_case: bool = False) -> str | None:
    if ignore_case:
        lowered = {option.lower(): option for option in options}
        found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        return lowered[found[0]] if found else None
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return found[0] if found else None


def _on_property_name(e: ValidationError) -> bool:
    # propertyNames errors carry the key as instance and the mapping's path.
    path = list(e.relative_schema_path)
    if "propertyNames" not in path:
        return False
    after = path[len(path) - path[::-1].index("propertyNames") :]
    return all(step == "$ref" for step in after[:-1])


def _got(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {_show(value)}"
    if isinstance(value, datetime.datetime):
        return f"the unquoted timestamp {value.isoformat()}"
    if isinstance(value, datetime.date):
        return f"the unquoted date {value.isoformat()}"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:56] + '..."'
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


# jsonschema types these attributes as possibly unset; they are always set on yielded errors.
def _instance(e: ValidationError) -> Any:
    return e.instance


def _rule(e: ValidationError) -> Any:
    return e.validator_value


def _schema(e: ValidationError) -> dict[str, Any]:
    return dict(e.schema) if isinstance(e.schema, dict) else {}


def _pointer(e: ValidationError) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in e.absolute_path)


def _join(pointer: str, key: str) -> str:
    return f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"


def _display(pointer: str) -> str:
    """`/spec/steps/0` as `spec.steps[0]`."""
    out = ""
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        out += f"[{part}]" if part.isdigit() else f".{part}" if out else part
    return out or "the document"


def _where(pointer: str) -> str:
    return f"in {_display(pointer)}" if pointer else "at the top level"
