"""Where a notification may go: checked by scheme and host before any request.

A channel's destination is an apprise URL read from the environment variable named by the
channel (`PLAYBOOK_CHANNEL_<ID>`, the id upper-cased with `-` as `_`; `PLAYBOOK_CHANNEL_<ID>_FILE`
for a file holding it), never from the library. Only schemes that become HTTP(S) requests or
e-mail are accepted; for those whose host the URL names (webhooks, e-mail, ntfy, ...) every
address the host resolves to must be public: loopback, private, link-local, multicast and
reserved ranges are refused unless the delivery policy allows the host — so templated data
can never turn delivery into a request forger. Redirects are not followed (apprise's asset).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Schemes whose URL host is the host the request goes to.
HOSTED = {
    "json": "http",
    "jsons": "https",
    "form": "http",
    "forms": "https",
    "xml": "http",
    "xmls": "https",
    "mailto": "smtp",
    "mailtos": "smtps",
    "ntfy": "http",
    "ntfys": "https",
    "apprise": "http",
    "apprises": "https",
    "gotify": "http",
    "gotifys": "https",
    "mmost": "http",
    "mmosts": "https",
    "rocket": "http",
    "rockets": "https",
}
# Schemes of hosted services: the request goes to the vendor's public https API.
SERVICES = frozenset(
    "slack discord msteams pagerduty opsgenie pushover telegram tgram matrix matrixs "
    "googlechat gchat zulip webex splunk victorops signl4 pagertree".split()
)


@dataclass(frozen=True, slots=True)
class Policy:
    """What delivery may do: allowed private hosts, limits, retries."""

    allow_hosts: frozenset[str] = frozenset()  # hosts/IPs allowed even if private or loopback
    allow_private: bool = False
    timeout: float = 10.0  # per request (connect and each read)
    max_answer: int = 1 << 20  # bytes of a response read at most
    max_attempts: int = 5
    backoff: float = 30.0  # seconds before the 2nd attempt; doubles each time
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


class DestinationError(ValueError):
    """A destination that is missing or refused; the message names the channel, not secrets."""


def env_name(channel: str) -> str:
    """The environment variable holding a channel's destination."""
    return "PLAYBOOK_CHANNEL_" + "".join(ch if ch.isalnum() else "_" for ch in channel.upper())


def destination(channel: str, policy: Policy) -> str:
    """The channel's apprise URL, checked; DestinationError when missing or refused."""
    name = env_name(channel)
    url = policy.env.get(name)
    if not url and policy.env.get(f"{name}_FILE"):
        try:
            url = Path(policy.env[f"{name}_FILE"]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise DestinationError(f"${name}_FILE: cannot read: {exc.strerror}") from None
    if not url:
        raise DestinationError(f"channel {channel!r}: no destination: set ${name}")
    problem = check(url, policy)
    if problem:
        raise DestinationError(f"channel {channel!r} (${name}): {problem}")
    return url


def check(url: str, policy: Policy) -> str | None:
    """None when `url` may be used, else why not (never quoting the URL's secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "not a valid URL"
    scheme = parts.scheme.lower()
    if scheme in SERVICES:
        return None
    if scheme not in HOSTED:
        return f"scheme {scheme!r} is not allowed (webhooks over http/https, e-mail, chat only)"
    if not host:
        return "the URL names no host"
    if host in policy.allow_hosts or policy.allow_private:
        return None
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return f"host {host!r} does not resolve"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return (
                f"host {host!r} resolves to {address}, a loopback, private, link-local or "
                "reserved address; allow it in the delivery policy if that is meant"
            )
    return None
