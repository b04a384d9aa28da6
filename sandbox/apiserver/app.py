"""The aiohttp application: state, routes, background garbage collection and state persistence."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pathlib
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from .cluster import Cluster
from .external_metrics import add_external_metrics
from .faults import Faults, RequestLog
from .keys import CLUSTER, CONFIG, FAULTS, POD_LOGS, REQUEST_LOG, RUNTIME_HOOKS, PodRuntimeHooks, ServerConfig
from .lifecycle import run_collector
from .routes import add_routes, observe

log = logging.getLogger(__name__)
STATE_FILE = web.AppKey("state_file", str)

# Big enough for helm release Secrets (gzipped manifests) and large CRDs.
MAX_BODY_BYTES = 16 * 1024 * 1024


def load_state(path: pathlib.Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read state file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SystemExit(f"state file {path} does not hold a JSON object")
    return data


def save_state(path: pathlib.Path, snapshot: dict[str, Any]) -> None:
    """Write atomically: a crash mid-write never leaves a truncated state file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as handle:
        json.dump(snapshot, handle)
    os.replace(tmp, path)


def make_app(config: ServerConfig | None = None, state_file: str | None = None) -> web.Application:
    app = web.Application(middlewares=[observe], client_max_size=MAX_BODY_BYTES)
    cluster = Cluster()
    if state_file:
        snapshot = load_state(pathlib.Path(state_file))
        if snapshot is not None:
            cluster.store.restore(snapshot)
        app[STATE_FILE] = state_file
    cluster.bootstrap()
    app[CLUSTER] = cluster
    app[CONFIG] = config or ServerConfig()
    cluster.allow_loopback_endpoints = app[CONFIG].allow_loopback_endpoints
    app[FAULTS] = Faults()
    app[REQUEST_LOG] = RequestLog()
    app[POD_LOGS] = None
    app[RUNTIME_HOOKS] = PodRuntimeHooks()  # mutable: a runtime attaches after the server has started
    add_external_metrics(app)  # before add_routes: its generic /apis/... route would take these paths
    add_routes(app)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(_end_watches)
    return app


async def _end_watches(app: web.Application) -> None:
    """Open watches would otherwise hold the shutdown until their timeout."""
    app[CLUSTER].store.drop_watches()


async def _background(app: web.Application) -> AsyncIterator[None]:
    cluster = app[CLUSTER]
    loop = asyncio.get_running_loop()
    cluster.gc_wakeup = asyncio.Event()
    cluster.gc_wakeup.set()  # collect once at start: a restored state may hold half-finished deletions

    def drop_watches(resource: str | None) -> None:
        def drop() -> None:
            if resource is None:
                cluster.store.drop_watches()
                return
            for storage in {w.storage for w in cluster.store.watchers}:
                if storage.rsplit("/", 1)[-1] == resource:
                    cluster.store.drop_watches(storage)

        loop.call_soon_threadsafe(drop)

    app[FAULTS].drop_watches_hook = drop_watches
    collector = asyncio.create_task(run_collector(cluster), name="apiserver-gc")
    yield
    cluster.store.drop_watches()
    collector.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await collector
    if STATE_FILE in app:
        save_state(pathlib.Path(app[STATE_FILE]), cluster.snapshot())
        log.info("state saved to %s", app[STATE_FILE])
