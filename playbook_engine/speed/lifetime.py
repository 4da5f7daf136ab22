"""Large data a process that ends with `os._exit` (the `playbook` console script) keeps
rather than frees.

Freeing is work: the documents and source maps of a 1,000-file library are about a million
small objects, and deallocating them when loading returns is a measurable part of a
`playbook validate` (docs/benchmarks.md, "Shapes"), in a process that exits a moment later
without tearing anything down.
A caller in a long-lived process (the library API, tests) never turns this on, so its memory
is freed as usual. The memory kept stays in use until the process ends: a command loads one
library, or two for `playbook diff`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_kept: list[object] | None = None


def end_without_teardown() -> None:
    """Say that this process ends with `os._exit`: `keep` holds on from now on."""
    global _kept
    if _kept is None:
        _kept = []


def keep(value: object) -> None:
    """Hold `value` until the process ends, if it ends without teardown; else do nothing."""
    if _kept is not None:
        _kept.append(value)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with Python's cyclic garbage collector off, restoring it afterwards.

    Loading builds hundreds of thousands of long-lived objects (scalars, source maps, model
    dataclasses) and almost no cyclic garbage (about 350 objects for 1,000 playbooks), yet
    each of those allocations counts towards the collector's thresholds: its passes over the
    growing heap were a quarter of `playbook validate` on 1,000 files (docs/benchmarks.md).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
