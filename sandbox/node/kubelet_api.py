"""The kubelet API the API server proxies `kubectl logs` and `kubectl exec` to, over HTTPS.

    GET /containerLogs/{namespace}/{pod}/{container}?follow=&tailLines=&limitBytes=
    GET /exec/{namespace}/{pod}/{container}?command=..&input=1&output=1&error=1&tty=1   (WebSocket)
    GET /healthz

The API server connects with its kubelet client certificate, which must be signed by the control plane's
CA (anything else is refused in the TLS handshake); the agent's serving certificate is signed by the same
CA, which the API server checks (`--kubelet-certificate-authority`). Exec speaks the WebSocket remote
command protocol (v5/v4) with the same code as the emulator's API server: the API server passes the
WebSocket upgrade through when its stream translation (WebSocket to SPDY) is off
(`--feature-gates=TranslateStreamCloseWebsocketRequests=false`); the agent speaks no SPDY.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.exec import ExecOptions, refuse_other_protocols, serve_exec
from sandbox.runtime.exec import PodExec
from sandbox.runtime.logs import LogFollower, log_path, read_log
from sandbox.runtime.pods import PodRuntime

log = logging.getLogger(__name__)

FOLLOW_POLL_SECONDS = 0.25
#: `--feature-gates` value the API server needs so that exec reaches the agent as a WebSocket.
APISERVER_FEATURE_GATES = "TranslateStreamCloseWebsocketRequests=false"


@dataclass(frozen=True)
class KubeletTLS:
    cert: Path
    key: Path
    client_ca: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.client_ca))
        context.load_cert_chain(str(self.cert), str(self.key))
        context.verify_mode = ssl.CERT_REQUIRED
        return context


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


def exec_options(request: web.Request) -> ExecOptions:
    """The kubelet's exec query: `input`, `output`, `error`, `tty` (what the API server's proxy sends)."""
    query = request.query
    options = ExecOptions(
        container=request.match_info["container"],
        command=tuple(query.getall("command", [])),
        stdin=_flag(query.get("input")),
        stdout=_flag(query.get("output")),
        stderr=_flag(query.get("error")),
        tty=_flag(query.get("tty")),
    )
    if not options.command:
        raise web.HTTPBadRequest(text="you must specify at least one command for the container")
    return options


class KubeletApi:
    def __init__(self, pods: PodRuntime, log_dir: Path) -> None:
        self.pods = pods
        self.log_dir = log_dir
        self.exec = PodExec(pods)
        self.runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self.container_logs)
        for method in ("GET", "POST"):
            app.router.add_route(method, "/exec/{namespace}/{pod}/{container}", self.exec_command)
        return app

    async def start(self, host: str, port: int, tls: KubeletTLS) -> None:
        self.runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        await web.TCPSite(self.runner, host, port, ssl_context=tls.context()).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def container_logs(self, request: web.Request) -> web.StreamResponse:
        namespace, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        path = log_path(self.log_dir, namespace, pod, container)
        query = dict(request.query)
        if not _flag(query.get("follow")):
            if not path.exists():
                raise web.HTTPNotFound(
                    text=f'container "{container}" in pod "{pod}" has no logs on this node'
                )
            text = await asyncio.to_thread(read_log, path, query)
            return web.Response(text=text, content_type="text/plain")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        follower = LogFollower(path, query)
        while True:
            data = await follower.read_new()
            if data:
                await response.write(data)
            elif self.pods.worker_for(namespace, pod) is None:
                break  # the pod no longer runs here: its log has ended
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
        await response.write_eof()
        return response

    async def exec_command(self, request: web.Request) -> web.StreamResponse:
        namespace, pod, container = (request.match_info[k] for k in ("namespace", "pod", "container"))
        options = exec_options(request)
        try:
            refuse_other_protocols(request)
        except ApiError as exc:
            raise web.HTTPBadRequest(text=exc.message) from exc
        return await serve_exec(request, self.exec, namespace, pod, container, options)
