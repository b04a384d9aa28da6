"""The external metrics API (``external.metrics.k8s.io/v1beta1``) with values that tests set.

A real cluster gets this API from an adapter (KEDA, Datadog's cluster agent, prometheus-adapter)
registered through an APIService; the emulator serves it itself so the ``externalmetrics`` metric
provider can run end to end, and :func:`external_metrics_app` is the same API as a standalone adapter
that a real kube-apiserver aggregates. Values live in memory: ``ExternalMetrics.set(namespace, name, value,
labels)``, from any thread (tests set them while the server runs in its own). A metric nobody set lists
as empty, as adapters answer for a name they know nothing about.

    GET /apis/external.metrics.k8s.io/v1beta1                                   APIResourceList
    GET /apis/external.metrics.k8s.io/v1beta1/namespaces/{ns}/{metric}?labelSelector=...
                                                                                ExternalMetricValueList
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from aiohttp import web

from .errors import ApiError
from .selectors import LabelSelector

GROUP_VERSION = "external.metrics.k8s.io/v1beta1"
BASE = f"/apis/{GROUP_VERSION}"


def format_quantity(value: float) -> str:
    """A float as a canonical Kubernetes quantity: ``3``, ``250m``, ``1500m``, ``12n``."""
    if not math.isfinite(value):
        raise ValueError(f"a quantity must be finite, got {value}")
    exact = Decimal(repr(value))
    for suffix, scale in (("", 1), ("m", 1000), ("u", 1_000_000), ("n", 1_000_000_000)):
        scaled = exact * scale
        if scaled == scaled.to_integral_value():
            return f"{int(scaled)}{suffix}"
    return f"{round(exact * 1_000_000_000)}n"


@dataclass
class _Series:
    labels: dict[str, str]
    value: str
    timestamp: str


@dataclass
class ExternalMetrics:
    """The values the API serves: (namespace, metric name) -> series, each with labels."""

    _values: dict[tuple[str, str], list[_Series]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, namespace: str, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        """Set (or replace) the value of the series of ``name`` with exactly these ``labels``."""
        series = _Series(
            dict(labels or {}), format_quantity(value), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        )
        with self._lock:
            kept = [s for s in self._values.get((namespace, name), []) if s.labels != series.labels]
            self._values[(namespace, name)] = [*kept, series]

    def remove(self, namespace: str, name: str) -> None:
        with self._lock:
            self._values.pop((namespace, name), None)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def items(self, namespace: str, name: str, selector: LabelSelector) -> list[dict[str, object]]:
        with self._lock:
            series = list(self._values.get((namespace, name), []))
        return [
            {"metricName": name, "metricLabels": s.labels, "timestamp": s.timestamp, "value": s.value}
            for s in series
            if selector.matches({"metadata": {"labels": s.labels}})
        ]


EXTERNAL_METRICS = web.AppKey("external_metrics", ExternalMetrics)


async def _resources(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": GROUP_VERSION,
            "resources": [
                {
                    "name": "externalmetrics",
                    "singularName": "",
                    "namespaced": True,
                    "kind": "ExternalMetricValueList",
                    "verbs": ["get"],
                }
            ],
        }
    )


async def _list(request: web.Request) -> web.Response:
    selector = LabelSelector.parse(request.query.get("labelSelector"))
    namespace, name = request.match_info["namespace"], request.match_info["metric"]
    if not name:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    items = request.app[EXTERNAL_METRICS].items(namespace, name, selector)
    return web.json_response(
        {"kind": "ExternalMetricValueList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}
    )


def add_external_metrics(app: web.Application, store: ExternalMetrics | None = None) -> None:
    """Register the routes; call before the generic ``/apis/{group}/{version}/...`` routes."""
    app[EXTERNAL_METRICS] = store or ExternalMetrics()
    app.router.add_get(BASE, _resources)
    app.router.add_get(f"{BASE}/namespaces/{{namespace}}/{{metric}}", _list)


async def _group_list(request: web.Request) -> web.Response:
    version = {"groupVersion": GROUP_VERSION, "version": "v1beta1"}
    group = {"name": "external.metrics.k8s.io", "versions": [version], "preferredVersion": version}
    return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]})


@web.middleware
async def _status_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return web.json_response(error.to_status(), status=error.code)


def external_metrics_app(store: ExternalMetrics | None = None) -> web.Application:
    """The API on its own, for a real kube-apiserver to aggregate through an ``APIService`` (serve it
    over HTTPS); ``store`` may be shared with an emulator."""
    app = web.Application(middlewares=[_status_errors])
    add_external_metrics(app, store)
    app.router.add_get("/apis", _group_list)
    return app
