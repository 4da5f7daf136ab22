"""Request bodies read with a size limit and a deadline, for intake and the page's forms."""

from __future__ import annotations

import asyncio

from starlette.requests import Request


class BodyError(Exception):
    """A request body that cannot be read: too large or too slow."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The request body, at most `limit` bytes, arriving within `timeout` seconds."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BodyError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise BodyError(413, f"body larger than {limit} bytes")

    async def collect() -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyError(413, f"body larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(collect(), timeout)
    except TimeoutError:
        raise BodyError(408, f"body not received within {timeout:g} s") from None
