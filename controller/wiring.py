"""The composition root: builds every adapter once, hands them to the tick (`Ports`) and the scheduler,
and takes them down in order (Flagger's `controller.go` `NewController`).

Start order: the Kubernetes client, the /healthz /readyz /metrics server, the watch caches (listed
before anything else runs, so a missing CRD fails the start loudly, as in Flagger; an API server that
cannot answer yet, e.g. 429 while a new CRD's storage initializes, is waited for with client-go's
back-off, and /healthz says so), then the HTTP session and the adapters on top of it. `stop` reverses
it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from controller import gcpolicy
from controller.alerts import AlertSettings, AlertSources, build_alert_sender
from controller.analysis.checks import MetricAnalysis
from controller.errors import KubeError, NotFoundError
from controller.kube.api import CANARIES, KubeApi
from controller.kube.backoff import Backoff
from controller.kube.cluster import Cluster
from controller.kube.cluster_access import KubeClusterAccess
from controller.kube.history import KubeHistoryStore
from controller.kube.previous import KubePreviousVersions
from controller.kube.recorder import KubeRecorder
from controller.kube.router import KubeRouter
from controller.kube.sources import CachedSecrets, CachedTemplates, KubeAlertProviders
from controller.kube.status import KubeStatusStore
from controller.kube.workloads import KubeWorkloads, WorkloadOptions
from controller.rollout.history import HistoryBook, with_history
from controller.rollout.ports import Ports
from controller.rollout.tick import RolloutSettings
from controller.scheduler import Scheduler
from controller.settings import Settings
from controller.telemetry import VERSION, CanaryTelemetry, ControllerMetrics, Health, TelemetryServer
from controller.webhooks import WebhookClient

EVENT_FLUSH_SECONDS = 5.0


class SystemClock:
    """The real clock (the `Clock` port)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class Controller:
    """Everything the operator runs with; built once by `Controller.start`."""

    settings: Settings
    api: KubeApi
    cluster: Cluster
    session: aiohttp.ClientSession
    recorder: KubeRecorder
    metrics: ControllerMetrics
    health: Health
    server: TelemetryServer
    scheduler: Scheduler
    history: HistoryBook | None = None

    @classmethod
    async def start(
        cls, settings: Settings, *, watch_timeout_seconds: int = 300, backoff: Backoff | None = None
    ) -> Controller:
        """Build and start everything; the health server first, so that /healthz can say what the
        start waits for while the API server cannot answer yet (`backoff` between list attempts)."""
        api = await KubeApi.connect(
            settings.kubeconfig, settings.master, qps=settings.kubeconfig_qps, burst=settings.kubeconfig_burst
        )
        metrics = ControllerMetrics()
        metrics.set_info(VERSION, settings.mesh_provider)
        health = Health()
        cluster = Cluster.create(api, settings.namespace, watch_timeout_seconds=watch_timeout_seconds)
        clock = SystemClock()
        history = None
        if settings.analysis_history_runs > 0:
            store = KubeHistoryStore(api, cluster.configmaps)
            history = HistoryBook(
                store,
                clock,
                runs_kept=settings.analysis_history_runs,
                save_every_seconds=settings.analysis_history_save_interval,
            )
        server = TelemetryServer(
            metrics, health, host=settings.listen_address, port=settings.port, history=history
        )
        try:
            await server.start()
            await cluster.start(health.waiting, backoff)
        except BaseException as error:
            await cluster.stop()
            await server.stop()
            await api.close()
            if isinstance(error, NotFoundError):
                raise KubeError(
                    f"cannot list Flagger's custom resources ({error}); "
                    "install the CRDs (kustomize/base/flagman/crd.yaml) first"
                ) from error
            raise
        gcpolicy.settle()  # the first lists are long-lived: out of the collector's way from now on
        session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())  # as Go: no cookie jar
        webhooks = WebhookClient(session)
        secrets = CachedSecrets(api, cluster.secrets)
        alert_sender = build_alert_sender(
            alert_settings(settings), session, AlertSources(KubeAlertProviders(api), secrets)
        )
        recorder = KubeRecorder(
            api,
            event_sender=webhooks.send_event,
            global_event_webhook=settings.event_webhook,
            alert_sender=alert_sender,
        )
        analysis = MetricAnalysis(
            session,
            CachedTemplates(api, cluster.metric_templates),
            secrets,
            metrics_server=settings.metrics_server,
            mesh_provider=settings.mesh_provider,
            cluster=KubeClusterAccess(api.configuration),
        )
        ports = Ports(
            workloads=KubeWorkloads(
                cluster,
                WorkloadOptions(
                    selector_labels=settings.selector_labels,
                    include_label_prefix=settings.include_label_prefix,
                    enable_config_tracking=settings.enable_config_tracking,
                ),
            ),
            router=KubeRouter(cluster),
            metrics=analysis,
            webhooks=webhooks,
            recorder=recorder,
            status=KubeStatusStore(cluster, on_phase_written=recorder.phase_written),
            clock=clock,
            telemetry=CanaryTelemetry(metrics),
            previous=KubePreviousVersions(cluster),
        )
        if history is not None:
            ports = with_history(ports, history)
        scheduler = Scheduler(
            ports,
            RolloutSettings(
                mesh_provider=settings.mesh_provider,
                min_analysis_interval=settings.min_analysis_interval,
                no_cross_namespace_refs=settings.no_cross_namespace_refs,
            ),
            canaries=cluster.canaries,
            read_canary=functools.partial(api.get, CANARIES),
            totals=metrics,
            control_loop_interval=settings.control_loop_interval,
            after_tick=history.flush if history is not None else None,
        )
        health.checks.extend(
            [cluster.liveness_problem, scheduler.stalled_loops, scheduler.canaries_without_loop]
        )
        cluster.deployments.add_listener(scheduler.on_deployment_change)
        cluster.canaries.add_listener(scheduler.on_canary_event)
        cluster.canaries.add_listener(scheduler.on_canary_change)
        cluster.daemonsets.add_listener(scheduler.on_daemonset_change)
        return cls(settings, api, cluster, session, recorder, metrics, health, server, scheduler, history)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # give queued event webhooks a moment, not forever
            await asyncio.wait_for(self.recorder.flush(), timeout=EVENT_FLUSH_SECONDS)
        await self.recorder.close()
        if self.history is not None:  # points of the last seconds, saved lazily (HistoryBook.flush)
            await self.history.flush_all()
        await self.server.stop()
        await self.cluster.stop()
        await self.session.close()
        await self.api.close()


def alert_settings(settings: Settings) -> AlertSettings:
    """The part of the flags that alerting reads."""
    return AlertSettings(
        slack_url=settings.slack_url,
        slack_token=settings.slack_token,
        slack_proxy_url=settings.slack_proxy_url,
        slack_channel=settings.slack_channel,
        slack_user=settings.slack_user,
        msteams_url=settings.msteams_url,
        msteams_proxy_url=settings.msteams_proxy_url,
        cluster_name=settings.cluster_name,
        no_cross_namespace_refs=settings.no_cross_namespace_refs,
    )
