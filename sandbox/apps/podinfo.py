"""A podinfo-compatible demo app: the endpoints and metrics Flagger's tutorials rely on.

The sandbox runtime starts this for any `*podinfo*:TAG` image, with `--version TAG`, bound to the pod's own
loopback IP. It serves what the Blue/Green tutorial and the podinfo chart's Helm test touch: `/` (version,
hostname), the health probes, `POST /token` and `/token/validate`, `/status/{code}` and `/delay/{seconds}`
for fault injection, and podinfo's `http_request_duration_seconds` histogram (labels method, path,
status) that Flagger's builtin request-success-rate and request-duration checks query.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import platform
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

#: podinfo caps /delay so a stray request cannot pin a connection forever.
MAX_DELAY_SECONDS = 60.0


@dataclass(frozen=True)
class PodinfoSettings:
    host: str = "127.0.0.1"
    port: int = 9898
    metrics_port: int = 9797
    version: str = "6.0.0"
    hostname: str = ""
    color: str = "#34577c"
    message: str = ""

    def resolved_hostname(self) -> str:
        return self.hostname or os.environ.get("HOSTNAME") or socket.gethostname()


class RequestMetrics:
    """podinfo's HTTP instrumentation, on its own registry so several apps can share one test process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Seconds spent serving HTTP requests.",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.total = Counter(
            "http_requests",
            "The total number of HTTP requests.",
            ["status"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def route_label(request: web.Request) -> str:
    """The route template (`/status/{code}`), not the raw path, so label cardinality stays bounded."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


def instrumented(metrics: RequestMetrics) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.duration.labels(request.method, route_label(request), str(status)).observe(elapsed)
            metrics.total.labels(str(status)).inc()

    return middleware


def make_token(subject: str, secret: bytes) -> tuple[str, str]:
    """A signed HS256 JWT like podinfo's `/token` (one minute lifetime)."""

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    expires = int(time.time()) + 60
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"name": subject, "exp": expires}).encode())
    signature = b64(hmac.new(secret, f"{header}.{claims}".encode(), hashlib.sha256).digest())
    expires_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
    return f"{header}.{claims}.{signature}", expires_at


def read_token(token: str, secret: bytes) -> dict[str, object] | None:
    """The claims of a token signed with `secret`, if the signature holds and it has not expired."""
    try:
        header, claims, signature = token.split(".")
        expected = hmac.new(secret, f"{header}.{claims}".encode(), hashlib.sha256).digest()
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    except ValueError:
        return None
    if not hmac.compare_digest(expected, given):
        return None
    expires = decoded.get("exp")
    if not isinstance(expires, int) or expires < time.time():
        return None
    return decoded


class PodinfoHandlers:
    def __init__(self, settings: PodinfoSettings, metrics: RequestMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.token_secret = os.urandom(16)

    async def info(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "hostname": self.settings.resolved_hostname(),
                "version": self.settings.version,
                "revision": "",
                "color": self.settings.color,
                "logo": "",
                "message": self.settings.message or f"greetings from podinfo v{self.settings.version}",
                "goos": sys.platform,
                "goarch": platform.machine(),
                "runtime": f"python{platform.python_version()}",
                "num_goroutine": str(len(asyncio.all_tasks())),
                "num_cpu": str(os.cpu_count() or 1),
            }
        )

    async def healthy(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "OK"})

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": self.settings.version, "commit": ""})

    async def token(self, request: web.Request) -> web.Response:
        body = (await request.text()).strip()
        token, expires_at = make_token(body or "anonymous", self.token_secret)
        return web.json_response({"token": token, "expires_at": expires_at})

    async def validate_token(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return web.json_response({"error": "authorization bearer header required"}, status=401)
        claims = read_token(token.strip(), self.token_secret)
        if claims is None:
            return web.json_response({"error": "invalid or expired token"}, status=401)
        expires_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(str(claims["exp"]))))
        return web.json_response({"token_name": claims.get("name", ""), "expires_at": expires_at})

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        return web.Response(body=body, status=202, content_type=request.content_type or "text/plain")

    async def headers(self, request: web.Request) -> web.Response:
        return web.json_response({name: request.headers.getall(name) for name in request.headers})

    async def status(self, request: web.Request) -> web.Response:
        raw = request.match_info["code"]
        try:
            code = int(raw)
        except ValueError:
            return web.json_response({"error": f"status code {raw!r} is not a number"}, status=400)
        if not 100 <= code <= 599:
            return web.json_response({"error": f"status code {code} is outside 100-599"}, status=400)
        return web.json_response({"status": code}, status=code)

    async def delay(self, request: web.Request) -> web.Response:
        raw = request.match_info["seconds"]
        try:
            seconds = float(raw)
        except ValueError:
            return web.json_response({"error": f"delay {raw!r} is not a number"}, status=400)
        if not 0 <= seconds <= MAX_DELAY_SECONDS:
            return web.json_response({"error": f"delay must be 0-{MAX_DELAY_SECONDS:g} seconds"}, status=400)
        await asyncio.sleep(seconds)
        return web.json_response({"delay": seconds})

    async def prometheus_metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


def build_app(settings: PodinfoSettings, metrics: RequestMetrics | None = None) -> web.Application:
    """The main application (port 9898). Its `/metrics` shares the registry with the metrics port."""
    metrics = metrics or RequestMetrics()
    handlers = PodinfoHandlers(settings, metrics)
    app = web.Application(middlewares=[instrumented(metrics)])
    app.router.add_get("/", handlers.info)
    app.router.add_get("/api/info", handlers.info)
    app.router.add_get("/healthz", handlers.healthy)
    app.router.add_get("/readyz", handlers.healthy)
    app.router.add_get("/version", handlers.version)
    app.router.add_post("/token", handlers.token)
    app.router.add_get("/token/validate", handlers.validate_token)
    app.router.add_post("/echo", handlers.echo)
    app.router.add_get("/headers", handlers.headers)
    app.router.add_route("*", "/status/{code}", handlers.status)
    app.router.add_route("*", "/delay/{seconds}", handlers.delay)
    app.router.add_get("/metrics", handlers.prometheus_metrics)
    return app


def build_metrics_app(settings: PodinfoSettings, metrics: RequestMetrics) -> web.Application:
    """The metrics port (9797), which podinfo keeps apart so scraping is not counted as traffic."""
    handlers = PodinfoHandlers(settings, metrics)
    app = web.Application()
    app.router.add_get("/metrics", handlers.prometheus_metrics)
    app.router.add_get("/healthz", handlers.healthy)
    return app


async def serve(settings: PodinfoSettings) -> None:
    metrics = RequestMetrics()
    runners = [
        web.AppRunner(build_app(settings, metrics), access_log=None),
        web.AppRunner(build_metrics_app(settings, metrics), access_log=None),
    ]
    for runner in runners:
        await runner.setup()
    await web.TCPSite(runners[0], settings.host, settings.port).start()
    if settings.metrics_port and settings.metrics_port != settings.port:
        await web.TCPSite(runners[1], settings.host, settings.metrics_port).start()
    print(
        json.dumps(
            {
                "level": "info",
                "msg": "Starting podinfo",
                "version": settings.version,
                "address": f"{settings.host}:{settings.port}",
                "metrics": f"{settings.host}:{settings.metrics_port}",
            }
        ),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def parse_args(argv: Sequence[str]) -> PodinfoSettings:
    parser = argparse.ArgumentParser(prog="python -m sandbox.apps.podinfo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (the pod IP)")
    parser.add_argument("--port", type=int, default=9898)
    parser.add_argument("--metrics-port", "--port-metrics", dest="metrics_port", type=int, default=9797)
    parser.add_argument("--version", default="6.0.0", help="the version reported by / and /version")
    parser.add_argument("--hostname", default="", help="defaults to $HOSTNAME (the pod name)")
    parser.add_argument("--color", default=os.environ.get("PODINFO_UI_COLOR", "#34577c"))
    parser.add_argument("--message", default=os.environ.get("PODINFO_UI_MESSAGE", ""))
    args = parser.parse_args(list(argv))
    return PodinfoSettings(
        host=args.host,
        port=args.port,
        metrics_port=args.metrics_port,
        version=args.version,
        hostname=args.hostname,
        color=args.color,
        message=args.message,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        print(f"podinfo: cannot listen on {settings.host}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
