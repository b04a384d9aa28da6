"""Standalone serving: ``flagman sandbox apiserver`` runs until SIGTERM/SIGINT, then saves state."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from .app import make_app
from .keys import ServerConfig


def serve(
    host: str = "127.0.0.1",
    port: int = 6443,
    minor: int = 31,
    state_file: str | None = None,
    bookmark_interval: float = 60.0,
) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = make_app(ServerConfig(minor=minor, bookmark_interval=bookmark_interval), state_file)
    print(f"sandbox API server listening on http://{host}:{port}", file=sys.stderr, flush=True)
    # run_app turns SIGTERM/SIGINT into a graceful shutdown, which runs the state save.
    web.run_app(app, host=host, port=port, access_log=None, print=None, shutdown_timeout=5)
    return 0
