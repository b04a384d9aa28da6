"""The API server's address and credentials for the ``keptn`` and ``externalmetrics`` metric providers.

Implements `controller.api.sources.ClusterAccess` from kubernetes_asyncio's `Configuration` (the
one the controller's own client uses), so those providers reach the same API server with the same
identity, as Flagger passes its rest.Config. The token is read per request: in-cluster service account
tokens rotate and kubernetes_asyncio's refresh hook re-reads them.
"""

from __future__ import annotations

import ssl

from kubernetes_asyncio import client as k8s_client

from controller.api.sources import ClusterConnection


class KubeClusterAccess:
    def __init__(self, configuration: k8s_client.Configuration) -> None:
        self._configuration = configuration
        self._ssl_context: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        """As kubernetes_asyncio's REST client builds it: the cluster CA, the client certificate."""
        if self._ssl_context is None:
            context = ssl.create_default_context(cafile=self._configuration.ssl_ca_cert)
            if self._configuration.cert_file:
                context.load_cert_chain(self._configuration.cert_file, keyfile=self._configuration.key_file)
            self._ssl_context = context
        return self._ssl_context

    async def connection(self) -> ClusterConnection:
        headers: dict[str, str] = {}
        for setting in (await self._configuration.auth_settings()).values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[str(setting["key"])] = str(setting["value"])
        host = str(self._configuration.host)
        secure = host.startswith("https://")
        return ClusterConnection(
            host=host,
            headers=headers,
            ssl_context=self._context() if secure else None,
            insecure=secure and not self._configuration.verify_ssl,
        )
