"""The one exception of the store: a refusal or failure with a diagnostic code.

The responder commands turn it into a diagnostic (`where: error CODE message`) and exit 2;
whatever raised it wrote nothing (its transaction was rolled back, or never began).
"""

from __future__ import annotations


class StoreError(Exception):
    """A store that cannot be used (ST10x) or a command refused (ST11x): code, message, where
    (the store, an option or the incident), hint."""

    def __init__(self, code: str, message: str, where: str, hint: str = "") -> None:
        super().__init__(f"{where}: {code} {message}")
        self.code = code
        self.message = message
        self.where = where
        self.hint = hint
