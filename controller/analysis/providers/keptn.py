"""Keptn metrics (``metrics.keptn.sh/v1beta1``), as Flagger's keptn.go.

The query is ``<keptnmetric|analysis>/<namespace>/<name>[/<duration>[/<key=value;...>]]``.

- ``keptnmetric``: the KeptnMetric's ``status.value`` (a decimal string) is the value.
- ``analysis``: an ``Analysis`` of the named AnalysisDefinition over the last ``duration`` (default
  ``1m``) is created with the arguments, polled until ``status.state`` is ``Completed``, and deleted;
  the value is 1 when ``status.pass`` is true, else 0 (so a threshold ``min: 1`` requires a pass).
  Flagger gives Keptn 10 s.

Differences (docs/compatibility.md): argument values and the duration keep their case (Flagger lowercases
the whole query); a KeptnMetric without a value yet is "no values"; the probe checks that the Keptn
metrics API is served (Flagger's always succeeds); the Analysis is polled every 0.5 s instead of 1 s.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field

from controller.analysis.providers.base import ProviderConfigError, ProviderContext, QueryError
from controller.analysis.providers.kubernetes import ClusterAccess, request_json
from controller.errors import AnalysisError, NoValuesError

log = logging.getLogger(__name__)

GROUP_VERSION = "metrics.keptn.sh/v1beta1"
API_PATH = f"/apis/{GROUP_VERSION}"
ANALYSIS_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.5
QUERY_FORMAT = "<keptnmetric|analysis>/<namespace>/<resourceName>/<duration>/<arguments>"


@dataclass(frozen=True)
class KeptnQuery:
    resource: str  # keptnmetrics | analyses
    namespace: str
    name: str
    duration: str = "1m"
    arguments: dict[str, str] = field(default_factory=dict)


def parse_query(query: str) -> KeptnQuery:
    parts = query.strip().split("/")
    if len(parts) < 3:
        raise QueryError(f"unexpected query format. query must be in the format {QUERY_FORMAT}")
    kind = parts[0].lower()
    namespace, name = parts[1].lower(), parts[2].lower()
    if kind in ("keptnmetric", "keptnmetrics"):
        return KeptnQuery("keptnmetrics", namespace, name)
    if kind in ("analysis", "analyses"):
        duration = parts[3] if len(parts) >= 4 else "1m"
        arguments: dict[str, str] = {}
        if len(parts) >= 5:
            for pair in parts[4].split(";"):
                key_value = pair.split("=")
                if len(key_value) == 2:
                    arguments[key_value[0]] = key_value[1]
        return KeptnQuery("analyses", namespace, name, duration, arguments)
    raise QueryError(
        "unexpected resource kind provided in the query. must be one of: ['keptnmetric', 'analysis']"
    )


class KeptnProvider:
    provider_type = "keptn"

    def __init__(self, context: ProviderContext) -> None:
        if context.cluster is None:
            raise ProviderConfigError("could not initialize KeptnProvider: no KubeConfig provided")
        self._cluster: ClusterAccess = context.cluster
        self._context = context

    async def run_query(self, query: str) -> float:
        parsed = parse_query(query)
        if parsed.resource == "keptnmetrics":
            return await self._metric(parsed)
        return await self._analysis(parsed)

    async def _metric(self, query: KeptnQuery) -> float:
        where = f"{query.namespace}/{query.name}"
        try:
            metric = await request_json(
                self._context.session,
                await self._cluster.connection(),
                "GET",
                f"{API_PATH}/namespaces/{query.namespace}/keptnmetrics/{query.name}",
                timeout_seconds=self._context.timeout_seconds,
            )
        except QueryError as error:
            raise QueryError(f"could not retrieve KeptnMetric {where}: {error}") from error
        status = metric.get("status")
        value = status.get("value") if isinstance(status, dict) else None
        if not isinstance(value, str) or not value:
            raise NoValuesError(f"could not retrieve KeptnMetric - no value found in resource {where}")
        try:
            return float(value)
        except ValueError as error:
            raise QueryError(f"could not parse value of KeptnMetric {where} to float: {value!r}") from error

    async def _analysis(self, query: KeptnQuery) -> float:
        where = f"{query.namespace}/{query.name}"
        collection = f"{API_PATH}/namespaces/{query.namespace}/analyses"
        generated_name = f"{query.name}-{secrets.token_hex(3)}"
        body = {
            "apiVersion": GROUP_VERSION,
            "kind": "Analysis",
            "metadata": {"name": generated_name, "namespace": query.namespace},
            "spec": {
                "analysisDefinition": {"name": query.name},
                "timeframe": {"recent": query.duration},
                "args": query.arguments,
            },
        }
        session, timeout = self._context.session, self._context.timeout_seconds
        try:
            connection = await self._cluster.connection()
            created = await request_json(
                session, connection, "POST", collection, body=body, timeout_seconds=timeout
            )
        except QueryError as error:
            raise QueryError(f"could not create Keptn Analysis {where}: {error}") from error
        name = str((created.get("metadata") or {}).get("name") or generated_name)
        try:
            async with asyncio.timeout(ANALYSIS_TIMEOUT_SECONDS):
                while True:
                    await asyncio.sleep(POLL_SECONDS)
                    try:
                        current = await request_json(
                            session, await self._cluster.connection(), "GET", f"{collection}/{name}",
                            timeout_seconds=timeout,
                        )  # fmt: skip
                    except QueryError as error:
                        raise QueryError(
                            f"could not check status of created Keptn Analysis {where}: {error}"
                        ) from error
                    status = current.get("status") if isinstance(current.get("status"), dict) else {}
                    assert isinstance(status, dict)
                    if status.get("state") == "Completed" and isinstance(status.get("pass"), bool):
                        return 1.0 if status["pass"] else 0.0
        except TimeoutError as error:
            raise QueryError(
                f"encountered timeout while waiting for Keptn Analysis {where} to be finished"
            ) from error
        finally:
            try:
                await request_json(
                    session, await self._cluster.connection(), "DELETE", f"{collection}/{name}",
                    timeout_seconds=timeout,
                )  # fmt: skip
            except QueryError as error:
                log.error("could not delete Keptn Analysis %s/%s: %s", query.namespace, name, error)

    async def check_online(self) -> None:
        try:
            await request_json(
                self._context.session,
                await self._cluster.connection(),
                "GET",
                API_PATH,
                timeout_seconds=self._context.timeout_seconds,
            )
        except QueryError as error:
            raise AnalysisError(f"the Keptn metrics API {GROUP_VERSION} is not served: {error}") from error


def build(context: ProviderContext) -> KeptnProvider:
    return KeptnProvider(context)
