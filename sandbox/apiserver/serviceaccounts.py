"""What kube-controller-manager and the ServiceAccount admission plugin do for every namespace and pod.

A real cluster refuses a Pod whose ServiceAccount does not exist (403, "error looking up service account"),
and its controller-manager gives each new namespace a ``default`` ServiceAccount and the ``kube-root-ca.crt``
ConfigMap within a second. The emulator has no controller-manager, so it does both the moment the namespace
is created: pods in a fresh namespace work at once (on a real cluster they do after that second), and a pod
naming a missing account is refused as on a real one. Deleting ``default`` is not undone, unlike the real
controller. ``kube-root-ca.crt`` carries an empty ``ca.crt``: the emulator serves plain HTTP, without a CA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError

if TYPE_CHECKING:
    from .cluster import Cluster, WriteOptions

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such "
    "as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions "
    "of Kubernetes clusters."
)
CONTROLLER_MANAGER = "kube-controller-manager"


def populate_namespace(cluster: Cluster, namespace: str, options: WriteOptions) -> None:
    """The serviceaccount and root-ca-cert-publisher controllers' objects in a new namespace."""
    from dataclasses import replace

    own = replace(options, manager=CONTROLLER_MANAGER, dry_run=False, warnings=[])
    accounts = cluster.registry.lookup("", "v1", "serviceaccounts")
    if cluster.find(accounts, namespace, "default") is None:
        cluster.create(accounts, namespace, {"metadata": {"name": "default"}}, own)
    configmaps = cluster.registry.lookup("", "v1", "configmaps")
    if cluster.find(configmaps, namespace, ROOT_CA_CONFIGMAP) is None:
        body = {
            "metadata": {
                "name": ROOT_CA_CONFIGMAP,
                "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION},
            },
            "data": {"ca.crt": ""},
        }
        cluster.create(configmaps, namespace, body, own)


def admit_pod(cluster: Cluster, pod: dict[str, Any]) -> None:
    """The ServiceAccount admission plugin: a pod's account must exist (its name is defaulted before)."""
    meta = pod.get("metadata") or {}
    namespace = str(meta.get("namespace", ""))
    account = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
    accounts = cluster.registry.lookup("", "v1", "serviceaccounts")
    if cluster.find(accounts, namespace, account) is None:
        name = str(meta.get("name", ""))
        raise ApiError(
            403,
            "Forbidden",
            f'pods "{name}" is forbidden: error looking up service account {namespace}/{account}: '
            f'serviceaccount "{account}" not found',
            {"name": name, "kind": "pods"},
        )
