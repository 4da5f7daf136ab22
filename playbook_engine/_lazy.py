"""Lazy public names for a package's `__init__`: importing a package costs nothing until one of
its names is used, so `playbook run` pays only for the stages it reaches."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_names(
    package: str, names: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose public `names` live in the given
    modules (relative to the package)."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # later uses are plain attribute lookups
        return value

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
