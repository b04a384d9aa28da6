"""Helpers for the API server's acceptance tests: clients, CRD manifests, real kubectl and helm."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import yaml
from kubernetes_asyncio import client, config

from sandbox.apiserver.testing import ApiServer, run_kubectl_args

REPO = pathlib.Path(__file__).resolve().parents[3]
DATA = pathlib.Path(__file__).parent / "data"
PROJECT_CRDS = REPO / "kustomize" / "base" / "flagman" / "crd.yaml"
KUBECTL_DIR = pathlib.Path(os.path.realpath(shutil.which("kubectl") or "/usr/bin/kubectl")).parent
HELM = REPO / ".tools" / "bin" / "helm"


def flagger_crds_path() -> pathlib.Path:
    """The project's CRDs when they exist, else the test-data copy written from the spec."""
    return PROJECT_CRDS if PROJECT_CRDS.exists() else DATA / "flagger-crds.yaml"


def flagger_crds() -> list[dict[str, object]]:
    return [doc for doc in yaml.safe_load_all(flagger_crds_path().read_text()) if doc]


PODINFO_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
  namespace: test
  labels:
    app: podinfo
spec:
  replicas: 1
  selector:
    matchLabels:
      app: podinfo
  template:
    metadata:
      labels:
        app: podinfo
    spec:
      containers:
        - name: podinfod
          image: stefanprodan/podinfo:3.1.0
          ports:
            - containerPort: 9898
              name: http
        - name: sidecar
          image: busybox:1.36
"""


@dataclass
class Kubectl:
    """Runs a real kubectl binary against the fixture's server, with a private cache and HOME."""

    server: ApiServer
    binary: str

    def __call__(self, *args: str, check: bool = True, stdin: str | None = None, timeout: float = 60) -> str:
        result = self.run(*args, stdin=stdin, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result.stdout

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.server.kubectl_env()}
        return subprocess.run(
            [self.binary, *run_kubectl_args(self.server, *args)],
            capture_output=True,
            text=True,
            input=stdin,
            env=env,
            timeout=timeout,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **self.server.kubectl_env()}
        return subprocess.Popen(
            [self.binary, *run_kubectl_args(self.server, *args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )


def kubectl_binary(minor: int) -> str:
    binary = KUBECTL_DIR / f"kubectl.1.{minor}"
    if not binary.exists():
        pytest.skip(f"kubectl.1.{minor} not found next to {KUBECTL_DIR / 'kubectl'}")
    return str(binary)


@pytest.fixture(params=[31, 33], ids=["kubectl-1.31", "kubectl-1.33"])
def kubectl(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """A real kubectl of the given minor, against a server reporting that minor."""
    minor: int = request.param
    binary = kubectl_binary(minor)
    server = ApiServer(workdir=tmp_path_factory.mktemp("apiserver"), minor=minor, bookmark_interval=0.2)
    server.start()
    request.addfinalizer(server.stop)
    return Kubectl(server, binary)


@pytest.fixture
async def api_client(apiserver: ApiServer) -> AsyncIterator[client.ApiClient]:
    """kubernetes_asyncio configured from the fixture's kubeconfig, as an application would be."""
    configuration = client.Configuration()
    await config.load_kube_config(config_file=apiserver.kubeconfig, client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        yield api


async def install_flagger_crds(api: client.ApiClient) -> None:
    extensions = client.ApiextensionsV1Api(api)
    for crd in flagger_crds():
        await extensions.create_custom_resource_definition(crd)


def http(
    server: ApiServer, method: str, path: str, body: object = None, content_type: str = "application/json"
) -> tuple[int, dict[str, object]]:
    """A plain HTTP call to the server (for test set-up that no CLI does, e.g. Deployment status)."""
    import json
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
