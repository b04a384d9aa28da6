"""A real Prometheus for the sandbox, scraping pods the way Flagger's bundled Prometheus does.

Flagger's chart configures Kubernetes pod discovery plus relabelling that yields `kubernetes_namespace` and
`kubernetes_pod_name`; the sandbox runtime writes the same targets and labels to a file_sd file, and this
module runs `/usr/bin/prometheus` on its own loopback IP, reading that file. A selector-less Service
`flagger-prometheus` in namespace `flagger` (with hand-written Endpoints) puts it behind
`http://flagger-prometheus.flagger:9090`, the address the tutorial and the controller use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml

from sandbox.runtime.kube import ENDPOINTS, SERVICES, Kube, KubeError, Obj, Resource

NAMESPACES = Resource("/api/v1", "namespaces", "Namespace", "v1")
DEFAULT_BINARY = "/usr/bin/prometheus"
SERVICE_NAME = "flagger-prometheus"
SERVICE_NAMESPACE = "flagger"
PORT = 9090


class PrometheusError(Exception):
    pass


@dataclass(frozen=True)
class PrometheusSettings:
    address: str
    state_dir: Path
    targets_file: Path
    scrape_interval: str = "5s"
    port: int = PORT
    binary: str = DEFAULT_BINARY

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"


def render_config(settings: PrometheusSettings) -> str:
    """The `kubernetes-pods` job of Flagger's Prometheus, with file_sd in place of Kubernetes discovery."""
    config = {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.scrape_interval,
        },
        "scrape_configs": [
            {
                "job_name": "kubernetes-pods",
                "file_sd_configs": [{"files": [str(settings.targets_file)], "refresh_interval": "5s"}],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


class Prometheus:
    def __init__(self, settings: PrometheusSettings) -> None:
        self.settings = settings
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, ready_timeout: float = 30.0) -> None:
        binary = shutil.which(self.settings.binary) or self.settings.binary
        if not os.access(binary, os.X_OK):
            raise PrometheusError(f"prometheus binary not found at {binary} (run `make tools` to install it)")
        state = self.settings.state_dir
        state.mkdir(parents=True, exist_ok=True)
        self.settings.targets_file.parent.mkdir(parents=True, exist_ok=True)
        if not self.settings.targets_file.exists():
            self.settings.targets_file.write_text("[]")
        config_file = state / "prometheus.yml"
        config_file.write_text(render_config(self.settings))
        log = open(state / "prometheus.log", "ab")  # noqa: SIM115, ASYNC230 - handed to the child, closed below
        try:
            self.process = await asyncio.create_subprocess_exec(
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={state / 'data'}",
                "--storage.tsdb.retention.time=2h",
                f"--web.listen-address={self.settings.address}:{self.settings.port}",
                "--log.level=warn",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        await self._wait_ready(ready_timeout)

    async def _wait_ready(self, timeout_seconds: float) -> None:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
            while loop.time() < deadline:
                if self.process.returncode is not None:
                    raise PrometheusError(
                        f"prometheus exited with {self.process.returncode}; "
                        f"see {self.settings.state_dir / 'prometheus.log'}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                    async with session.get(f"{self.settings.url}/-/ready") as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.2)
        await self.stop()
        raise PrometheusError(f"prometheus did not become ready within {timeout_seconds:g}s")

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


async def ensure_namespace(kube: Kube, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    try:
        await kube.request("POST", NAMESPACES.collection(), body=body)
    except KubeError as exc:
        if not exc.conflict:
            raise


async def _create_or_replace(kube: Kube, resource: Resource, namespace: str, body: Obj) -> None:
    try:
        await kube.create(resource, namespace, body)
    except KubeError as exc:
        if not exc.conflict:
            raise
        await kube.patch(resource, namespace, body["metadata"]["name"], body)


async def register_service(kube: Kube, address: str, port: int = PORT) -> None:
    """Namespace `flagger`, Service `flagger-prometheus` (no selector) and Endpoints at Prometheus."""
    labels = {"app": SERVICE_NAME}
    await ensure_namespace(kube, SERVICE_NAMESPACE)
    meta = {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE, "labels": labels}
    service: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"type": "ClusterIP", "ports": [{"name": "http", "port": port, "targetPort": port}]},
    }
    endpoints: Obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": meta,
        "subsets": [{"addresses": [{"ip": address}], "ports": [{"name": "http", "port": port}]}],
    }
    await _create_or_replace(kube, SERVICES, SERVICE_NAMESPACE, service)
    await _create_or_replace(kube, ENDPOINTS, SERVICE_NAMESPACE, endpoints)
