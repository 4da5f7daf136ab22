"""`playbook serve`: the webhook intake, the scheduler and the web page, on uvicorn."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

import click

from playbook_engine.cli.commands.common import library_option, library_root
from playbook_engine.cli.commands.serve_common import (
    allow_host_option,
    attempts_option,
    deliver_option,
    delivery_policy,
    open_store,
    store_option,
    store_path,
    timeout_option,
)
from playbook_engine.cli.errors import fail_input
from playbook_engine.diagnostics import Span, error


@click.command("serve")
@library_option
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port (0: any free port).")
@deliver_option
@allow_host_option
@timeout_option
@attempts_option
@click.option("--interval", default=2.0, show_default=True, help="Seconds between timer passes.")
@click.option("--max-body", default=1 << 20, show_default=True, help="Largest request body.")
@click.option(
    "--body-timeout", default=10.0, show_default=True, help="Seconds a request body may take."
)
@click.option(
    "--busy-timeout",
    default=5.0,
    show_default=True,
    help="Seconds to wait for a locked store before answering 503.",
)
@click.option(
    "--start",
    "start_text",
    metavar="TIMESTAMP",
    help="Start the service clock at this moment (tests, demos; default: now).",
)
@click.option(
    "--time-scale", default=1.0, show_default=True, help="Service seconds per real second."
)
@click.option(
    "--flap-window",
    default="10m",
    show_default=True,
    help="An alert firing again this soon after its incident resolved reopens it.",
)
@click.option("--log-level", default="info", show_default=True)
def command(
    library_dir: Path | None,
    store: str | None,
    host: str,
    port: int,
    deliver: bool,
    allow_hosts: tuple[str, ...],
    delivery_timeout: float,
    attempts: int,
    interval: float,
    max_body: int,
    body_timeout: float,
    busy_timeout: float,
    start_text: str | None,
    time_scale: float,
    flap_window: str,
    log_level: str,
) -> None:
    """Serve webhook intake (POST /v1/alerts/FORMAT, /v1/incidents), the web page, /healthz
    and /metrics; fire timers and deliver notifications in the background.

    Credentials come from the environment (README, "playbook serve"): a source without a
    token or signature secret is refused.
    """
    import uvicorn

    from playbook_engine.cli.commands.common import parse_at
    from playbook_engine.serve import logs
    from playbook_engine.serve.app import ServeConfig, create_app
    from playbook_engine.serve.auth import ConfigError, Credentials
    from playbook_engine.serve.clock import Clock
    from playbook_engine.speed.cache import cached_library

    root = library_root(library_dir)
    compiled = cached_library(root)
    try:
        credentials = Credentials()
    except ConfigError as exc:
        fail_input([error("IN109", str(exc), Span("<environment>"))])
    from playbook_engine.timeparse import parse_duration

    try:
        flap = parse_duration(flap_window)
    except ValueError as exc:
        fail_input([error("IN103", f"--flap-window: {exc}", Span("--flap-window"))])
    ledger = open_store(store_path(store, root), busy_timeout, flap)
    start = parse_at(start_text) if start_text else None
    config = ServeConfig(
        compiled=compiled,
        store=ledger,
        credentials=credentials,
        clock=Clock(start, time_scale),
        policy=delivery_policy(allow_hosts, delivery_timeout, attempts),
        deliver=deliver,
        max_body=max_body,
        body_timeout=body_timeout,
        interval=interval,
    )
    logs.configure(log_level)
    # uvicorn finishes the requests in flight on SIGTERM, then raises the signal again with
    # the handler found at start: make that one a clean exit (0), as a stop asked for is.
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=20,
        limit_concurrency=512,
        server_header=False,
    )


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
