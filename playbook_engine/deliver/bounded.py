"""Bounded HTTP answers for apprise's requests: a notification's response is read up to a
limit, so a receiver answering a gigabyte costs a megabyte.

apprise calls `requests` without streaming, which would read a whole answer into memory.
`install(limit)` wraps the adapter's `build_response` once per process so the body read stops
after `limit` bytes (the answer is cut; its status already told the outcome).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_LIMIT = [1 << 20]
_INSTALLED = [False]


class _Capped:
    """A urllib3 response whose `stream` stops after the limit."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._limit = limit

    def stream(self, amt: int = 65536, decode_content: bool = True) -> Iterator[bytes]:
        seen = 0
        for chunk in self._raw.stream(amt, decode_content=decode_content):
            room = self._limit - seen
            seen += len(chunk)
            if seen > self._limit:
                # The status line already said how it went; the rest of the answer is not read.
                yield chunk[:room]
                self._raw.close()
                return
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def install(limit: int) -> None:
    """Cap every requests answer read in this process at `limit` bytes."""
    import requests
    import requests.adapters

    _LIMIT[0] = limit
    if _INSTALLED[0]:
        return
    original = requests.adapters.HTTPAdapter.build_response

    def build_response(self: Any, req: Any, resp: Any) -> Any:
        response = original(self, req, resp)
        response.raw = _Capped(response.raw, _LIMIT[0])
        return response

    requests.adapters.HTTPAdapter.build_response = build_response  # type: ignore[method-assign]
    _INSTALLED[0] = True
