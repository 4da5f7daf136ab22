"""Recipients rendered from incident data, checked for their channel's kind before a plan shows
them: one address per entry and no header syntax, and webhook URLs that cannot point a request
at this machine or its network.

A template such as `to: ["{{ incident.labels.owner }}"]` puts incident text where a person or
a sender will use it as an address. `victim@x, attacker@y` or `a@x\\nBcc: z` would address
several people or add a header, and `http://169.254.169.254/` would make a webhook a request
forger. Pure: no DNS lookups (names are judged as written; the delivery layer resolves them
again before any request).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_TOKEN = re.compile(r"[^\s,;<>\"'`\\]+")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
MAX_RECIPIENT = 320


def recipient_problem(kind: str, value: str, allow_private: bool = False) -> str | None:
    """Why `value` cannot be a recipient of a `kind` channel, or None if it can."""
    if not value:
        return "it is empty"
    if len(value) > MAX_RECIPIENT:
        return f"it is longer than {MAX_RECIPIENT} characters"
    if kind == "email":
        if _EMAIL.fullmatch(value) is None:
            return "it is not one e-mail address (write one address per entry, no names or headers)"
        return None
    if kind == "webhook":
        return _webhook_problem(value, allow_private)
    if _TOKEN.fullmatch(value) is None:
        return "it is not one address (no spaces, commas, quotes or angle brackets)"
    return None


def _webhook_problem(value: str, allow_private: bool) -> str | None:
    if _TOKEN.fullmatch(value) is None:
        return "it is not one URL (no spaces, commas, quotes or angle brackets)"
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        return "it is not a URL"
    if parts.scheme not in ("http", "https"):
        return "a webhook URL must start with http:// or https://"
    if not host:
        return "the URL names no host"
    if allow_private:
        return None
    if host.lower().rstrip(".") in _LOCAL_NAMES or host.lower().endswith(".localhost"):
        return "the URL points at this machine (loopback)"
    address = _literal_address(host)
    if address is not None and not address.is_global:
        return f"the URL points at a non-public address ({address})"
    return None


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a host written as a number means (dotted, or one decimal, octal or hex
    number as browsers and libc read `2852039166` or `0xa9fea9fe`), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        number = int(host, 0)
    except ValueError:
        return None
    return ipaddress.IPv4Address(number) if 0 <= number < 2**32 else None
