"""The chart with `replicaCount=3` and `sharding.enabled=true`, deployed with helm on the real control plane
(etcd, kube-apiserver, kube-controller-manager, kube-scheduler from `make control-plane`, the node agent
running the controller pods as processes): three replicas split the Canaries, each ticked by exactly one
of them; deleting one controller pod mid-analysis moves its Canaries to the other two within the lease
duration, the Deployment brings a third replica back, and every Canary is promoted exactly once.

Everything is read the way an operator would: the shard Leases' holders (`kubectl get leases`), the
replicas' logs (`kubectl logs -f`; every controller log line about a Canary carries its key), and the
Canaries' events (`kubectl get events`). The safety check is the integration test's
(tests/controller/integration/test_sharding.py): no two replicas hold one shard at once, and every line a
replica logs for a Canary falls inside its holding of that Canary's shard.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from controller.sharding.hashing import shard_of
from controller.sharding.leases import LEASE_LABEL, shard_number
from sandbox.controlplane.testing import availability
from sandbox.node.cluster import RealCluster
from tests.realbackend import node_binaries_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REPO = Path(__file__).resolve().parents[2]
HELM = REPO / ".tools" / "bin" / "helm"
CHART = REPO / "charts" / "flagman"
RELEASE_NAMESPACE = "flagger"
APPS = "apps"
REPLICAS = 3
SHARDS = 12
# the chart's defaults, as deployed
LEASE_SECONDS = 15.0
RENEW_SECONDS = 10.0
RETRY_SECONDS = 2.0
STOP_BUDGET = timedelta(seconds=LEASE_SECONDS - RENEW_SECONDS - RETRY_SECONDS)
CANARY_COUNT = 9
ITERATIONS = 20  # at 1s: long enough that the deleted replica's canaries are mid-analysis
T = TypeVar("T")


@pytest.fixture
def real_backend() -> Path:
    binaries = node_binaries_or_skip()
    for tool, path in (("helm (make tools)", str(HELM)), ("kubectl", shutil.which("kubectl") or "")):
        if not path or not os.access(path, os.X_OK):
            (pytest.fail if availability().required else pytest.skip)(f"{tool} is missing")
    return binaries


@dataclass
class Operator:
    """kubectl and helm against the cluster, with private helm directories; `kubectl logs -f` followers."""

    cluster: RealCluster
    workdir: Path
    followers: dict[str, tuple[subprocess.Popen[bytes], Path]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        home = self.workdir / "helm"
        return {
            **os.environ,
            "KUBECONFIG": str(self.cluster.kubeconfig),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }

    def run(self, *argv: str, stdin: str | None = None, timeout: float = 60) -> str:
        result = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=self.env(), check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"`{' '.join(argv)}` failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        return self.run("kubectl", *args, stdin=stdin, timeout=timeout)

    def items(self, *args: str) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = json.loads(self.kubectl("get", *args, "-o", "json"))["items"]
        return listed

    def controller_pods(self) -> list[dict[str, Any]]:
        return [
            pod
            for pod in self.items("pods", "-n", RELEASE_NAMESPACE, "-l", "app.kubernetes.io/instance=flagger")
            if not pod["metadata"].get("deletionTimestamp")
        ]

    def follow(self, pod: str) -> None:
        """`kubectl logs -f` into a file: a deleted pod's last lines (its release of the shards) are kept."""
        if pod in self.followers:
            return
        path = self.workdir / f"{pod}.log"
        with path.open("wb") as output:
            process = subprocess.Popen(
                ["kubectl", "logs", "-f", "-n", RELEASE_NAMESPACE, pod],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env(),
            )
        self.followers[pod] = (process, path)

    def records(self, pod: str) -> list[dict[str, Any]]:
        found = []
        for line in self.followers[pod][1].read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                found.append(record)
        return found

    def stop_following(self) -> None:
        for process, _ in self.followers.values():
            process.kill()
            process.wait()


@pytest.fixture
def operator(real_backend: Path, tmp_path: Path) -> Iterator[Operator]:
    with RealCluster(tmp_path / "real", real_backend) as cluster:
        operator = Operator(cluster, tmp_path)
        try:
            yield operator
        finally:
            operator.stop_following()


def eventually(check: Callable[[], T | None], within: float, what: str, every: float = 0.5) -> T:
    deadline = time.monotonic() + within
    last: object = None
    while True:
        try:
            result = check()
        except AssertionError as error:
            result, last = None, error
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what} (last: {last})")
        time.sleep(every)


def helm_install(operator: Operator) -> None:
    operator.run(
        str(HELM),
        *("upgrade", "-i", "flagger", str(CHART), "--namespace", RELEASE_NAMESPACE, "--create-namespace"),
        *("--set", "meshProvider=kubernetes", "--set", f"replicaCount={REPLICAS}"),
        *("--set", "sharding.enabled=true", "--set", f"sharding.shards={SHARDS}"),
        *("--set-string", f"sharding.leaseDuration={LEASE_SECONDS:g}s"),
        *("--set-string", f"sharding.renewDeadline={RENEW_SECONDS:g}s"),
        *("--set-string", f"sharding.retryPeriod={RETRY_SECONDS * 1000:g}ms"),
        *("--set", "env[0].name=FLAGMAN_MIN_ANALYSIS_INTERVAL", "--set-string", "env[0].value=500ms"),
        timeout=120,
    )


def identity_of(operator: Operator, pod: str) -> str | None:
    for record in operator.records(pod):
        message = str(record.get("msg", ""))
        if message.startswith("Sharding:"):
            return message.rsplit("(identity ", 1)[1].rstrip(")")
    return None


def running_replicas(operator: Operator, count: int = REPLICAS) -> dict[str, str]:
    """Pod name -> sharding identity, once `count` controller pods run and have announced themselves."""

    def ready() -> dict[str, str] | None:
        pods = [pod for pod in operator.controller_pods() if pod["status"].get("phase") == "Running"]
        for pod in pods:
            operator.follow(pod["metadata"]["name"])
        names = {pod["metadata"]["name"]: identity_of(operator, pod["metadata"]["name"]) for pod in pods}
        if len(names) != count or None in names.values():
            return None
        return {name: str(identity) for name, identity in names.items()}

    return eventually(ready, 120, f"{count} sharded controller pods running")


def shard_leases(operator: Operator) -> dict[int, tuple[str, int]]:
    """Shard -> (holder identity, leaseTransitions) from `kubectl get leases`."""
    leases = {}
    for lease in operator.items("leases", "-n", RELEASE_NAMESPACE, "-l", LEASE_LABEL):
        shard = shard_number(lease["metadata"]["name"])
        if shard is not None:
            spec = lease.get("spec") or {}
            leases[shard] = (str(spec.get("holderIdentity") or ""), int(spec.get("leaseTransitions") or 0))
    return leases


def shard_holders(operator: Operator) -> dict[int, str]:
    return {shard: holder for shard, (holder, _) in shard_leases(operator).items()}


def wait_split(operator: Operator, members: list[str], within: float = 60) -> dict[int, str]:
    def split() -> dict[int, str] | None:
        holders = shard_holders(operator)
        counts = sorted(list(holders.values()).count(member) for member in members)
        even = [SHARDS // len(members)] * len(members)
        return holders if len(holders) == SHARDS and counts == even else None

    return eventually(split, within, f"{SHARDS} shards split evenly over {len(members)} replicas", 0.25)


def app_manifests(names: list[str]) -> str:
    items: list[dict[str, Any]] = []
    for name in names:
        container = {
            "name": "podinfod",
            "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
            "command": ["./podinfo", "--port=9898"],
            "ports": [{"name": "http", "containerPort": 9898}],
        }
        items.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": APPS},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
                },
            }
        )
        items.append(
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": {"name": name, "namespace": APPS},
                "spec": {
                    "provider": "kubernetes",
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "progressDeadlineSeconds": 120,
                    "service": {"port": 9898},
                    # Blue/Green without metrics: every tick is the controller's own work, no Prometheus
                    "analysis": {"interval": "1s", "threshold": 2, "iterations": ITERATIONS},
                },
            }
        )
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def all_in(operator: Operator, names: list[str], phase: str, within: float) -> None:
    def reached() -> bool:
        phases = {
            canary["metadata"]["name"]: (canary.get("status") or {}).get("phase")
            for canary in operator.items("canaries", "-n", APPS)
        }
        assert all(phases.get(name) == phase for name in names), f"phases {phases}"
        return True

    eventually(reached, within, f"every canary {phase}", 1.0)


def timestamp(record: dict[str, Any]) -> datetime:
    stamp = record.get("ts")
    if isinstance(stamp, int | float):
        return datetime.fromtimestamp(stamp, UTC)
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))


Interval = tuple[datetime, datetime]


def holdings(records: list[dict[str, Any]], until: datetime) -> dict[int, list[Interval]]:
    """Shard -> when this replica may have run its canaries: `Acquired shard` to `Released shard` (logged
    once the loops ended), or `Lost shards` plus the time it has to stop them, or `until`."""
    opened: dict[int, datetime] = {}
    intervals: dict[int, list[Interval]] = defaultdict(list)
    for record in records:
        message, at = str(record.get("msg", "")), timestamp(record)
        if message.startswith("Acquired shard "):
            opened[int(message.split()[2])] = at
        elif message.startswith("Released shard "):
            shard = int(message.split()[2])
            intervals[shard].append((opened.pop(shard), at))
        elif message.startswith("Lost shards "):
            for number in message.removeprefix("Lost shards ").split(":")[0].split(", "):
                intervals[int(number)].append((opened.pop(int(number)), at + STOP_BUDGET))
    for shard, start in opened.items():
        intervals[shard].append((start, until))
    return intervals


def canary_lines(records: list[dict[str, Any]], names: list[str]) -> dict[str, list[datetime]]:
    lines: dict[str, list[datetime]] = defaultdict(list)
    for record in records:
        name, _, namespace = str(record.get("canary") or "").rpartition(".")
        if namespace == APPS and name in names:
            lines[name].append(timestamp(record))
    return lines


def assert_one_replica_at_a_time(operator: Operator, pods: list[str], names: list[str]) -> int:
    """Returns how many times a shard changed hands."""
    end = datetime.now(UTC) + timedelta(days=1)
    records = {pod: operator.records(pod) for pod in pods}
    held = {pod: holdings(records[pod], end) for pod in pods}
    handovers = 0
    for shard in range(SHARDS):
        timeline = sorted((start, stop, pod) for pod in pods for start, stop in held[pod][shard])
        for (_, stop, before), (start, _, after) in itertools.pairwise(timeline):
            assert start >= stop, f"shard {shard}: {after} from {start} while {before} until {stop}"
        handovers += max(0, len(timeline) - 1)
    for pod in pods:
        for name, lines in canary_lines(records[pod], names).items():
            spans = held[pod][shard_of(APPS, name, SHARDS)]
            outside = [at for at in lines if not any(start <= at <= stop for start, stop in spans)]
            assert not outside, f"{pod} logged {name} at {outside[:3]} outside its holdings {spans}"
    return handovers


def times_said(events: list[dict[str, Any]], message: str) -> int:
    """How often the events say `message`, repeats counted into one Event included."""
    return sum(
        max(int(event.get("count") or 1), int((event.get("series") or {}).get("count") or 1))
        for event in events
        if event.get("message") == message
    )


def test_the_chart_with_three_sharded_replicas_splits_the_canaries_and_survives_a_deleted_pod(
    operator: Operator,
) -> None:
    started = time.monotonic()
    helm_install(operator)
    replicas = running_replicas(operator)
    holders = wait_split(operator, list(replicas.values()))
    split = shard_leases(operator)
    print(f"three replicas split {SHARDS} shards after {time.monotonic() - started:.0f}s")

    names = [f"app{index}" for index in range(CANARY_COUNT)]
    operator.kubectl("create", "namespace", APPS)
    operator.kubectl("apply", "-f", "-", stdin=app_manifests(names))
    all_in(operator, names, "Initialized", within=90)

    # every canary handled by exactly one replica: the holder of its shard
    pod_of = {identity: pod for pod, identity in replicas.items()}
    owner = {name: pod_of[holders[shard_of(APPS, name, SHARDS)]] for name in names}
    assert len(set(owner.values())) > 1, f"one replica owns every canary: {owner}"
    assert_one_replica_at_a_time(operator, list(replicas), names)
    if shard_leases(operator) == split:  # no shard changed hands since the canaries exist (none should)
        for name in names:
            loggers = [pod for pod in replicas if name in canary_lines(operator.records(pod), [name])]
            assert loggers == [owner[name]], f"{name}: logged by {loggers}, its shard held by {owner[name]}"

    # a rollout of every canary; the controller pod with the most canaries is deleted mid-analysis
    for name in names:
        operator.kubectl(
            "-n", APPS, "set", "image", f"deployment/{name}", "podinfod=ghcr.io/stefanprodan/podinfo:6.0.1"
        )
    all_in(operator, names, "Progressing", within=60)
    holders = shard_holders(operator)
    owner = {name: pod_of.get(holders.get(shard_of(APPS, name, SHARDS), ""), "") for name in names}
    victim = max(replicas, key=lambda pod: list(owner.values()).count(pod))
    moved = sorted(name for name, pod in owner.items() if pod == victim)
    operator.kubectl("-n", RELEASE_NAMESPACE, "delete", "pod", victim, "--wait=false")
    deleted = time.monotonic()

    def taken_over() -> bool:
        now = shard_holders(operator)
        return all(holder and holder != replicas[victim] for holder in now.values()) and len(now) == SHARDS

    eventually(taken_over, LEASE_SECONDS + 10, "the deleted replica's shards taken over", every=0.2)
    takeover = time.monotonic() - deleted
    assert takeover < LEASE_SECONDS, f"shards taken over {takeover:.1f}s after the pod's deletion"
    all_in(operator, names, "Succeeded", within=120)

    # the Deployment brings a third replica back, and the three split the shards again
    replicas_after = running_replicas(operator)
    assert victim not in replicas_after
    wait_split(operator, list(replicas_after.values()))
    pods = sorted(set(replicas) | set(replicas_after))
    handovers = assert_one_replica_at_a_time(operator, pods, names)
    for name in moved:
        later = [pod for pod in replicas_after if name in canary_lines(operator.records(pod), [name])]
        assert later, f"{name} (on the deleted {victim}) continued nowhere"
    for name in names:
        events = operator.items("events", "-n", APPS, "--field-selector", f"involvedObject.name={name}")
        for message in (
            f"New revision detected! Scaling up {name}.{APPS}",
            f"Promotion completed! Scaling down {name}.{APPS}",
        ):
            said = [
                (pod, record.get("ts"))
                for pod in pods
                for record in operator.records(pod)
                if record.get("msg") == message
            ]
            assert times_said(events, message) == 1, f"{name}: {message!r} not said once: logged {said}"
    print(
        f"takeover after deleting {victim}: {takeover:.2f}s (lease {LEASE_SECONDS:g}s); moved {moved};"
        f" shard handovers in all: {handovers}; test {time.monotonic() - started:.0f}s"
    )
