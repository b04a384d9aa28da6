"""One behaviour run: both controllers at once on one API server, each in its own namespace with every
scenario at once, then what each did, normalised (see `normalise`), per scenario."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any

from bench.compare import normalise
from bench.compare.backend import Backend
from bench.compare.controllers import KINDS, REPO, Controller, Kind
from bench.compare.scenarios import SCENARIOS, Stage
from bench.compare.stand_ins import ensure_crds, start_prometheus, start_recorder
from bench.compare.trace import Trace
from controller.kube.api import CONFIGMAPS, DEPLOYMENTS, HPAS, SECRETS, SERVICES, KubeApi
from tests.controller.integration.harness import RolloutSimulator, start_loadtester
from tests.controller.kube.support import create_namespace

HARNESS_AGENT = "flagman-compare"
SCENARIO_DEADLINE = 480.0  # seconds; the longest story (gates) takes about 14 ticks of 10 s


@dataclass
class Outcome:
    """One controller's record of one scenario, normalised."""

    story: str  # "completed" or why not
    statuses: list[str]
    events: list[str]
    webhooks: list[str]
    objects: dict[str, dict[str, Any]]
    seconds: float


@dataclass
class Run:
    outcomes: dict[str, dict[str, Outcome]] = field(default_factory=dict)  # scenario -> kind -> outcome
    metrics: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> sample -> value
    wall_seconds: float = 0.0
    backend: str = ""

    def save(self, path: pathlib.Path) -> None:
        """As JSON, so `python -m bench.compare --from FILE` can judge it again (after editing known.py)."""
        path.write_text(json.dumps(dataclasses.asdict(self), indent=1))

    @classmethod
    def load(cls, path: pathlib.Path) -> Run:
        body = json.loads(path.read_text())
        outcomes = {
            scenario: {kind: Outcome(**outcome) for kind, outcome in by_kind.items()}
            for scenario, by_kind in body["outcomes"].items()
        }
        return cls(outcomes, body["metrics"], body["wall_seconds"], body.get("backend", ""))


def _belongs(object_name: str, scenario: str) -> bool:
    return object_name == scenario or object_name.startswith(scenario + "-")


async def _objects(api: KubeApi, namespace: str, scenario: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for resource in (DEPLOYMENTS, SERVICES, HPAS, CONFIGMAPS, SECRETS):
        listing = await api.list(resource, namespace)
        for item in listing.get("items") or []:
            name = item["metadata"]["name"]
            if _belongs(name, scenario):
                item.setdefault("kind", resource.kind)
                out[f"{resource.kind}/{name}"] = normalise.kube_object(item, namespace)
    return out


async def _play(stage: Stage, scenario: str) -> tuple[str, float]:
    started = time.monotonic()
    try:
        await asyncio.wait_for(SCENARIOS[scenario](stage, scenario), SCENARIO_DEADLINE)
        story = "completed"
    except TimeoutError as error:
        story = f"stalled: {error}" if str(error) else f"not done within {SCENARIO_DEADLINE:.0f} s"
    except Exception as error:  # recorded as this controller's outcome; the other scenarios go on
        story = f"failed: {type(error).__name__}: {error}"
    elapsed = time.monotonic() - started
    print(f"compare: {stage.namespace} {scenario}: {story} ({elapsed:.0f} s)", flush=True)
    return story, elapsed


async def run_behaviour(
    server: Backend, workdir: pathlib.Path, scenarios: list[str], kinds: tuple[Kind, ...] = KINDS
) -> Run:
    kubeconfig = server.kubeconfig
    os.environ["PATH"] = f"{REPO / '.tools' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"  # hey
    api = await KubeApi.connect(kubeconfig, user_agent=HARNESS_AGENT)
    prometheus, prometheus_runner = await start_prometheus()
    loadtester, loadtester_url = start_loadtester(workdir / "loadtester.log")
    recorder, recorder_runner = await start_recorder(loadtester_url)
    rollouts = RolloutSimulator(api)
    controllers: list[Controller] = []
    traces: dict[str, Trace] = {}
    run = Run(backend=server.name)
    started = time.monotonic()
    try:
        await ensure_crds(api)
        await rollouts.start()
        stages: dict[str, Stage] = {}
        for kind in kinds:
            namespace = f"cmp-{kind.name}-{int(time.time()) % 100000}"
            await create_namespace(api, namespace)
            trace = Trace(api, namespace)
            await trace.start()
            traces[kind.name] = trace
            stages[kind.name] = Stage(api, namespace, trace, prometheus, recorder.url, loadtester_url)
            log = workdir / f"{kind.name}.log"
            controller = Controller(kind, kubeconfig, prometheus.url, namespace, log, server.flagger_binary)
            controllers.append(controller.start())
        for controller in controllers:
            await asyncio.get_running_loop().run_in_executor(None, controller.wait_serving)
        print(
            f"compare: {', '.join(c.kind.name for c in controllers)} running; "
            f"{len(scenarios)} scenarios each, all at once (10 s interval: a few minutes)",
            flush=True,
        )
        plays = [(kind.name, scenario) for kind in kinds for scenario in scenarios]
        results = await asyncio.gather(*(_play(stages[k], s) for k, s in plays))
        print("compare: waiting until both controllers have written everything (5 s quiet)", flush=True)
        await asyncio.gather(*(trace.settled() for trace in traces.values()), return_exceptions=True)
        for (kind_name, scenario), (story, seconds) in zip(plays, results, strict=True):
            stage = stages[kind_name]
            ns = stage.namespace
            trace = traces[kind_name]
            run.outcomes.setdefault(scenario, {})[kind_name] = Outcome(
                story=story if story == "completed" else normalise.text(story, ns),
                statuses=normalise.statuses(trace.statuses.get(scenario, []), ns),
                events=normalise.events(trace.events.get(scenario, []), ns),
                webhooks=normalise.deliveries(recorder.for_canary(ns, scenario), ns),
                objects=await _objects(api, ns, scenario),
                seconds=seconds,
            )
        for controller in controllers:
            scraped = await asyncio.get_running_loop().run_in_executor(None, controller.scrape)
            run.metrics[controller.kind.name] = normalise.metrics(
                scraped, stages[controller.kind.name].namespace
            )
    finally:
        for controller in controllers:
            controller.stop()
        for trace in traces.values():
            await trace.stop()
        await rollouts.stop()
        await recorder_runner.cleanup()
        await prometheus_runner.cleanup()
        loadtester.stop()
        await api.close()
    run.wall_seconds = time.monotonic() - started
    return run
