"""The one Jinja2 environment for the web page's own templates (`playbook serve`).

The page's templates are the project's (`playbook_engine/serve/templates/`), not a library
author's, so they need no render budget; the values they print are incident data from
webhooks, so the environment autoescapes every value (HTML), is sandboxed and immutable, and
makes an undefined name an error. It lives here because this package is the only place that
builds Jinja2 environments (docs/architecture.md, "One sandbox").
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = Path(__file__).resolve().parent.parent / "serve" / "templates"


@lru_cache(maxsize=1)
def page_environment() -> ImmutableSandboxedEnvironment:
    """The environment of the page's templates: autoescape on, strict, sandboxed."""
    return ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def render_page(name: str, **values: object) -> str:
    """Render the page template `name` with `values`."""
    return page_environment().get_template(name).render(**values)
