"""Test support for the real control plane: whether tests may skip without it, and fresh namespaces.

CI sets `FLAGMAN_REQUIRE_REAL_BACKEND=1`: a missing control plane then fails the real-backend tests
instead of skipping them, so CI cannot go green without having run them.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .binaries import find_binaries, why_missing
from .launcher import ControlPlane

REQUIRE_ENV = "FLAGMAN_REQUIRE_REAL_BACKEND"


@dataclass(frozen=True)
class Availability:
    binaries: Path | None
    reason: str
    required: bool

    @property
    def skip(self) -> bool:
        return self.binaries is None and not self.required

    @property
    def fail(self) -> bool:
        return self.binaries is None and self.required


def availability() -> Availability:
    """Where the binaries are; if absent, why, and whether that fails (`FLAGMAN_REQUIRE_REAL_BACKEND=1`)."""
    required = os.environ.get(REQUIRE_ENV, "") not in ("", "0")
    binaries = find_binaries()
    reason = why_missing()
    if binaries is None and required:
        reason += f" ({REQUIRE_ENV}=1: the real-backend tests must run, not skip)"
    return Availability(binaries, reason, required)


def namespace_name(hint: str) -> str:
    """A DNS label from a test's name, unique: `t-promotion-3f2a1c`."""
    base = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[:40].strip("-") or "ns"
    return f"{base}-{secrets.token_hex(3)}"


@contextmanager
def fresh_namespace(plane: ControlPlane, hint: str, *, timeout: float = 60.0) -> Iterator[str]:
    """Create a namespace, wait for its `default` ServiceAccount (pods are refused before it exists),
    yield its name, delete it afterwards (without waiting for the namespace controller to finish)."""
    name = namespace_name(hint)
    plane.admin_request(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            plane.admin_request("GET", f"/api/v1/namespaces/{name}/serviceaccounts/default")
            break
        except urllib.error.HTTPError as error:
            if error.code != 404 or time.monotonic() > deadline:
                raise
        time.sleep(0.1)
    try:
        yield name
    finally:
        with contextlib.suppress(OSError):  # the control plane is already gone (URLError is an OSError)
            plane.admin_request("DELETE", f"/api/v1/namespaces/{name}")
