"""Metric analysis: builtin kubernetes-provider queries, MetricTemplates, providers, thresholds.

:class:`MetricAnalysis` implements the ``Metrics`` port of :mod:`controller.rollout.ports`; it reads
MetricTemplates and Secrets through :class:`TemplateSource` / :class:`SecretSource`
(:mod:`controller.api.sources`), which :mod:`controller.kube.sources` implements from the watch caches.
"""

from controller.analysis.builtin import BUILTIN_METRIC_NAMES, builtin_query
from controller.analysis.checks import DEFAULT_METRICS_SERVER, MetricAnalysis, template_model
from controller.analysis.providers import MetricsProvider, PrometheusProvider, build_provider
from controller.analysis.template import TemplateModel, TemplateRenderError, render_query
from controller.api.sources import SecretSource, TemplateSource

__all__ = [
    "BUILTIN_METRIC_NAMES",
    "DEFAULT_METRICS_SERVER",
    "MetricAnalysis",
    "MetricsProvider",
    "PrometheusProvider",
    "SecretSource",
    "TemplateModel",
    "TemplateRenderError",
    "TemplateSource",
    "build_provider",
    "builtin_query",
    "render_query",
    "template_model",
]
