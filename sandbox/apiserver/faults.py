"""Fault injection and the request log, both readable and writable from test threads.

The server runs on its own event loop (often in a background thread); tests arm faults and read the
log from another thread, so both structures are guarded by a plain lock and never await.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import DEFAULT_REASONS, ApiError


@dataclass
class Fault:
    """Make the next ``times`` requests that match (verb, resource) fail and/or wait."""

    verb: str | None
    resource: str | None
    status: int | None
    latency: float
    times: int
    namespace: str | None = None
    name: str | None = None
    message: str = ""

    def matches(self, verb: str, resource: str, namespace: str | None, name: str | None) -> bool:
        return (
            (self.verb is None or self.verb == verb)
            and (self.resource is None or self.resource == resource)
            and (self.namespace is None or self.namespace == namespace)
            and (self.name is None or self.name == name)
        )

    def error(self, resource: str, name: str | None) -> ApiError | None:
        if self.status is None:
            return None
        reason = DEFAULT_REASONS.get(self.status, "InternalError")
        message = self.message or f"injected fault: {self.status} {reason} for {resource}"
        if self.status == 410 and not self.message:
            message = "too old resource version: injected fault"
        if self.status == 409 and not self.message:
            message = (
                f'Operation cannot be fulfilled on {resource} "{name or ""}": the object has been modified; '
                "please apply your changes to the latest version and try again"
            )
        details: dict[str, Any] = {"name": name or "", "kind": resource}
        if self.status == 429:
            details["retryAfterSeconds"] = 1
        return ApiError(self.status, reason, message, details)


@dataclass
class Faults:
    """The armed faults. ``drop_watches`` is wired by the server to end open watch streams."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    drop_watches_hook: Callable[[str | None], None] | None = None

    def fail(
        self,
        verb: str | None,
        resource: str | None,
        status: int,
        times: int = 1,
        *,
        namespace: str | None = None,
        name: str | None = None,
        message: str = "",
    ) -> Fault:
        """Answer the next ``times`` matching requests with ``status`` (409, 429, 500 ...)."""
        fault = Fault(verb, resource, status, 0.0, times, namespace, name, message)
        with self._lock:
            self._faults.append(fault)
        return fault

    def delay(self, verb: str | None, resource: str | None, seconds: float, times: int = 1_000_000) -> Fault:
        """Add ``seconds`` of latency to the next ``times`` matching requests."""
        fault = Fault(verb, resource, None, seconds, times)
        with self._lock:
            self._faults.append(fault)
        return fault

    def drop_watches(self, resource: str | None = None) -> None:
        """End every open watch (of one resource plural, or all): clients must reconnect."""
        if self.drop_watches_hook is not None:
            self.drop_watches_hook(resource)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(
        self, verb: str, resource: str, namespace: str | None, name: str | None
    ) -> tuple[float, ApiError | None]:
        """Consume the faults matching this request: (latency to add, error to answer or None)."""
        latency, error = 0.0, None
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(verb, resource, namespace, name):
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                latency += fault.latency
                if error is None:
                    error = fault.error(resource, name)
        return latency, error


@dataclass(frozen=True)
class RequestRecord:
    """One answered request. Bodies are kept only while the log records them (``capture_bodies``)."""

    method: str
    path: str
    query: str
    status: int
    duration: float
    verb: str = ""
    resource: str = ""
    user_agent: str = ""
    content_type: str = ""
    accept: str = ""
    body: bytes | None = None
    response_content_type: str = ""
    response_body: bytes | None = None
    warnings: tuple[str, ...] = ()
    fault: bool = False  # answered by fault injection, not by the API semantics


class RequestLog(list[RequestRecord]):
    """Every request the server answered, in order (append is atomic under the GIL).

    ``capture_bodies`` adds request and response bodies to the records: the conformance corpus needs them,
    a long-running sandbox does not (they would only grow its memory).
    """

    capture_bodies: bool = False

    def matching(
        self, method: str | None = None, path_prefix: str = "", verb: str | None = None
    ) -> list[RequestRecord]:
        return [
            r
            for r in list(self)
            if (method is None or r.method == method)
            and r.path.startswith(path_prefix)
            and (verb is None or r.verb == verb)
        ]
