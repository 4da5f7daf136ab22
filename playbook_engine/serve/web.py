"""The web page: open incidents at a glance, one incident with its live plan and actions.

Server-rendered (templates in `serve/templates/`, rendered by `sandbox.pages` with autoescape),
no JavaScript needed, readable on a phone. Every page needs a login: the `web` source's token
(`PLAYBOOK_SERVE_TOKEN_WEB`, else `PLAYBOOK_SERVE_TOKEN`) given once at `/login` becomes a
signed, HttpOnly, SameSite=Strict session cookie (12 hours). Every action is a POST carrying a
CSRF token derived from the session (HMAC), checked in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from playbook_engine.sandbox.pages import render_page
from playbook_engine.serve.bodies import BodyError, read_body
from playbook_engine.serve.planning import follow, plan_of
from playbook_engine.serve.ports import IncidentRow, StoreUnavailable
from playbook_engine.timeparse import format_duration, format_timestamp

COOKIE = "playbook_session"
SESSION_SECONDS = 12 * 3600
MAX_FORM = 16 * 1024
STEP_STATES = ("done", "skipped")


def _key(token: str) -> bytes:
    return hashlib.sha256(b"playbook-web-session\0" + token.encode()).digest()


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _left(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return f"overdue {format_duration(timedelta(seconds=-seconds))}"
    return f"{format_duration(timedelta(seconds=seconds))} left"


def _summary(config: Any, row: IncidentRow, now: datetime) -> dict[str, Any]:
    plan = plan_of(config.compiled, row, now)
    done = sum(1 for step in plan.steps if step.id in row.steps or step.done_at is not None)
    upcoming = [e for e in plan.escalation.entries if e.status == "pending" and e.at > now]
    following = upcoming[0] if upcoming else None
    answered = bool(row.acknowledged_at or row.status != "open")
    name, by = (
        ("resolve", plan.deadlines.resolve_by)
        if answered
        else ("respond", plan.deadlines.respond_by)
    )
    sla = f"{name}: no target" if by is None else f"{name}: {_left(by - now)}"
    overdue = by is not None and by < now
    return {
        "row": row,
        "plan": plan,
        "age": format_duration(timedelta(seconds=int((now - row.opened_at).total_seconds()))),
        "sla": sla,
        "overdue": overdue,
        "next": (
            f"tier {following.tier} in {format_duration(following.at - now)} "
            f"({', '.join(t.name for t in following.targets)})"
            if following
            else "none"
        ),
        "progress": f"{done}/{len(plan.steps)}",
        "done": done,
        "total": len(plan.steps),
    }


def web_routes(config: Any) -> list[BaseRoute]:
    """The page's routes for the app of `config`."""
    credentials = config.credentials

    def token() -> str | None:
        found: str | None = credentials.of("web").token
        return found

    def session_of(request: Request) -> str | None:
        secret = token()
        cookie = request.cookies.get(COOKIE, "")
        expires, _, signature = cookie.partition(".")
        if secret is None or not expires.isdigit() or int(expires) < time.time():
            return None
        if not hmac.compare_digest(signature, _sign(_key(secret), f"session:{expires}")):
            return None
        return cookie

    def csrf_of(session: str) -> str:
        secret = token() or ""
        return _sign(_key(secret), f"csrf:{session}")

    def page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(render_page(name, **values), status_code=status)

    async def login_form(request: Request) -> Response:
        return page("login.html", error="")

    async def login(request: Request) -> Response:
        form = await _form(request)
        secret = token()
        given = str(form.get("token", ""))
        if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
            return page("login.html", status=401, error="Wrong token.")
        expires = str(int(time.time()) + SESSION_SECONDS)
        value = f"{expires}.{_sign(_key(secret), f'session:{expires}')}"
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            value,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def index(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        now = config.clock.now()
        try:
            rows = await run_in_threadpool(config.store.open_incidents)
        except StoreUnavailable:
            return HTMLResponse("store unavailable", status_code=503, headers={"Retry-After": "5"})
        items = [_summary(config, row, now) for row in rows]
        items.sort(key=lambda item: (item["plan"].priority.id, item["row"].opened_at))
        return page("index.html", items=items, now=format_timestamp(now))

    async def incident(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        ident = request.path_params["ident"]
        row = await run_in_threadpool(config.store.incident, ident)
        if row is None:
            return HTMLResponse("no such incident", status_code=404)
        now = config.clock.now()
        timeline = await run_in_threadpool(config.store.timeline, ident)
        return page(
            "incident.html",
            item=_summary(config, row, now),
            timeline=[
                dict(event, at=format_timestamp(event["at"])) for event in reversed(timeline)
            ],
            csrf=csrf_of(session),
            now=format_timestamp(now),
            fmt=format_timestamp,
        )

    async def action(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return HTMLResponse("login needed", status_code=401)
        form = await _form(request)
        given = str(form.get("csrf", ""))
        if not hmac.compare_digest(given.encode(), csrf_of(session).encode()):
            return HTMLResponse("bad or missing CSRF token", status_code=403)
        ident = request.path_params["ident"]
        verb = request.path_params["verb"]
        who = str(form.get("by", "")).strip()[:80] or "web"
        now = config.clock.now()
        store = config.store
        if await run_in_threadpool(store.incident, ident) is None:
            return HTMLResponse("no such incident", status_code=404)
        if verb == "ack":
            await run_in_threadpool(store.acknowledge, ident, who, now)
        elif verb == "resolve":
            await run_in_threadpool(store.resolve, ident, who, now, "resolved on the web page")
        elif verb == "note":
            text = str(form.get("note", "")).strip()[:2000]
            if text:
                await run_in_threadpool(store.append, ident, "note", who, now, text)
        elif verb == "step":
            state = str(form.get("state", ""))
            step = str(form.get("step", ""))[:200]
            if state not in STEP_STATES or not step:
                return HTMLResponse("state must be done or skipped", status_code=400)
            note = str(form.get("note", "")).strip()[:2000]
            await run_in_threadpool(store.mark_step, ident, step, state, note, who, now)
        else:
            return HTMLResponse("unknown action", status_code=404)
        await run_in_threadpool(store.refresh, ident, follow(config.compiled, now), now)
        return RedirectResponse(f"/incidents/{ident}", status_code=303)

    return [
        Route("/", index, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/incidents/{ident}", incident, methods=["GET"]),
        Route("/incidents/{ident}/{verb}", action, methods=["POST"]),
    ]


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (the page posts nothing else), bounded in size."""
    try:
        body = await read_body(request, MAX_FORM, 10.0)
    except BodyError:
        return {}
    try:
        pairs = parse_qsl(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)
