"""Load: files → documents with a source map (`documents`) → JSON Schema checks with line and
column (`schema`, `fastschema`) → model dataclasses (`build`); incidents (`incident`); which
files form a library (`discovery`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.load.build import build_playbook, build_policy, build_shared
    from playbook_engine.load.discovery import discover, find_library_root, library_root_of
    from playbook_engine.load.documents import SourceDoc, load_file, load_text
    from playbook_engine.load.incident import Incident, build_incident, parse_incident
    from playbook_engine.load.schema import load_schema, validate_document, validate_instance

__all__ = [
    "Incident",
    "SourceDoc",
    "build_incident",
    "build_playbook",
    "build_policy",
    "build_shared",
    "discover",
    "find_library_root",
    "library_root_of",
    "load_file",
    "load_schema",
    "load_text",
    "parse_incident",
    "validate_document",
    "validate_instance",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "SourceDoc": "documents",
        "load_file": "documents",
        "load_text": "documents",
        "validate_document": "schema",
        "validate_instance": "schema",
        "load_schema": "schema",
        "build_policy": "build",
        "build_playbook": "build",
        "build_shared": "build",
        "Incident": "incident",
        "parse_incident": "incident",
        "build_incident": "incident",
        "discover": "discovery",
        "find_library_root": "discovery",
        "library_root_of": "discovery",
    },
)
