"""Flagger's builtin metrics for the ``kubernetes`` provider (its "HTTP observer").

The query texts are Flagger's (``pkg/metrics/observers/http.go``), kept multi-line for reading; after
rendering, whitespace runs collapse to one space, which yields exactly the strings Flagger sends,
leading space included. The pod regex matches ``{target}-<replicaset>-<pod>`` only, so the primary's
pods (``{target}-primary-...``) never count.
"""

from __future__ import annotations

import functools
import math

from controller.analysis.template import TemplateModel, collapse_whitespace, render_query

REQUEST_SUCCESS_RATE = "request-success-rate"
REQUEST_DURATION = "request-duration"
BUILTIN_METRIC_NAMES = frozenset({REQUEST_SUCCESS_RATE, REQUEST_DURATION})

_SUCCESS_RATE_TEMPLATE = """
    sum(
        rate(
            http_request_duration_seconds_count{
                kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
                status!~"5.*"
            }[{{ interval }}]
        )
    )
    /
    sum(
        rate(
            http_request_duration_seconds_count{
                kubernetes_namespace="{{ namespace }}",
                kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
            }[{{ interval }}]
        )
    )
    * 100"""

_DURATION_TEMPLATE = """
    histogram_quantile(
        0.99,
        sum(
            rate(
                http_request_duration_seconds_bucket{
                    kubernetes_namespace="{{ namespace }}",
                    kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
                }[{{ interval }}]
            )
        ) by (le)
    )"""

_TEMPLATES = {REQUEST_SUCCESS_RATE: _SUCCESS_RATE_TEMPLATE, REQUEST_DURATION: _DURATION_TEMPLATE}


def builtin_query(metric_name: str, model: TemplateModel) -> str:
    """The exact PromQL Flagger sends for a builtin metric (``KeyError`` for other names).

    Rendered once per canary and interval: the builtin templates read only the model's plain fields
    (never ``variables``), and a steady tick would otherwise render both queries again every time."""
    plain = (
        model.name,
        model.namespace,
        model.target,
        model.service,
        model.ingress,
        model.route,
        model.interval,
    )
    return _rendered(metric_name, plain)


@functools.lru_cache(maxsize=4096)
def _rendered(metric_name: str, plain: tuple[str, str, str, str, str, str, str]) -> str:
    return collapse_whitespace(render_query(_TEMPLATES[metric_name], TemplateModel(*plain)))


_MAX_DURATION_MILLIS = ((1 << 63) - 1) // 1_000_000
_MIN_DURATION_MILLIS = -(1 << 63) // 1_000_000


def duration_seconds_to_millis(value: float) -> int:
    """Flagger's conversion of the P99 seconds to a duration: ``int64(value*1000)`` milliseconds.

    Clamped to the range of a Go ``time.Duration``: ``histogram_quantile`` answers ``+Inf`` when the
    P99 lies beyond the largest bucket, which Go's conversion turns into a negative duration that
    passes every ``max``; here it stays the largest duration and fails it.
    """
    if math.isinf(value):
        return _MAX_DURATION_MILLIS if value > 0 else _MIN_DURATION_MILLIS
    return max(_MIN_DURATION_MILLIS, min(_MAX_DURATION_MILLIS, int(value * 1000)))
