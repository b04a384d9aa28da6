"""API access for pod processes: the sandbox's stand-in for a pod's service-account token mount.

A kubelet gives a pod `KUBERNETES_SERVICE_HOST`/`_PORT` and /var/run/secrets/kubernetes.io/serviceaccount
(token, ca.crt, namespace). In-cluster loaders (kubernetes_asyncio, client-go, kopf through the
controller) then insist on HTTPS at that address and on those fixed paths, while the sandbox API server
speaks plain HTTP. So the runtime writes the same files to a per-pod directory and points `KUBECONFIG` at a
kubeconfig there that names the API server and carries the pod's service-account token; every loader falls
back to `KUBECONFIG` when it is not in a cluster. `KUBERNETES_SERVICE_HOST` is deliberately *not* set:
programs that see it (the load tester's ConfigMap gate store, client-go) would switch to in-cluster HTTPS
and fail. The API server does not authenticate; the token names the pod's service account for its logs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from sandbox.runtime.kube import Obj


def service_account_name(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def kubeconfig_for(api_url: str, namespace: str, account: str, token: str) -> str:
    user = f"system:serviceaccount:{namespace}:{account}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": api_url}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": "in-pod", "context": {"cluster": "sandbox", "user": user, "namespace": namespace}}
        ],
        "current-context": "in-pod",
    }
    return yaml.safe_dump(config, sort_keys=False)


def service_account_env(pod: Obj, pod_dir: Path, api_url: str) -> dict[str, str]:
    """Write the pod's service-account files under `pod_dir` and return the environment that uses them."""
    meta = pod["metadata"]
    namespace = str(meta.get("namespace") or "default")
    account = service_account_name(pod)
    token = f"sandbox:{namespace}:{account}:{meta.get('uid', meta['name'])}"
    directory = pod_dir / "serviceaccount"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(token)
    (directory / "namespace").write_text(namespace)
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(kubeconfig_for(api_url, namespace, account, token))
    return {"KUBECONFIG": str(kubeconfig)}
