"""The application's shared state keys and per-instance settings.

They live apart from ``routes.py`` so the modules that serve requests (``watch.py``, ``routes.py``) and the
ones that assemble the application (``app.py``, ``testing.py``) import them without importing each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from .cluster import Cluster, WriteOptions
from .exec import ExecBackend
from .faults import Faults, RequestLog

PodLogs = Callable[[dict[str, Any], str, dict[str, str]], Awaitable[str]]


class LogFollower(Protocol):
    """One ``kubectl logs -f``: the log as the query selects it on the first call, then what was appended."""

    async def read_new(self) -> bytes: ...


PodLogFollow = Callable[[dict[str, Any], str, dict[str, str]], LogFollower]


@dataclass
class PodRuntimeHooks:
    """What the API server asks of a pod runtime (the sandbox's kubelet); attached after the server starts."""

    exec: ExecBackend | None = None
    log_follow: PodLogFollow | None = None


@dataclass
class ServerConfig:
    """Knobs of one server instance."""

    minor: int = 31
    bookmark_interval: float = 60.0
    default_watch_timeout: float = 1800.0
    # kube-apiserver refuses loopback addresses in Endpoints and EndpointSlices; the sandbox runtime runs pods
    # as local processes on 127.x addresses, so the emulator accepts them unless told to refuse them.
    allow_loopback_endpoints: bool = True


CLUSTER = web.AppKey("cluster", Cluster)
CONFIG = web.AppKey("config", ServerConfig)
FAULTS = web.AppKey("faults", Faults)
REQUEST_LOG = web.AppKey("request_log", RequestLog)
POD_LOGS: web.AppKey[PodLogs | None] = web.AppKey("pod_logs")
RUNTIME_HOOKS = web.AppKey("runtime_hooks", PodRuntimeHooks)
VERB = web.RequestKey("verb", str)
WRITE_OPTIONS = web.RequestKey("write_options", WriteOptions)
RESOURCE = web.RequestKey("resource", str)
#: Set when fault injection answered the request (the conformance replay leaves such requests out).
FAULT = web.RequestKey("fault", bool)
