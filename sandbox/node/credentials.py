"""In-cluster configuration for pods on the node, as a kubelet gives it.

Each pod gets a bound service-account token from the TokenRequest API (for the pod, by uid, as a projected
token volume gets it), the cluster CA as `ca.crt` and its namespace, bind-mounted at
/var/run/secrets/kubernetes.io/serviceaccount, and `KUBERNETES_SERVICE_HOST`/`_PORT` naming the `kubernetes`
Service's ClusterIP, which the agent's proxy forwards to the API server. In-cluster loaders (client-go,
kubernetes_asyncio, kopf, kubectl) then work unchanged. A resolv.conf with the cluster's search path and a
nameserver nobody serves (127.0.0.1 in the pod's own namespace) makes names outside the hosts file fail at
once instead of waiting for a DNS server the node cannot reach.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sandbox.runtime.hostsfile import CLUSTER_DOMAIN
from sandbox.runtime.kube import Kube, Obj
from sandbox.runtime.podhost import Mounts
from sandbox.runtime.serviceaccount import service_account_name

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: A projected token's default lifetime (the kubelet asks for 1 h + 7 s); renewed at 80% of it.
TOKEN_SECONDS = 3607
REFRESH_AFTER_SECONDS = 0.8 * TOKEN_SECONDS


def resolv_conf(namespace: str) -> str:
    search = f"{namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}"
    return f"nameserver 127.0.0.1\nsearch {search}\noptions ndots:5\n"


def token_request(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {
            "expirationSeconds": TOKEN_SECONDS,
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]},
        },
    }


def mounts_token(pod: Obj) -> bool:
    return (pod.get("spec") or {}).get("automountServiceAccountToken") is not False


def ensure_mount_point() -> None:
    """The bind mount's target must exist; /var/run is a tmpfs, so this empty directory does not last."""
    Path(SERVICE_ACCOUNT_DIR).mkdir(parents=True, exist_ok=True)


@dataclass(frozen=True)
class InClusterCredentials:
    kube: Kube
    ca_file: Path
    #: The `kubernetes` Service's ClusterIP and port.
    service_host: str
    service_port: int = 443

    def env(self) -> dict[str, str]:
        host, port = self.service_host, str(self.service_port)
        return {
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
            "KUBERNETES_PORT": f"tcp://{host}:{port}",
            "KUBERNETES_PORT_443_TCP": f"tcp://{host}:{port}",
            "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
            "KUBERNETES_PORT_443_TCP_ADDR": host,
            "KUBERNETES_PORT_443_TCP_PORT": port,
        }

    async def prepare(self, pod: Obj, pod_dir: Path) -> tuple[dict[str, str], Mounts]:
        namespace = str(pod["metadata"].get("namespace") or "default")
        token = await self.request_token(pod) if mounts_token(pod) else None
        return self.env(), self.write_files(pod_dir, namespace, token)

    async def request_token(self, pod: Obj) -> str:
        namespace = str(pod["metadata"].get("namespace") or "default")
        path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account_name(pod)}/token"
        answer = await self.kube.request("POST", path, body=token_request(pod))
        return str(answer["status"]["token"])

    async def refresh(self, pod: Obj, pod_dir: Path) -> bool:
        """A new token in place of the old one (the kubelet renews projected tokens at 80% of their
        life); written by rename, so a reader sees the old token or the new one, whole."""
        token_file = pod_dir / "serviceaccount" / "token"
        if not mounts_token(pod) or not token_file.exists():
            return False
        fresh = token_file.with_name(".token.new")
        fresh.write_text(await self.request_token(pod))
        fresh.replace(token_file)
        return True

    def write_files(self, pod_dir: Path, namespace: str, token: str | None) -> Mounts:
        pod_dir.mkdir(parents=True, exist_ok=True)
        resolv = pod_dir / "resolv.conf"
        resolv.write_text(resolv_conf(namespace))
        mounts: list[tuple[Path, str]] = [(resolv, "/etc/resolv.conf")]
        if token is not None:
            directory = pod_dir / "serviceaccount"
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "token").write_text(token)
            (directory / "namespace").write_text(namespace)
            shutil.copyfile(self.ca_file, directory / "ca.crt")
            mounts.append((directory, SERVICE_ACCOUNT_DIR))
        return tuple(mounts)
