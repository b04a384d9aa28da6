"""Running the API server inside tests, from sync or async code.

The server gets its own thread and event loop, so a test can call real ``kubectl`` with
``subprocess.run`` (which blocks the test's thread) while the server keeps answering, and async tests
can use kubernetes_asyncio or kopf on their own loop against it.

    with ApiServer() as server:                  # or: async with ApiServer() as server:
        subprocess.run(["kubectl", "--kubeconfig", server.kubeconfig, "get", "ns"])
        server.faults.fail("patch", "canaries", 409)
        assert server.request_log[-1].status == 200
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import pathlib
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .app import make_app
from .cluster import Cluster
from .external_metrics import EXTERNAL_METRICS, ExternalMetrics
from .faults import Faults, RequestLog
from .keys import (
    CLUSTER,
    FAULTS,
    POD_LOGS,
    REQUEST_LOG,
    RUNTIME_HOOKS,
    PodLogs,
    PodRuntimeHooks,
    ServerConfig,
)
from .recording import append_session, corpus_path, current_test

T = TypeVar("T")


def kubeconfig_text(url: str, namespace: str = "default") -> str:
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        f"- name: sandbox\n  cluster:\n    server: {url}\n"
        "users:\n"
        "- name: sandbox\n  user: {}\n"
        "contexts:\n"
        f"- name: sandbox\n  context:\n    cluster: sandbox\n    user: sandbox\n    namespace: {namespace}\n"
        "current-context: sandbox\n"
    )


class ApiServer:
    """The sandbox API server on a random loopback port, in a background thread."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        minor: int = 31,
        bookmark_interval: float = 60.0,
        state_file: str | None = None,
        workdir: str | pathlib.Path | None = None,
        allow_loopback_endpoints: bool = True,
    ) -> None:
        self.host, self.port = host, port
        self.config = ServerConfig(
            minor=minor,
            bookmark_interval=bookmark_interval,
            allow_loopback_endpoints=allow_loopback_endpoints,
        )
        self.state_file = state_file
        self._own_workdir = workdir is None
        self.workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="flagman-apiserver-"))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None
        self._stopped: asyncio.Event | None = None
        self._pod_logs: PodLogs | None = None
        # FLAGMAN_APISERVER_CORPUS: record this server's requests for the conformance replay (recording.py).
        self._corpus = corpus_path()
        self._session = uuid.uuid4().hex[:12]
        self._test = current_test()

    # -- what tests use ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def kubeconfig(self) -> str:
        """Path of a kubeconfig file pointing at this server (written on start)."""
        return str(self.workdir / "kubeconfig")

    @property
    def cache_dir(self) -> str:
        """A private kubectl discovery/HTTP cache (``kubectl --cache-dir``)."""
        return str(self.workdir / "kube-cache")

    @property
    def request_log(self) -> RequestLog:
        assert self._app is not None, "server not started"
        return self._app[REQUEST_LOG]

    @property
    def faults(self) -> Faults:
        assert self._app is not None, "server not started"
        return self._app[FAULTS]

    @property
    def external_metrics(self) -> ExternalMetrics:
        """Values of ``external.metrics.k8s.io`` (``.set(namespace, name, value, labels)``, any thread)."""
        assert self._app is not None, "server not started"
        return self._app[EXTERNAL_METRICS]

    @property
    def cluster(self) -> Cluster:
        """The server's state; touch it only through :meth:`call` (it lives on the server's loop)."""
        assert self._app is not None, "server not started"
        return self._app[CLUSTER]

    @property
    def runtime_hooks(self) -> PodRuntimeHooks:
        """Where a pod runtime attaches ``pods/exec`` and ``logs -f`` (set its attributes from any thread)."""
        assert self._app is not None, "server not started"
        return self._app[RUNTIME_HOOKS]

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the server's loop and return its result (thread-safe)."""
        assert self._loop is not None
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function())
            except BaseException as exc:  # handed back to the caller's thread
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=10)

    def compact(self) -> None:
        """Forget the watch history: watches from an older resourceVersion get 410 Gone."""
        self.call(self.cluster.store.compact)

    def set_pod_logs(self, source: PodLogs | None) -> None:
        """Where ``pods/log`` reads from (a runtime's log reader); None answers empty logs."""
        self._pod_logs = source

    async def _read_pod_logs(self, pod: dict[str, Any], container: str, query: dict[str, str]) -> str:
        source = self._pod_logs
        return await source(pod, container, query) if source is not None else ""

    def kubectl_env(self) -> dict[str, str]:
        """Environment for a kubectl/helm subprocess: this kubeconfig, a private HOME and caches."""
        home = self.workdir / "home"
        home.mkdir(exist_ok=True)
        return {
            "KUBECONFIG": self.kubeconfig,
            "HOME": str(home),
            "HELM_CACHE_HOME": str(home / "helm-cache"),
            "HELM_CONFIG_HOME": str(home / "helm-config"),
            "HELM_DATA_HOME": str(home / "helm-data"),
        }

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ApiServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="apiserver", daemon=True)
        self._thread.start()
        ready.result(timeout=30)
        (self.workdir / "kubeconfig").write_text(kubeconfig_text(self.url))
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(timeout=30)
            if self._corpus is not None and self._app is not None:
                append_session(
                    self._corpus, self._app[REQUEST_LOG], self._session, self._test, self.config.minor
                )
        self._loop = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
        finally:
            loop.close()

    async def _serve(self, ready: concurrent.futures.Future[None]) -> None:
        self._stopped = asyncio.Event()
        self._app = make_app(self.config, self.state_file)
        self._app[REQUEST_LOG].capture_bodies = self._corpus is not None
        self._app[POD_LOGS] = self._read_pod_logs  # set before start; set_pod_logs swaps the source later
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        ready.set_result(None)
        await self._stopped.wait()
        await self._runner.cleanup()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> ApiServer:
        await asyncio.get_running_loop().run_in_executor(None, self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop)


def run_kubectl_args(server: ApiServer, *args: str) -> list[str]:
    """``kubectl`` argv with the server's kubeconfig and a private cache directory."""
    return ["--kubeconfig", server.kubeconfig, "--cache-dir", server.cache_dir, *args]


__all__ = ["ApiServer", "ServerConfig", "kubeconfig_text", "run_kubectl_args"]
