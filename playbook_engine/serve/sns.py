"""Amazon SNS subscription confirmation.

SNS posts a `SubscriptionConfirmation` message with a `SubscribeURL` before it sends any
notification; fetching that URL confirms the subscription. The URL is fetched only when it is
`https` and its host ends with `.amazonaws.com` — anything else would let a caller make the
service request an address of its choosing. `PLAYBOOK_SERVE_SNS_TEST_LOOPBACK=1` also allows
`http://127.0.0.1:<port>/...`, for tests only.
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any
from urllib.parse import urlsplit

TIMEOUT = 10.0
MAX_ANSWER = 64 * 1024


def message_type(body: bytes, header: str | None) -> str | None:
    """The SNS message type (`SubscriptionConfirmation`, `Notification`, ...) or None."""
    if header:
        return header
    try:
        data: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    kind = data.get("Type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def allowed(url: str) -> bool:
    """Whether a SubscribeURL may be fetched."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return False
    if parts.scheme == "https" and host.endswith(".amazonaws.com") and port in (None, 443):
        return True
    loopback_ok = os.environ.get("PLAYBOOK_SERVE_SNS_TEST_LOOPBACK") == "1"
    return loopback_ok and parts.scheme == "http" and host == "127.0.0.1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def confirm(body: bytes) -> str:
    """Confirm the subscription of a SubscriptionConfirmation message; the topic, or raise
    ValueError saying why not."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"SubscriptionConfirmation: not valid JSON: {exc}") from None
    url = data.get("SubscribeURL") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url:
        raise ValueError("SubscriptionConfirmation: missing SubscribeURL")
    if not allowed(url):
        raise ValueError(
            "SubscriptionConfirmation: SubscribeURL refused: only https URLs on a host ending "
            "with .amazonaws.com are fetched"
        )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=TIMEOUT) as answer:
            answer.read(MAX_ANSWER)
            if answer.status != 200:
                raise ValueError(f"SubscriptionConfirmation: SubscribeURL answered {answer.status}")
    except OSError as exc:
        raise ValueError(f"SubscriptionConfirmation: SubscribeURL failed: {exc}") from None
    return str(data.get("TopicArn", ""))
