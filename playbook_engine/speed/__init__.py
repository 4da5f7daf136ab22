"""Speed: everything that exists only to make commands fast, behind one interface each — the
library cache (`cache.cached_library`), the stores of checked templates and schema code
(`stores`, `cache.open_code_store`), loaded documents kept between runs (`doccache`), work a
forked loader does ahead (`prework`) and memory a short process keeps (`lifetime`).
Without any of it the results are the same, only slower."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playbook_engine._lazy import lazy_names

if TYPE_CHECKING:
    from playbook_engine.speed.cache import cached_library, open_code_store
    from playbook_engine.speed.doccache import load_checked

__all__ = [
    "cached_library",
    "load_checked",
    "open_code_store",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "cached_library": "cache",
        "open_code_store": "cache",
        "load_checked": "doccache",
    },
)
