"""The web page (filled in below)."""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute


def web_routes(config: Any) -> list[BaseRoute]:
    """The page's routes."""
    return []
