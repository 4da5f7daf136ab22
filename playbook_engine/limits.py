"""Every size, depth and count limit of playbook-engine, in one place.

Input is untrusted: a playbook comes from a pull request, an incident from an alerting system.
Each stage bounds the work its input can cause, using the numbers below. Tests and callers that
need other numbers build their own `Limits(...)`; library code defaults to `DEFAULT_LIMITS`.
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits. Lengths in `*_chars` count characters, `*_bytes` count bytes."""

    # --- loader (YAML / JSON documents) --------------------------------------------------
    max_file_bytes: int = 1 * MIB
    """Largest document file; a playbook library is hand-written, far below this."""
    max_depth: int = 64
    """Deepest nesting of mappings and sequences (the root collection is depth 1)."""
    max_nodes: int = 50_000
    """Most nodes (scalars, keys, collections) a document may hold after alias expansion."""
    max_aliases: int = 100
    """Most alias uses (`*name`) in one document."""
    max_scalar_chars: int = 100_000
    """Longest single scalar (string, key or number)."""

    # --- sandbox (Jinja2 templates and expressions) --------------------------------------
    template_source_chars: int = 10_000
    """Longest template source (step title/details, notification subject/body/to)."""
    expression_source_chars: int = 2_000
    """Longest `expr:` condition source."""
    rendered_output_chars: int = 100_000
    """Longest text one template may render to."""
    range_size: int = 1_000
    """Largest `range(...)` a template or expression may build."""

    # --- conditions -----------------------------------------------------------------------
    regex_subject_chars: int = 10_000
    """A `matches` operator searches only this many leading characters of its subject."""

    # --- incidents --------------------------------------------------------------------------
    incident_bytes: int = 1 * MIB
    """Largest incident file or payload."""
    incident_depth: int = 32
    """Deepest nesting inside an incident (alert payloads are shallow)."""
    input_bytes: int = 64 * MIB
    """Most `playbook run` reads from one file or standard input (a `--jsonl` batch holds many
    incidents; each is still at most `incident_bytes`)."""


DEFAULT_LIMITS = Limits()
"""The limits used everywhere unless a caller passes others."""
