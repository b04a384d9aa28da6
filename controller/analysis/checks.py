"""The metric checks of one analysis tick: the ``Metrics`` port of the state machine.

Order and wording follow Flagger (spec 5.2-5.6): a builtin pass over every metric
(``request-success-rate``, ``request-duration``, inline ``query``) stopping at the first failure,
then a template pass over every metric with ``templateRef``; a metric with none of these fails.
Every failure (threshold, query error, no data) fails the tick with one event that says why.

Deliberate differences, recorded in docs/compatibility.md: ``{{ interval }}`` renders ``1m`` for
template and inline metrics without an interval (Flagger renders an empty string, breaking the
query); an inline query that does not render fails with the render error instead of sending a
half-rendered query; the availability probe of builtin metrics uses the canary's ``metricsServer``.
"""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from controller.analysis.builtin import (
    BUILTIN_METRIC_NAMES,
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    builtin_query,
    duration_seconds_to_millis,
)
from controller.analysis.providers.base import MetricsProvider
from controller.analysis.providers.kubernetes import ClusterAccess
from controller.analysis.providers.prometheus import (
    PROMETHEUS_QUERY_TIMEOUT_SECONDS,
    PrometheusConfig,
    PrometheusProvider,
)
from controller.analysis.providers.registry import build_provider
from controller.analysis.template import DEFAULT_METRIC_INTERVAL, TemplateModel, render_query
from controller.analysis.thresholds import custom_metric_halt, duration_halt, success_rate_halt
from controller.api.canary import Canary, Metric
from controller.api.sources import SecretSource, TemplateSource
from controller.api.templates import MetricTemplate
from controller.errors import AnalysisError, FlagmanError, NoValuesError
from controller.rollout.ports import AnalysisResult, Event

DEFAULT_METRICS_SERVER = "http://prometheus:9090"
_BUILTIN_PROVIDERS_KEPT = 256  # one per distinct metrics server; they hold parsed URLs and headers


def template_model(canary: Canary, metric: Metric) -> TemplateModel:
    """Flagger's ``toMetricModel``; the interval defaults to ``1m`` for every kind of metric."""
    spec = canary.spec
    target = spec.target_ref.name
    return TemplateModel(
        name=canary.name,
        namespace=canary.namespace,
        target=target,
        service=spec.service.name or target,
        ingress=spec.ingress_ref.name if spec.ingress_ref is not None else target,
        route=spec.route_ref.name if spec.route_ref is not None else target,
        interval=metric.interval or DEFAULT_METRIC_INTERVAL,
        variables=dict(metric.template_variables),
    )


class _Failed(Exception):
    """Internal: one check failed; carries the event that explains it."""

    def __init__(self, event: Event) -> None:
        super().__init__(event.message)
        self.event = event


class MetricAnalysis:
    """Runs a canary's metric checks against its providers; implements ``rollout.ports.Metrics``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        templates: TemplateSource,
        secrets: SecretSource,
        *,
        metrics_server: str = DEFAULT_METRICS_SERVER,
        mesh_provider: str = "kubernetes",
        query_timeout_seconds: float = PROMETHEUS_QUERY_TIMEOUT_SECONDS,
        cluster: ClusterAccess | None = None,
    ) -> None:
        self._session = session
        self._templates = templates
        self._secrets = secrets
        self._metrics_server = metrics_server
        self._mesh_provider = mesh_provider
        self._timeout = query_timeout_seconds
        self._cluster = cluster  # the API server, for the keptn and externalmetrics providers
        self._builtin_providers: dict[str, PrometheusProvider] = {}

    # -- providers -------------------------------------------------------------------------------

    def _builtin_provider(self, canary: Canary) -> MetricsProvider:
        """The Prometheus behind builtin and inline-query metrics: ``spec.metricsServer`` or the flag.
        Kept per address, so its query URLs are built once, not on every tick."""
        address = canary.spec.metrics_server or self._metrics_server
        provider = self._builtin_providers.get(address)
        if provider is None:
            config = PrometheusConfig(address=address, timeout_seconds=self._timeout)
            provider = PrometheusProvider(config, self._session)  # raises on a bad address: not kept
            if len(self._builtin_providers) >= _BUILTIN_PROVIDERS_KEPT:
                self._builtin_providers.clear()
            self._builtin_providers[address] = provider
        return provider

    def _metrics_provider_name(self, canary: Canary) -> str:
        if "linkerd" in self._mesh_provider:
            return "linkerd"
        return canary.spec.provider or self._mesh_provider

    @staticmethod
    def _template_location(canary: Canary, metric: Metric) -> tuple[str, str]:
        assert metric.template_ref is not None
        return metric.template_ref.namespace or canary.namespace, metric.template_ref.name

    async def _template_provider(
        self, template: MetricTemplate, namespace: str, name: str, metric: Metric, *, for_probe: bool
    ) -> MetricsProvider:
        """The template's provider with its secret; failures raise AnalysisError in Flagger's words."""
        secret_data: Mapping[str, str] | None = None
        lead = "metric template" if for_probe else "Metric template"
        if template.provider.secret_name:
            try:
                secret_data = await self._secrets.get_secret(namespace, template.provider.secret_name)
            except FlagmanError as error:
                raise AnalysisError(
                    f"{lead} {name}.{namespace} secret {template.provider.secret_name} error: {error}"
                ) from error
        try:
            return build_provider(
                template.provider,
                secret_data,
                self._session,
                timeout_seconds=self._timeout,
                interval=metric.interval,
                cluster=self._cluster,
            )
        except FlagmanError as error:
            raise AnalysisError(
                f"{lead} {name}.{namespace} provider {template.provider.type} error: {error}"
            ) from error

    async def _get_template(self, namespace: str, name: str, *, lead: str) -> MetricTemplate:
        try:
            return await self._templates.get_template(namespace, name)
        except FlagmanError as error:
            raise AnalysisError(f"{lead} {name}.{namespace} error: {error}") from error

    # -- availability (tick step 5) ----------------------------------------------------------------

    async def check_providers(self, canary: Canary) -> None:
        """Probe every provider the canary's metrics use with ``vector(1)``; raise on the first failure."""
        probed_builtin = False
        for metric in canary.analysis.metrics:
            if metric.name in BUILTIN_METRIC_NAMES:
                if probed_builtin:
                    continue
                probed_builtin = True
                try:
                    await self._builtin_provider(canary).check_online()
                except FlagmanError as error:
                    raise AnalysisError(f"prometheus not available: {error}") from error
                continue
            if metric.template_ref is None:
                continue
            namespace, name = self._template_location(canary, metric)
            template = await self._get_template(namespace, name, lead="metric template")
            provider = await self._template_provider(template, namespace, name, metric, for_probe=True)
            try:
                await provider.check_online()
            except FlagmanError as error:
                raise AnalysisError(
                    f"{template.provider.type} in metric template {name}.{namespace} not available: {error}"
                ) from error

    # -- checks (tick step 24) -----------------------------------------------------------------------

    async def run_checks(self, canary: Canary) -> AnalysisResult:
        values: dict[str, float] = {}
        try:
            await self._builtin_pass(canary, values)
            await self._template_pass(canary, values)
        except _Failed as failure:
            return AnalysisResult(passed=False, events=(failure.event,), values=values)
        return AnalysisResult(passed=True, values=values)

    async def _builtin_pass(self, canary: Canary, values: dict[str, float]) -> None:
        provider: MetricsProvider | None = None
        provider_name = self._metrics_provider_name(canary)
        for metric in canary.analysis.metrics:
            is_builtin = metric.name in BUILTIN_METRIC_NAMES
            if not is_builtin and not metric.query:
                continue
            if provider is None:
                try:
                    provider = self._builtin_provider(canary)
                except FlagmanError as error:
                    raise _Failed(Event.error(f"Prometheus query failed: {error}")) from error
            model = template_model(canary, metric)
            if metric.name == REQUEST_SUCCESS_RATE:
                value = await self._builtin_value(canary, provider, provider_name, metric, model, suffix=True)
                values[metric.name] = value
                self._halt_if(success_rate_halt(canary.key, value, metric))
            elif metric.name == REQUEST_DURATION:
                seconds = await self._builtin_value(
                    canary, provider, provider_name, metric, model, suffix=False
                )
                millis = duration_seconds_to_millis(seconds)
                values[metric.name] = millis / 1000
                self._halt_if(duration_halt(canary.key, millis, metric))
            if metric.query:
                value = await self._inline_value(provider, metric, model)
                values[metric.name] = value
                self._halt_if(custom_metric_halt(canary.key, value, metric))

    async def _builtin_value(
        self,
        canary: Canary,
        provider: MetricsProvider,
        provider_name: str,
        metric: Metric,
        model: TemplateModel,
        *,
        suffix: bool,
    ) -> float:
        try:
            return await provider.run_query(builtin_query(metric.name, model))
        except NoValuesError as error:
            message = (
                f"Halt advancement no values found for {provider_name} metric {metric.name} "
                f"probably {canary.target_key} is not receiving traffic"
            )
            raise _Failed(Event.warning(f"{message}: {error}" if suffix else message)) from error
        except FlagmanError as error:
            raise _Failed(Event.error(f"Prometheus query failed: {error}")) from error

    async def _inline_value(self, provider: MetricsProvider, metric: Metric, model: TemplateModel) -> float:
        try:
            query = render_query(metric.query, model)
        except FlagmanError as error:
            raise _Failed(Event.error(f"Metric {metric.name} query render error: {error}")) from error
        try:
            return await provider.run_query(query)
        except NoValuesError as error:
            raise _Failed(
                Event.warning(f"Halt advancement no values found for metric: {metric.name}")
            ) from error
        except FlagmanError as error:
            raise _Failed(Event.error(f"Prometheus query failed for {metric.name}: {error}")) from error

    async def _template_pass(self, canary: Canary, values: dict[str, float]) -> None:
        for metric in canary.analysis.metrics:
            if metric.template_ref is None:
                if metric.name not in BUILTIN_METRIC_NAMES and not metric.query:
                    raise _Failed(
                        Event.error(
                            "Metric query failed for no usable metrics template and query were configured"
                        )
                    )
                continue
            namespace, name = self._template_location(canary, metric)
            try:
                template = await self._get_template(namespace, name, lead="Metric template")
                provider = await self._template_provider(template, namespace, name, metric, for_probe=False)
            except AnalysisError as error:
                raise _Failed(Event.error(str(error))) from error
            try:
                query = render_query(template.query, template_model(canary, metric))
            except FlagmanError as error:
                raise _Failed(
                    Event.error(f"Metric template {name}.{namespace} query render error: {error}")
                ) from error
            try:
                value = await provider.run_query(query)
            except NoValuesError as error:
                raise _Failed(
                    Event.warning(
                        f"Halt advancement no values found for custom metric: {metric.name}: {error}"
                    )
                ) from error
            except FlagmanError as error:
                raise _Failed(Event.error(f"Metric query failed for {metric.name}: {error}")) from error
            values[metric.name] = value
            self._halt_if(custom_metric_halt(canary.key, value, metric))

    @staticmethod
    def _halt_if(message: str | None) -> None:
        if message is not None:
            raise _Failed(Event.warning(message))
