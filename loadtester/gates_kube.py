"""A gate store in a Kubernetes ConfigMap, so several load tester replicas see the same gates
(Flagger keeps gates in process memory: fluxcd/flagger#445).

One data key per gate, written with a JSON merge patch, so replicas never overwrite each other's keys
and no read-modify-write race exists. Gate keys that are not valid ConfigMap keys (names and namespaces
come from the request body) are stored as `b64.<urlsafe base64>`. Unlike the in-memory store, a check of
an unknown gate writes nothing: a check is a read.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from loadtester.gates import GateStoreError

_VALID_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_MERGE_PATCH = "application/merge-patch+json"


def configmap_key(gate_key: str) -> str:
    if _VALID_KEY.match(gate_key) and not gate_key.startswith("b64."):
        return gate_key
    return "b64." + base64.urlsafe_b64encode(gate_key.encode()).decode().rstrip("=")


class ConfigMapGateStore:
    def __init__(self, namespace: str, name: str, api_client: Any = None) -> None:
        self.namespace = namespace
        self.name = name
        self._api_client = api_client

    @classmethod
    def from_reference(cls, reference: str) -> ConfigMapGateStore:
        """`<namespace>/<name>` from `--gates-configmap`."""
        namespace, _, name = reference.partition("/")
        return cls(namespace, name)

    async def _api(self) -> Any:
        if self._api_client is None:
            configuration = client.Configuration()
            try:
                if os.environ.get("KUBERNETES_SERVICE_HOST"):
                    config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                else:
                    # KUBECONFIG is read now, not when kubernetes_asyncio was imported.
                    await config.load_kube_config(
                        config_file=os.environ.get("KUBECONFIG"), client_configuration=configuration
                    )
            except (ConfigException, OSError, ValueError) as error:
                raise GateStoreError(f"no Kubernetes credentials: {error}") from None
            self._api_client = client.ApiClient(configuration)
        return client.CoreV1Api(self._api_client)

    async def is_open(self, key: str) -> bool:
        api = await self._api()
        try:
            configmap = await api.read_namespaced_config_map(self.name, self.namespace)
        except ApiException as error:
            if error.status == 404:
                return False
            message = f"reading configmap {self.namespace}/{self.name}: {error.status} {error.reason}"
            raise GateStoreError(message) from None
        except OSError as error:
            raise GateStoreError(f"reading configmap {self.namespace}/{self.name}: {error}") from None
        return bool((configmap.data or {}).get(configmap_key(key)) == "true")

    async def set_open(self, key: str, is_open: bool) -> None:
        api = await self._api()
        data = {configmap_key(key): "true" if is_open else "false"}
        try:
            try:
                await api.patch_namespaced_config_map(
                    self.name, self.namespace, {"data": data}, _content_type=_MERGE_PATCH
                )
            except ApiException as error:
                if error.status != 404:
                    raise
                body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=self.name), data=data)
                try:
                    await api.create_namespaced_config_map(self.namespace, body)
                except ApiException as create_error:
                    if create_error.status != 409:  # another replica created it first: patch it
                        raise
                    await api.patch_namespaced_config_map(
                        self.name, self.namespace, {"data": data}, _content_type=_MERGE_PATCH
                    )
        except ApiException as error:
            raise GateStoreError(
                f"writing configmap {self.namespace}/{self.name}: {error.status} {error.reason}"
            ) from None
        except OSError as error:
            raise GateStoreError(f"writing configmap {self.namespace}/{self.name}: {error}") from None

    async def close(self) -> None:
        if self._api_client is not None:
            await self._api_client.close()
