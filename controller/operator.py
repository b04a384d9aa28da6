"""kopf wiring: one loop per Canary runs the rollout tick every `analysis.interval`.

What runs in the process:

* watch caches of the objects a tick reads (`controller.kube.cluster`), listed before anything starts so a
  missing CRD or an unreachable API server fails the start loudly, as in Flagger;
* kopf's watch of `canaries.flagger.app` with a low-level event handler that starts an asyncio task per
  Canary (`CanaryLoops`) and stops it when the Canary is deleted. Not a kopf daemon: kopf puts a
  finalizer on every object that has one, so deleting a Canary would hang whenever the controller is
  not running (Flagger adds a finalizer only for `revertOnDeletion`). A loop re-reads the interval
  after every tick (Flagger restarts its ticker job when the interval changes) and writes status with
  explicit API calls;
* the /healthz /readyz /metrics server on `-port`;
* a sweep every `-control-loop-interval` that sets `flagger_canary_total` and warns about several
  Canaries targeting one Deployment.

Signals: kopf owns SIGINT/SIGTERM (it installs its handlers when it runs on the main thread); when
`kopf.operator()` returns, this module stops the canary loops, then their dependencies in order.
Nothing else installs a signal handler, so there is exactly one owner. With leader election,
`controller.leader` owns them while it follows and while it releases the Lease, and kopf while it leads:
one owner at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import kopf

from controller.alerts import AlertSources, build_alert_sender
from controller.alerts.kube_source import KubeAlertProviders
from controller.analysis.checks import MetricAnalysis
from controller.api import Canary, CanaryRef, parse_duration
from controller.errors import FlagmanError, KubeError, NotFoundError
from controller.kube.api import CANARIES, KubeApi
from controller.kube.cluster import Cluster
from controller.kube.cluster_access import KubeClusterAccess
from controller.kube.recorder import KubeRecorder
from controller.kube.router import KubeRouter
from controller.kube.sources import CachedSecrets, CachedTemplates
from controller.kube.status import KubeStatusStore
from controller.kube.workloads import KubeWorkloads, WorkloadOptions
from controller.leader import LeaseElector, LeaseTimings, candidate_identity, lead
from controller.rollout.ports import DeploymentState, Ports
from controller.rollout.readiness import parse_time
from controller.rollout.revision import has_target_changed, template_hash
from controller.rollout.tick import RolloutSettings, TickMemory, advance
from controller.settings import Settings
from controller.telemetry import VERSION, CanaryTelemetry, ControllerMetrics, Health, TelemetryServer
from controller.webhooks import WebhookClient

logger = logging.getLogger("controller")

DEFAULT_INTERVAL_SECONDS = 60.0
DAEMON_STALL_GRACE_SECONDS = 600.0
# Put on every Canary by Flagman versions that ran a kopf daemon per Canary; removed at startup.
OLD_DAEMON_FINALIZER = "flagman.flagger.app/daemon"
LOOP_STOP_GRACE_SECONDS = 5.0  # as the daemons' `cancellation_timeout`: a tick may finish its writes
JSON_PATCH = "application/json-patch+json"
EVENT_FLUSH_SECONDS = 5.0
ORPHAN_GRACE_SECONDS = 120.0


class SystemClock:
    """The real clock (the `Clock` port)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


def analysis_interval(body: Mapping[str, Any], minimum: float) -> float:
    """`analysis.interval` of a Canary body; empty or unparsable means 60s; never below `minimum`."""
    try:
        return Canary.from_dict(body).analysis.interval_seconds(minimum=minimum)
    except FlagmanError:
        pass
    raw = ((body.get("spec") or {}).get("analysis") or {}).get("interval")
    try:
        seconds = parse_duration(str(raw)) if raw else DEFAULT_INTERVAL_SECONDS
    except (FlagmanError, ValueError):
        seconds = DEFAULT_INTERVAL_SECONDS
    return max(seconds, minimum)


class LoopStop:
    """The stop flag of one canary loop: the part of `kopf.DaemonStopped` that `run_canary` uses."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (kopf's signature)
        """Wait until set or `timeout` seconds passed; True when set."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        return self._event.is_set()


@dataclass
class _Loop:
    ref: CanaryRef
    stop: LoopStop
    task: asyncio.Task[None]


class CanaryLoops:
    """One asyncio task per Canary (keyed by `name.namespace`, remembering the uid it runs for).

    Bookkeeping is synchronous, so kopf's concurrent per-object handlers need no locks. A Canary
    re-created under the same name gets a new loop that starts only once the old one has ended: both
    share per-key state in the `Controller`.
    """

    def __init__(
        self,
        run: Callable[[CanaryRef, LoopStop], Awaitable[None]],
        grace_seconds: float = LOOP_STOP_GRACE_SECONDS,
    ) -> None:
        self._run = run
        self._grace = grace_seconds
        self._loops: dict[str, _Loop] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    def running(self) -> dict[str, str]:
        """`name.namespace` -> uid of the loops not asked to stop."""
        return {key: loop.ref.uid for key, loop in self._loops.items()}

    def ensure(self, ref: CanaryRef) -> None:
        """Start the loop of `ref` unless it runs (a loop that ended on its own is started again)."""
        current = self._loops.get(ref.key)
        if current is not None and current.ref.uid == ref.uid and not current.task.done():
            return
        previous = self._loops.pop(ref.key, None)
        if previous is not None:
            self._stop(previous)
        stop = LoopStop()
        task = asyncio.create_task(
            self._run_after(previous.task if previous else None, ref, stop), name=f"canary {ref.key}"
        )
        task.add_done_callback(_log_loop_crash)
        self._loops[ref.key] = _Loop(ref, stop, task)

    def retire(self, key: str, uid: str) -> None:
        """Stop the loop of `key` if it runs for `uid` (a late event of a deleted twin is ignored)."""
        current = self._loops.get(key)
        if current is not None and current.ref.uid == uid:
            logger.info("Deleting %s from cache", key, extra={"canary": key})  # Flagger's words
            self._stop(self._loops.pop(key))

    async def stop_all(self) -> None:
        """Stop every loop; return once all have ended (each within the grace, then cancelled)."""
        for key in list(self._loops):
            self._stop(self._loops.pop(key))
        while self._stopping:
            await asyncio.gather(*list(self._stopping), return_exceptions=True)

    def _stop(self, loop: _Loop) -> None:
        loop.stop.set()
        stopper = asyncio.create_task(self._cancel_after_grace(loop), name=f"stop canary {loop.ref.key}")
        self._stopping.add(stopper)
        stopper.add_done_callback(self._stopping.discard)

    async def _cancel_after_grace(self, loop: _Loop) -> None:
        done, _ = await asyncio.wait({loop.task}, timeout=self._grace)
        if not done:
            logger.warning(
                "canary loop did not stop within %.1fs: cancelling it",
                self._grace,
                extra={"canary": loop.ref.key},
            )
            loop.task.cancel()
            await asyncio.gather(loop.task, return_exceptions=True)

    async def _run_after(self, previous: asyncio.Task[None] | None, ref: CanaryRef, stop: LoopStop) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        if not stop:
            await self._run(ref, stop)
        logger.info("canary loop stopped", extra={"canary": ref.key})


def _log_loop_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("canary loop crashed", exc_info=task.exception())


@dataclass
class Controller:
    """Everything the canary loops share; built once by `Controller.start`."""

    settings: Settings
    api: KubeApi
    cluster: Cluster
    session: aiohttp.ClientSession
    recorder: KubeRecorder
    ports: Ports
    metrics: ControllerMetrics
    health: Health
    server: TelemetryServer
    last_tick: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)
    wakeups: dict[str, asyncio.Event] = field(default_factory=dict)
    started_at: float = math.inf  # when kopf started (`_operate`); a follower runs no canary loops
    loops: CanaryLoops = field(init=False)

    def __post_init__(self) -> None:
        self.loops = CanaryLoops(self.run_canary)

    @classmethod
    async def start(cls, settings: Settings, *, watch_timeout_seconds: int = 300) -> Controller:
        api = await KubeApi.connect(settings.kubeconfig, settings.master)
        cluster = Cluster.create(api, settings.namespace, watch_timeout_seconds=watch_timeout_seconds)
        try:
            await cluster.start()
        except NotFoundError as error:
            await cluster.stop()
            await api.close()
            raise KubeError(
                f"cannot list Flagger's custom resources ({error}); "
                "install the CRDs (kustomize/base/flagman/crd.yaml) first"
            ) from error
        except BaseException:
            await cluster.stop()
            await api.close()
            raise
        session = aiohttp.ClientSession()
        webhooks = WebhookClient(session)
        alert_sender = build_alert_sender(
            settings, session, AlertSources(KubeAlertProviders(api), CachedSecrets(api, cluster.secrets))
        )
        recorder = KubeRecorder(
            api,
            event_sender=webhooks.send_event,
            global_event_webhook=settings.event_webhook,
            alert_sender=alert_sender,
        )
        metrics = ControllerMetrics()
        metrics.set_info(VERSION, settings.mesh_provider)
        analysis = MetricAnalysis(
            session,
            CachedTemplates(api, cluster.metric_templates),
            CachedSecrets(api, cluster.secrets),
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
            status=KubeStatusStore(cluster),
            clock=SystemClock(),
            telemetry=CanaryTelemetry(metrics),
        )
        health = Health()
        server = TelemetryServer(metrics, health, host=settings.listen_address, port=settings.port)
        controller = cls(settings, api, cluster, session, recorder, ports, metrics, health, server)
        health.checks.extend(
            [cluster.liveness_problem, controller.stalled_daemons, controller.canaries_without_loop]
        )
        cluster.deployments.add_listener(controller.on_deployment_change)
        try:
            await server.start()
        except BaseException:
            await controller.stop()
            raise
        return controller

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # give queued event webhooks a moment, not forever
            await asyncio.wait_for(self.recorder.flush(), timeout=EVENT_FLUSH_SECONDS)
        await self.recorder.close()
        await self.server.stop()
        await self.cluster.stop()
        await self.session.close()
        await self.api.close()

    # --- the per-canary loop ---------------------------------------------------------------------

    async def run_canary(self, ref: CanaryRef, stopped: LoopStop) -> None:
        """Tick now, then every interval (ticks never overlap; a slow tick delays the next one).

        Between analysis ticks the loop may be woken early (see `on_deployment_change`), and a tick that
        left the canary Finalising, or Promoting with a ready primary, is followed at once by the next:
        none of these runs an analysis, so the analysis cadence stays one interval while detection and
        promotion lose their idle waits.
        """
        memory = TickMemory()
        rollout_settings = RolloutSettings(mesh_provider=self.settings.mesh_provider)
        loop = asyncio.get_running_loop()
        wake = self.wakeups.setdefault(ref.key, asyncio.Event())
        self.last_tick[ref.key] = time.monotonic()  # the loop exists from now on (liveness checks)
        try:
            while not stopped:
                started = loop.time()
                try:
                    await advance(ref, self.ports, rollout_settings, memory)
                except Exception:  # a bug in one tick must not kill the canary's loop
                    logger.exception("tick failed", extra={"canary": ref.key})
                # Changes the tick itself caused (scaling the target, promoting the primary) must not
                # wake the loop: that would run the next analysis early.
                wake.clear()
                self.last_tick[ref.key] = time.monotonic()
                body = self.cluster.canaries.get(ref.namespace, ref.name) or {}
                interval = analysis_interval(body, self.settings.min_analysis_interval)
                self.intervals[ref.key] = interval
                if self._next_tick_is_due(body):
                    continue
                await _sleep_or_wake(stopped, wake, max(0.0, interval - (loop.time() - started)))
        finally:
            self.last_tick.pop(ref.key, None)
            self.intervals.pop(ref.key, None)
            self.wakeups.pop(ref.key, None)

    async def remove_old_finalizer(self, ref: CanaryRef, finalizers: list[str]) -> None:
        """Remove `OLD_DAEMON_FINALIZER`, which earlier Flagman versions put on every Canary (deleting
        one would hang while no such version runs).

        A JSON patch whose `test` op checks the element before removing it: if the list changed since it
        was read, the patch fails (422) instead of removing another finalizer; then re-read and retry.
        """
        path = CANARIES.path(ref.namespace, ref.name)
        for _attempt in range(3):
            if OLD_DAEMON_FINALIZER not in finalizers:
                return
            pointer = f"/metadata/finalizers/{finalizers.index(OLD_DAEMON_FINALIZER)}"
            operations = [
                {"op": "test", "path": pointer, "value": OLD_DAEMON_FINALIZER},
                {"op": "remove", "path": pointer},
            ]
            try:
                await self.api.request("PATCH", path, body=operations, content_type=JSON_PATCH)
            except NotFoundError:
                return
            except KubeError as error:
                logger.debug("removing the old finalizer failed: %s", error, extra={"canary": ref.key})
            else:
                logger.info(
                    "removed the finalizer %s left by an earlier Flagman version",
                    OLD_DAEMON_FINALIZER,
                    extra={"canary": ref.key},
                )
                return
            try:
                body = await self.api.get(CANARIES, ref.namespace, ref.name)
            except NotFoundError:
                return
            except KubeError as error:
                logger.warning("cannot re-read the Canary: %s", error, extra={"canary": ref.key})
                return
            finalizers = list((body.get("metadata") or {}).get("finalizers") or [])
        logger.warning(
            "could not remove the finalizer %s: remove it by hand if deleting the Canary hangs",
            OLD_DAEMON_FINALIZER,
            extra={"canary": ref.key},
        )

    def _next_tick_is_due(self, body: Mapping[str, Any]) -> bool:
        """Finalising always, and Promoting once the primary is ready, continue without waiting."""
        phase = _phase(body)
        if phase == "Finalising":
            return True
        if phase == "Promoting":
            meta = body.get("metadata") or {}
            target = str(((body.get("spec") or {}).get("targetRef") or {}).get("name") or "")
            primary = self.cluster.deployments.get(str(meta.get("namespace") or ""), f"{target}-primary")
            return primary is not None and _looks_ready(primary)
        return False

    def on_deployment_change(self, event_type: str, deployment: dict[str, Any]) -> None:
        """Wake a canary's loop when waiting for the next tick would only add latency:

        * its target's pod template changed while no analysis runs (Initialized, Succeeded, Failed):
          the next tick detects the new revision;
        * its primary became ready while Promoting: the next tick moves on to Finalising.
        """
        if event_type == "DELETED":
            return
        meta = deployment.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        for body in self.cluster.canaries.items(namespace):
            canary_meta = body.get("metadata") or {}
            key = f"{canary_meta.get('name')}.{namespace}"
            wake = self.wakeups.get(key)
            target = str(((body.get("spec") or {}).get("targetRef") or {}).get("name") or "")
            if wake is None or not target:
                continue
            status = body.get("status") or {}
            phase = str(status.get("phase") or "")
            if name == target and phase in ("Initialized", "Succeeded", "Failed"):
                template = (deployment.get("spec") or {}).get("template") or {}
                last_applied = str(status.get("lastAppliedSpec") or "")
                last_promoted = str(status.get("lastPromotedSpec") or "")
                if has_target_changed(template_hash(template), last_applied, last_promoted):
                    wake.set()
            elif name == f"{target}-primary" and phase == "Promoting" and _looks_ready(deployment):
                wake.set()

    def canaries_without_loop(self) -> str | None:
        """Liveness: Canaries that kopf never gave a loop (its Canary watch may be a zombie).

        Checked once the controller has run for a while, for Canaries that are not being deleted.
        """
        if time.monotonic() - self.started_at < ORPHAN_GRACE_SECONDS:
            return None
        orphans = []
        for body in self.cluster.canaries.items():
            meta = body.get("metadata") or {}
            key = f"{meta.get('name')}.{meta.get('namespace')}"
            if meta.get("deletionTimestamp") or key in self.last_tick:
                continue
            created = parse_time(meta.get("creationTimestamp"))
            if created is not None and (datetime.now(UTC) - created).total_seconds() > ORPHAN_GRACE_SECONDS:
                orphans.append(key)
        return f"canaries without a loop: {', '.join(sorted(orphans))}" if orphans else None

    def stalled_daemons(self) -> str | None:
        """Liveness: a daemon that has not finished a tick for far longer than its interval."""
        now = time.monotonic()
        stalled = [
            key
            for key, last in self.last_tick.items()
            if now - last
            > max(3 * self.intervals.get(key, DEFAULT_INTERVAL_SECONDS), DAEMON_STALL_GRACE_SECONDS)
        ]
        return f"canary loops stalled: {', '.join(sorted(stalled))}" if stalled else None

    async def sweep_forever(self) -> None:
        """`flagger_canary_total` per namespace and the duplicate-target warning, every control loop."""
        while True:
            counts: Counter[str] = Counter()
            targets: Counter[tuple[str, str]] = Counter()
            for body in self.cluster.canaries.items():
                namespace = str((body.get("metadata") or {}).get("namespace") or "")
                counts[namespace] += 1
                target = str(((body.get("spec") or {}).get("targetRef") or {}).get("name") or "")
                targets[(namespace, target)] += 1
            for namespace, count in counts.items():
                self.metrics.set_total(namespace, count)
            for (namespace, target), count in targets.items():
                if count > 1:
                    logger.error(
                        "Bad things will happen! Found more than one canary with the same target %s.%s",
                        target,
                        namespace,
                    )
            await self.retire_vanished_loops()
            await asyncio.sleep(self.settings.control_loop_interval)

    async def retire_vanished_loops(self) -> None:
        """End the loops of Canaries that are gone although no DELETED event said so.

        kopf relists after a 410 without replaying the deletions it missed; a loop whose Canary is absent
        from the watch cache is retired once a GET confirms the 404 (the cache may lag a brand-new Canary).
        """
        cached = {
            f"{meta.get('name')}.{meta.get('namespace')}"
            for meta in ((body.get("metadata") or {}) for body in self.cluster.canaries.items())
        }
        for key, uid in self.loops.running().items():
            if key in cached:
                continue
            name, _, namespace = key.rpartition(".")  # namespaces have no dots; names may
            try:
                await self.api.get(CANARIES, namespace, name)
            except NotFoundError:
                self.loops.retire(key, uid)
            except KubeError as error:
                logger.debug("checking whether %s still exists failed: %s", key, error)


def _phase(body: Mapping[str, Any]) -> str:
    return str((body.get("status") or {}).get("phase") or "")


def _looks_ready(deployment: Mapping[str, Any]) -> bool:
    state = DeploymentState.from_dict(deployment)
    return (
        state.observed_generation >= state.generation
        and state.updated_replicas >= (state.spec_replicas if state.spec_replicas is not None else 1)
        and state.replicas == state.updated_replicas
        and state.available_replicas >= state.updated_replicas
    )


async def _sleep_or_wake(stopped: LoopStop, wake: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when the canary is woken or its loop stopped."""
    if seconds <= 0:
        return
    sleeper = asyncio.ensure_future(stopped.wait(seconds))
    waker = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, waker):
            task.cancel()
        await asyncio.gather(sleeper, waker, return_exceptions=True)


# --- kopf ------------------------------------------------------------------------------------------


async def _connection_info(api: KubeApi) -> kopf.ConnectionInfo:
    """kopf's credentials from the same kubeconfig/in-cluster configuration as our client."""
    config = api.configuration
    maybe_header: Any = config.get_api_key_with_prefix("BearerToken")
    header = await maybe_header if inspect.isawaitable(maybe_header) else maybe_header
    parts = str(header).split(" ", 1) if header else []
    scheme, token = (
        (None, None) if not parts else (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    )
    return kopf.ConnectionInfo(
        server=str(config.host),
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        username=config.username or None,
        password=config.password or None,
        scheme=scheme,
        token=token,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
    )


def build_registry(controller: Controller) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    async def login(**_: Any) -> kopf.ConnectionInfo:
        return await _connection_info(controller.api)

    # A low-level handler: kopf calls it for every Canary of its initial listing and for every watch
    # event (batched: only an object's latest event within `batching.batch_window`), and keeps no state
    # and no finalizer on the objects for it.
    seen: set[str] = set()  # uids handled by this run of the operator

    @kopf.on.event("flagger.app", "v1beta1", "canaries", registry=registry)
    async def canary_event(
        *, event: Mapping[str, Any], body: kopf.Body, name: str, namespace: str | None, uid: str, **_: Any
    ) -> None:
        ref = CanaryRef(name=name, namespace=namespace or "default", uid=uid)
        deleted = event.get("type") == "DELETED"
        if deleted or body.metadata.get("deletionTimestamp"):
            controller.loops.retire(ref.key, uid)
        else:
            controller.loops.ensure(ref)
        first_sight = uid not in seen
        if deleted:
            seen.discard(uid)
            return
        seen.add(uid)
        finalizers = list(body.metadata.get("finalizers") or [])
        if first_sight and OLD_DAEMON_FINALIZER in finalizers:
            await controller.remove_old_finalizer(ref, finalizers)

    @kopf.on.cleanup(registry=registry)
    async def stop_loops(**_: Any) -> None:
        await controller.loops.stop_all()

    return registry


def operator_settings(settings: Settings) -> kopf.OperatorSettings:
    kopf_settings = kopf.OperatorSettings()
    kopf_settings.posting.enabled = False  # events are written by the recorder, in Flagger's words
    kopf_settings.watching.server_timeout = 300
    kopf_settings.networking.request_timeout = 60
    # No namespace or CRD scanning: Flagger's ClusterRole grants neither, and the Canary CRD is known.
    kopf_settings.scanning.disabled = True
    return kopf_settings


async def run(settings: Settings, lease_timings: LeaseTimings | None = None) -> int:
    """Run the controller until SIGTERM/SIGINT (kopf's) or a fatal error; return the exit code.

    With `-enable-leader-election` the caches and the health/metrics server start at once, but the
    operator runs only while this replica holds the Lease (`controller.leader`)."""
    try:
        controller = await Controller.start(settings)
    except (FlagmanError, OSError) as error:
        logger.error("controller cannot start: %s", error)
        return 1
    logger.info(
        "Flagman controller %s started (mesh provider %s, namespace %s)",
        VERSION,
        settings.mesh_provider,
        settings.namespace or "all",
    )
    try:
        if not settings.enable_leader_election:
            await _operate(controller, settings)
            return 0
        elector = LeaseElector(
            controller.api,
            settings.leader_election_lease_namespace,
            candidate_identity(),
            lease_timings or LeaseTimings(),
        )
        return await lead(elector, lambda: _operate(controller, settings))
    finally:
        await controller.stop()
        logger.info("controller stopped")


async def _operate(controller: Controller, settings: Settings) -> None:
    """kopf and the sweep, until a signal (kopf's own handlers) or cancellation; /readyz says when they run.

    No `stop_flag` for kopf: when a signal stops it, kopf waits 5s for its own waiter of that flag."""
    controller.started_at = time.monotonic()
    ready = asyncio.Event()
    sweeper = asyncio.create_task(controller.sweep_forever(), name="sweep")

    async def mark_ready() -> None:
        await ready.wait()
        controller.health.ready = True

    readiness = asyncio.create_task(mark_ready(), name="readiness")
    try:
        await kopf.operator(
            registry=build_registry(controller),
            settings=operator_settings(settings),
            standalone=True,
            clusterwide=not settings.namespace,
            namespaces=[settings.namespace] if settings.namespace else (),
            ready_flag=ready,
        )
    finally:
        controller.health.ready = False
        await controller.loops.stop_all()  # also when cancelled (leadership lost): kopf's cleanup may not run
        for task in (sweeper, readiness):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
