"""The ASGI app of `playbook serve` (Starlette): intake, health, metrics, the web page.

Starlette because it is small and explicit (routes are plain async functions), well kept, and
runs on uvicorn; nothing here needs a bigger framework. Store work runs in a thread pool; every
intake answer is sent after the store committed.

Answers: 202 stored (`{"opened": [...], ...}`), 200 a repeat of a stored payload, 400 a
malformed payload (the message names the field), 401 unauthenticated, 404 unknown format, 408
a body too slow to arrive, 413 too large, 503 + `Retry-After` when the store cannot commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from playbook_engine.compile.compiler import CompiledLibrary
from playbook_engine.deliver.destinations import Policy
from playbook_engine.serve import sns
from playbook_engine.serve.auth import Credentials
from playbook_engine.serve.bodies import BodyError, read_body
from playbook_engine.serve.clock import Clock
from playbook_engine.serve.intake import (
    PayloadError,
    alerts_of,
    canonical_alerts,
    receipt_key,
)
from playbook_engine.serve.ledger import Ledger
from playbook_engine.serve.logs import log
from playbook_engine.serve.metrics import Metrics
from playbook_engine.serve.planning import follow
from playbook_engine.serve.ports import StoreUnavailable

RETRY_AFTER = "5"


@dataclass
class ServeConfig:
    """Everything the app needs."""

    compiled: CompiledLibrary
    store: Ledger
    credentials: Credentials
    clock: Clock = field(default_factory=Clock)
    policy: Policy = field(default_factory=Policy)
    deliver: bool = False
    max_body: int = 1 << 20
    body_timeout: float = 10.0
    interval: float = 2.0  # seconds between scheduler passes; 0 = timers only by `tick`
    inline_planning: bool = False  # plan in the intake transaction (else right after it)
    metrics: Metrics = field(default_factory=Metrics)


def _problem(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


def create_app(config: ServeConfig) -> Starlette:
    """The Starlette app for `config`."""
    metrics = config.metrics
    mappings = config.compiled.mappings
    grouped = config.compiled.policy.alert_grouping == "group"

    async def intake(request: Request, source: str, convert: Any) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response = await _intake(request, source, convert)
            status = response.status_code
            return response
        finally:
            metrics.requests.labels(source, str(status)).inc()
            metrics.latency.observe(time.perf_counter() - started)

    async def _intake(request: Request, source: str, convert: Any) -> Response:
        try:
            body = await read_body(request, config.max_body, config.body_timeout)
        except BodyError as exc:
            log(
                "intake refused",
                logging.WARNING,
                source=source,
                status=exc.status,
                reason=exc.message,
            )
            return _problem(exc.status, exc.message)
        refusal = config.credentials.check(source, request.headers, body)
        if refusal is not None:
            log("intake unauthenticated", logging.WARNING, source=source, reason=refusal)
            return _problem(401, "unauthenticated", **{"WWW-Authenticate": "Bearer"})
        if source == "cloudwatch-sns":
            kind = sns.message_type(body, request.headers.get("x-amz-sns-message-type"))
            if kind == "SubscriptionConfirmation":
                try:
                    topic = await run_in_threadpool(sns.confirm, body)
                except ValueError as exc:
                    log("sns confirmation refused", logging.WARNING, reason=str(exc))
                    return _problem(400, str(exc))
                log("sns subscription confirmed", topic=topic)
                return JSONResponse({"confirmed": topic})
            if kind == "UnsubscribeConfirmation":
                return JSONResponse({"ignored": kind})
        at = config.clock.now()
        try:
            alerts = convert(body, at)
        except PayloadError as exc:
            log("intake malformed", logging.WARNING, source=source, reason=str(exc))
            return _problem(400, str(exc))
        receipt = receipt_key(source, body)
        try:
            planner = follow(config.compiled, at) if config.inline_planning else None
            result = await run_in_threadpool(config.store.ingest, receipt, alerts, at, planner)
        except StoreUnavailable as exc:
            log("store unavailable", logging.ERROR, source=source, reason=str(exc))
            return _problem(503, "store unavailable; retry", **{"Retry-After": RETRY_AFTER})
        if result.duplicate:
            return JSONResponse({"duplicate": True})
        kick.set()
        metrics.alerts.labels(source).inc(len(alerts))
        answer = {
            "opened": list(result.opened),
            "updated": list(result.updated),
            "reopened": list(result.reopened),
            "resolved": list(result.resolved),
        }
        log("intake stored", source=source, alerts=len(alerts), **answer)
        return JSONResponse(answer, status_code=202)

    async def alerts_route(request: Request) -> Response:
        fmt = request.path_params["format"]
        from playbook_engine.adapters import FORMATS

        if fmt not in FORMATS and fmt not in mappings:
            known = ", ".join([*FORMATS, *sorted(mappings)])
            return _problem(404, f"unknown format {fmt!r}; one of: {known}")
        return await intake(
            request, fmt, lambda body, at: alerts_of(fmt, body, mappings, at, grouped)
        )

    async def incidents_route(request: Request) -> Response:
        return await intake(request, "incidents", lambda body, at: canonical_alerts(body))

    async def healthz(request: Request) -> Response:
        up = await run_in_threadpool(config.store.healthy)
        metrics.store_up.set(1 if up else 0)
        if not up:
            return _problem(503, "store unavailable", **{"Retry-After": RETRY_AFTER})
        return JSONResponse({"status": "ok"})

    async def metrics_route(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        with contextlib.suppress(StoreUnavailable):
            count = await run_in_threadpool(config.store.count, "incidents", "status = 'open'")
            metrics.open_incidents.set(count)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    kick = asyncio.Event()

    async def scheduler_loop() -> None:
        """Plan what intake stored (woken by it) and, every `interval`, fire due timers and
        deliver the outbox."""
        from playbook_engine.serve.scheduler import tick

        last_tick = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(kick.wait(), config.interval or None)
            kick.clear()
            at = config.clock.now()
            try:
                await run_in_threadpool(config.store.plan_pending, follow(config.compiled, at), at)
                if not config.interval or time.monotonic() - last_tick < config.interval:
                    continue
                last_tick = time.monotonic()
                result = await run_in_threadpool(
                    tick, config.store, config.compiled, at, config.policy, config.deliver
                )
                if result.fired or result.cancelled or result.delivered:
                    log("tick", **result.as_dict())
                metrics.timers.labels("fired").inc(result.fired)
                metrics.timers.labels("cancelled").inc(result.cancelled)
            except StoreUnavailable as exc:
                log("tick: store unavailable", logging.ERROR, reason=str(exc))
            except Exception:  # the loop must outlive one bad pass; it is logged
                logging.getLogger("playbook.serve").exception("tick failed")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(scheduler_loop())
        log("serving", deliver=config.deliver)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            log("stopped")

    routes: list[BaseRoute] = [
        Route("/v1/alerts/{format}", alerts_route, methods=["POST"]),
        Route("/v1/incidents", incidents_route, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
    ]
    from playbook_engine.serve.web import web_routes

    routes.extend(web_routes(config))

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("not found", status_code=404)

    async def unavailable(request: Request, exc: Exception) -> Response:
        log("store unavailable", logging.ERROR, path=request.url.path, reason=str(exc))
        return _problem(503, "store unavailable; retry", **{"Retry-After": RETRY_AFTER})

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, StoreUnavailable: unavailable},
    )
