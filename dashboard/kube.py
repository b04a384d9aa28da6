"""Reading the cluster with the user's kubeconfig (kubernetes_asyncio), so the user's permissions apply."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from dashboard.history import CONFIGMAP_PREFIX, DOCUMENT_KEY, History, HistoryFormatError, parse_history


class ClusterError(Exception):
    """The cluster could not answer what was asked; the text says what and why."""


@dataclass(frozen=True)
class Connection:
    kubeconfig: str | None = None
    context: str | None = None


def default_namespace(connection: Connection) -> str:
    """The namespace of the kubeconfig's context, as kubectl uses it (``default`` when none)."""
    try:
        contexts, active = config.list_kube_config_contexts(config_file=connection.kubeconfig)
    except (config.ConfigException, OSError) as error:
        raise ClusterError(f"cannot read the kubeconfig: {error}") from error
    chosen = (
        next((c for c in contexts if c["name"] == connection.context), active)
        if connection.context
        else active
    )
    return str(((chosen or {}).get("context") or {}).get("namespace") or "default")


async def api_client(connection: Connection) -> client.ApiClient:
    try:
        return await config.new_client_from_config(
            config_file=connection.kubeconfig, context=connection.context
        )
    except (config.ConfigException, OSError) as error:
        raise ClusterError(f"cannot read the kubeconfig: {error}") from error


def history_configmap_name(canary: str) -> str:
    return CONFIGMAP_PREFIX + canary


def _explain(error: ApiException, what: str) -> ClusterError:
    if error.status == 404:
        return ClusterError(f"{what} not found")
    if error.status in (401, 403):
        return ClusterError(f"{what}: not allowed with this kubeconfig ({error.status} {error.reason})")
    return ClusterError(f"{what}: {error.status} {error.reason}")


async def read_history(api: client.ApiClient, namespace: str, name: str) -> History:
    """The analysis history of Canary ``name`` from its ConfigMap."""
    configmap_name = history_configmap_name(name)
    try:
        configmap: Any = await client.CoreV1Api(api).read_namespaced_config_map(configmap_name, namespace)
    except ApiException as error:
        if error.status == 404:
            raise ClusterError(
                f"canary {name}.{namespace} has no analysis history (configmap {configmap_name} not found):"
                " has it started an analysis since the controller runs with -analysis-history-runs > 0?"
            ) from error
        raise _explain(error, f"configmap {configmap_name}.{namespace}") from error
    text = (configmap.data or {}).get(DOCUMENT_KEY)
    if not text:
        raise ClusterError(f"configmap {configmap_name}.{namespace} has no {DOCUMENT_KEY}")
    try:
        return parse_history(json.loads(text))
    except (ValueError, HistoryFormatError) as error:
        raise ClusterError(f"configmap {configmap_name}.{namespace}: {error}") from error
