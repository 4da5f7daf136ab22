"""Who may post: a token per source (bearer or basic), and the vendors' signatures.

Credentials come from the environment, never from the library (which is in git):

- `PLAYBOOK_SERVE_TOKEN_<SOURCE>` or `PLAYBOOK_SERVE_TOKEN_<SOURCE>_FILE` (a file holding it),
  where SOURCE is the route's format or mapping id upper-cased with `-` as `_`
  (`PLAYBOOK_SERVE_TOKEN_ALERTMANAGER`, `..._INCIDENTS` for `/v1/incidents`, `..._WEB` for the
  page's login); `PLAYBOOK_SERVE_TOKEN` (or `_FILE`) applies to sources without their own.
  The token is sent as `Authorization: Bearer TOKEN` or as the password of basic auth (Amazon
  SNS supports only `https://user:TOKEN@host/...` subscription URLs).
- `PLAYBOOK_SERVE_PAGERDUTY_SECRET`: PagerDuty V3 webhook signing secret; when set, posts to
  `pagerduty-webhook` need a valid `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>`.
- `PLAYBOOK_SERVE_SENTRY_SECRET`: the Sentry integration's client secret; when set, posts to
  `sentry` need `Sentry-Hook-Signature: <hex HMAC-SHA256 of the body>`.

A source with neither a token nor a signature secret is refused: the service is closed by
default. Comparisons are constant-time; no credential is ever logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SIGNATURES = {
    "pagerduty-webhook": ("PLAYBOOK_SERVE_PAGERDUTY_SECRET", "x-pagerduty-signature"),
    "sentry": ("PLAYBOOK_SERVE_SENTRY_SECRET", "sentry-hook-signature"),
}


class ConfigError(ValueError):
    """A credential that is configured but unusable (unreadable secret file)."""


def env_name(source: str) -> str:
    """The environment variable of a source's token."""
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in source.upper())
    return f"PLAYBOOK_SERVE_TOKEN_{cleaned}"


def _secret(name: str, env: Mapping[str, str]) -> str | None:
    value = env.get(name)
    if value:
        return value
    path = env.get(f"{name}_FILE")
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"${name}_FILE: cannot read {path}: {exc.strerror}") from None
        if not text:
            raise ConfigError(f"${name}_FILE: {path} is empty")
        return text
    return None


@dataclass(frozen=True, slots=True)
class SourceAuth:
    """The credentials of one source."""

    token: str | None
    signature_secret: str | None
    signature_header: str | None


class Credentials:
    """Every source's credentials, read once from the environment."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = dict(os.environ if env is None else env)
        self._cache: dict[str, SourceAuth] = {}
        self.default_token = _secret("PLAYBOOK_SERVE_TOKEN", self._env)

    def of(self, source: str) -> SourceAuth:
        """The credentials of `source`."""
        found = self._cache.get(source)
        if found is None:
            token = _secret(env_name(source), self._env) or self.default_token
            secret_name, header = SIGNATURES.get(source, (None, None))
            secret = _secret(secret_name, self._env) if secret_name else None
            found = SourceAuth(token, secret, header if secret else None)
            self._cache[source] = found
        return found

    def check(self, source: str, headers: Mapping[str, str], body: bytes) -> str | None:
        """None when the request may pass, else why not (for the 401 and the log)."""
        auth = self.of(source)
        if auth.token is None and auth.signature_secret is None:
            return f"no credentials are configured for source {source!r} (set {env_name(source)})"
        if auth.token is not None and not token_matches(
            headers.get("authorization", ""), auth.token
        ):
            return "missing or wrong token"
        if auth.signature_secret is not None and auth.signature_header is not None:
            given = headers.get(auth.signature_header, "")
            if not signature_matches(source, given, auth.signature_secret, body):
                return f"missing or wrong {auth.signature_header}"
        return None


def token_matches(authorization: str, token: str) -> bool:
    """Whether an Authorization header carries `token` (bearer, or basic's password)."""
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        _user, sep, password = decoded.partition(b":")
        return bool(sep) and hmac.compare_digest(password, token.encode())
    return False


def _hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(source: str, given: str, secret: str, body: bytes) -> bool:
    """PagerDuty V3 (`v1=hex[,v1=hex]`: any may match, for secret rotation) or Sentry (hex)."""
    expected = _hmac(secret, body)
    if source == "pagerduty-webhook":
        candidates = [part.strip()[3:] for part in given.split(",") if part.strip()[:3] == "v1="]
    else:
        candidates = [given.strip()]
    return any(hmac.compare_digest(c.encode(), expected.encode()) for c in candidates if c)
