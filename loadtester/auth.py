"""Who may ask: Flagger's namespace authorizer and the optional bearer token."""

from __future__ import annotations

import hmac
import re


class NamespaceAuthorizer:
    """Flagger's `-namespace-regexp`: allowed iff the regexp matches *anywhere* in the namespace
    (Go `MatchString` is unanchored; users anchor with `^...$`). No regexp allows everything."""

    def __init__(self, pattern: re.Pattern[str] | None) -> None:
        self._pattern = pattern

    def allows(self, namespace: str) -> bool:
        return self._pattern is None or self._pattern.search(namespace) is not None


class BearerToken:
    """`Authorization: Bearer <token>`, compared in constant time."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def accepts(self, header: str | None) -> bool:
        if header is None:
            return False
        return hmac.compare_digest(header.strip().encode(), self._expected)
