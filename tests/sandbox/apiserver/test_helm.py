"""Real helm against the API server: install a tiny local chart, upgrade it, list, uninstall."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from sandbox.apiserver.testing import ApiServer

from .conftest import HELM, http

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
    "values.yaml": "color: blue\n",
    "templates/objects.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  color: {{ .Values.color }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app: tiny}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector: {matchLabels: {app: tiny}}
  template:
    metadata: {labels: {app: tiny}}
    spec:
      containers: [{name: app, image: "busybox:1.36"}]
""",
}


@pytest.fixture
def chart(tmp_path: pathlib.Path) -> pathlib.Path:
    for name, text in CHART.items():
        path = tmp_path / "tiny" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "tiny"


def helm(server: ApiServer, *args: str) -> str:
    if not HELM.exists():
        pytest.skip(f"helm not installed at {HELM} (run `make tools`)")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **server.kubectl_env()}
    result = subprocess.run([str(HELM), *args], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def test_install_upgrade_list_uninstall(apiserver: ApiServer, chart: pathlib.Path) -> None:
    assert "STATUS: deployed" in helm(
        apiserver, "install", "demo", str(chart), "-n", "hel", "--create-namespace"
    )
    code, config = http(apiserver, "GET", "/api/v1/namespaces/hel/configmaps/demo-config")
    assert code == 200 and config["data"] == {"color": "blue"}
    assert config["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"

    assert "has been upgraded" in helm(
        apiserver, "upgrade", "demo", str(chart), "-n", "hel", "--set", "color=green"
    )
    code, config = http(apiserver, "GET", "/api/v1/namespaces/hel/configmaps/demo-config")
    assert config["data"] == {"color": "green"}

    releases = json.loads(helm(apiserver, "list", "-n", "hel", "-o", "json"))
    assert [(r["name"], r["revision"], r["status"]) for r in releases] == [("demo", "2", "deployed")]
    _, secrets = http(apiserver, "GET", "/api/v1/namespaces/hel/secrets?labelSelector=owner%3Dhelm")
    assert sorted(s["metadata"]["name"] for s in secrets["items"]) == [
        "sh.helm.release.v1.demo.v1",
        "sh.helm.release.v1.demo.v2",
    ]

    assert "uninstalled" in helm(apiserver, "uninstall", "demo", "-n", "hel")
    assert json.loads(helm(apiserver, "list", "-n", "hel", "-o", "json")) == []
    for path in (
        "/api/v1/namespaces/hel/configmaps/demo-config",
        "/apis/apps/v1/namespaces/hel/deployments/demo",
    ):
        assert http(apiserver, "GET", path)[0] == 404
