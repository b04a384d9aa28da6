"""kopf wiring: kopf watches `canaries.flagger.app` and tells the scheduler which Canaries exist.

A low-level event handler starts a canary loop (`controller.scheduler.CanaryLoops`) for every Canary and
retires it when the Canary is deleted; kopf keeps no state and no finalizer on the Canaries for it. The
rest of the process is built by `controller.wiring` (the adapters, the scheduler, the health/metrics
server) and run here, with leader election when asked (`controller.leader`).

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
from collections.abc import Mapping
from typing import Any

import kopf

from controller.api import CanaryRef
from controller.errors import FlagmanError
from controller.kube.api import KubeApi
from controller.leader import LeaseElector, LeaseTimings, candidate_identity, lead
from controller.rollout.finalizer import FINALIZER
from controller.settings import Settings
from controller.telemetry import VERSION
from controller.wiring import Controller

logger = logging.getLogger("controller")


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
    loops = controller.scheduler.loops

    @kopf.on.event("flagger.app", "v1beta1", "canaries", registry=registry)
    async def canary_event(
        *, event: Mapping[str, Any], body: kopf.Body, name: str, namespace: str | None, uid: str, **_: Any
    ) -> None:
        ref = CanaryRef(name=name, namespace=namespace or "default", uid=uid)
        deleting = bool(body.metadata.get("deletionTimestamp"))
        if event.get("type") == "DELETED" or (
            deleting and FINALIZER not in (body.metadata.get("finalizers") or ())
        ):
            loops.retire(ref.key, uid)
        else:
            # With revertOnDeletion's finalizer the loop's next tick reverts the target; wake it for that.
            loops.ensure(ref)
            if deleting:
                controller.scheduler.wake(ref.key)

    @kopf.on.cleanup(registry=registry)
    async def stop_loops(**_: Any) -> None:
        await loops.stop_all()

    return registry


def operator_settings(settings: Settings) -> kopf.OperatorSettings:
    kopf_settings = kopf.OperatorSettings()
    kopf_settings.posting.enabled = False  # events are written by the recorder, in Flagger's words
    kopf_settings.watching.server_timeout = 300
    kopf_settings.networking.request_timeout = 60
    # No namespace or CRD scanning: Flagger's ClusterRole grants neither, and the Canary CRD is known.
    kopf_settings.scanning.disabled = True
    # Flagger's -threadiness is the number of workers that sync Canaries (finalizers included); kopf's
    # per-object workers are the same thing here.
    kopf_settings.batching.worker_limit = settings.threadiness
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
    controller.scheduler.operator_started()
    ready = asyncio.Event()
    sweeper = asyncio.create_task(controller.scheduler.sweep_forever(), name="sweep")

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
        # Also when cancelled (leadership lost): kopf's cleanup may not run.
        await controller.scheduler.loops.stop_all()
        for task in (sweeper, readiness):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
