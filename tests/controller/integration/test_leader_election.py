"""Leader election between real controller processes against one sandbox API server.

The timings come from the hidden `FLAGMAN_LEADER_ELECTION_*` variables, a second or less, so a takeover
takes about a second instead of Flagger's minute. Which replica acts is read through the API (the Lease
holder), the replicas' /readyz, and the sandbox request log: a dead leader writes nothing, so every
controller write between its SIGKILL and the follower's first successful Lease write would be the
follower's — there must be none.
"""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest

from controller.leader import LEASE_NAME, LEASES, LeaseTimings, LeaseTimingsError
from tests.controller.integration import harness
from tests.controller.integration.conftest import Bench
from tests.controller.integration.harness import ControllerProcess
from tests.controller.integration.scenarios import apply_canary, deploy_podinfo, set_image
from tests.controller.kube.support import eventually


def election_args(namespace: str) -> list[str]:
    return ["-enable-leader-election", f"-leader-election-namespace={namespace}"]


FAST = {"lease": "1s", "renew": "800ms", "retry": "200ms"}
LEASE_SECONDS = 1.0
CONTROLLER_AGENTS = ("flagman-controller/", "kopf/")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def use_timings(monkeypatch: pytest.MonkeyPatch, lease: str, renew: str, retry: str) -> None:
    """Controller processes started from now on get these lease timings (the harness passes no env)."""
    original = harness._env
    extra = {
        "FLAGMAN_LEADER_ELECTION_LEASE_DURATION": lease,
        "FLAGMAN_LEADER_ELECTION_RENEW_DEADLINE": renew,
        "FLAGMAN_LEADER_ELECTION_RETRY_PERIOD": retry,
    }
    monkeypatch.setattr(harness, "_env", lambda: {**original(), **extra})


@pytest.fixture
def candidates(bench: Bench, tmp_path: pathlib.Path) -> Iterator[Callable[[str], ControllerProcess]]:
    """Start more controller replicas with election on (the bench's own one is `bench.controller`)."""
    started: list[ControllerProcess] = []

    def start(name: str) -> ControllerProcess:
        process = ControllerProcess(
            bench.target.controller_kubeconfig,
            bench.prometheus.url,
            tmp_path / f"controller-{name}.log",
            extra_args=election_args(bench.ns),
        ).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def readyz(controller: ControllerProcess) -> int:
    return await _status(f"http://127.0.0.1:{controller.port}/readyz")


async def lease_spec(bench: Bench) -> dict[str, Any]:
    return dict((await bench.api.get(LEASES, bench.ns, LEASE_NAME)).get("spec") or {})


async def wait_holder(bench: Bench, accept: Callable[[str], bool], what: str, within: float = 30) -> str:
    async def holder() -> str | None:
        current = str((await lease_spec(bench)).get("holderIdentity") or "")
        return current if accept(current) else None

    return await eventually(holder, within=within, interval=0.02, what=what)


async def wait_ready(controller: ControllerProcess, within: float = 30) -> None:
    async def ready() -> bool:
        return await readyz(controller) == 200

    try:
        await eventually(ready, within=within, what="/readyz 200")
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- log ---\n{controller.log_tail()}") from None


async def wait_log(controller: ControllerProcess, text: str, within: float = 30) -> None:
    async def logged() -> bool:
        return text in controller.log_tail(400)

    await eventually(logged, within=within, what=f"log line {text!r}")


async def wait_exit(controller: ControllerProcess, within: float = 30) -> int:
    assert controller.process is not None and controller.process.popen is not None
    return await asyncio.to_thread(controller.process.popen.wait, within)


def controller_writes(bench: Bench, start: int, end: int | None = None) -> list[str]:
    """`METHOD path` of the controllers' writes in the request log, except Lease writes."""
    records = list(bench.server.request_log)[start:end]
    return [
        f"{record.method} {record.path}"
        for record in records
        if record.user_agent.startswith(CONTROLLER_AGENTS)
        and record.method in WRITES
        and "/leases" not in record.path
    ]


@pytest.mark.emulator_only  # the emulator's request log
async def test_one_leader_acts_and_a_follower_takes_over_after_sigkill(
    bench: Bench, candidates: Callable[[str], ControllerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_timings(monkeypatch, **FAST)
    await deploy_podinfo(bench)
    await apply_canary(bench, interval="500ms")
    leader = bench.controller
    leader.extra_args.extend(election_args(bench.ns))
    leader.start()
    first_holder = await wait_holder(bench, bool, "a Lease holder")
    follower = candidates("follower")
    await wait_log(follower, f"Another instance has been elected as leader: {first_holder}")
    await bench.wait_phase("Initialized")
    await wait_ready(leader)
    assert await readyz(follower) == 503  # the follower's operator has not started
    assert "Acting as elected leader" in leader.log_tail(400)
    assert "Acting as elected leader" not in follower.log_tail(400)
    assert (await lease_spec(bench))["holderIdentity"] == first_holder

    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    await bench.wait_phase("Progressing")
    leader.kill()
    killed_at = time.monotonic()
    await asyncio.sleep(0.1)  # requests the leader sent before dying are answered (a follower needs >0.5s)
    after_kill = len(bench.server.request_log)
    second_holder = await wait_holder(bench, lambda holder: holder not in ("", first_holder), "a new holder")
    takeover = time.monotonic() - killed_at
    assert takeover < 4 * LEASE_SECONDS, f"took over after {takeover:.2f}s"

    log = list(bench.server.request_log)
    acquired = next(
        index
        for index in range(after_kill, len(log))
        if log[index].method in ("PUT", "POST") and "/leases" in log[index].path and log[index].status < 300
    )
    assert controller_writes(bench, after_kill, acquired) == []  # the follower wrote nothing
    bench.controller = follower  # its log explains a timeout from here on
    await bench.wait_phase("Succeeded")
    await bench.wait_message(f"Promotion completed! Scaling down podinfo.{bench.ns}")
    assert any("/canaries/podinfo/status" in write for write in controller_writes(bench, acquired))
    await wait_ready(follower)
    spec = await lease_spec(bench)
    assert spec["holderIdentity"] == second_holder
    assert spec["leaseTransitions"] == 1
    assert spec["leaseDurationSeconds"] == 1


async def test_sigterm_releases_the_lease_so_a_follower_takes_over_at_once(
    bench: Bench, candidates: Callable[[str], ControllerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 30s lease: without the release the follower would wait 30s.
    use_timings(monkeypatch, lease="30s", renew="20s", retry="200ms")
    await deploy_podinfo(bench)
    await apply_canary(bench)
    leader = bench.controller
    leader.extra_args.extend(election_args(bench.ns))
    leader.start()
    first_holder = await wait_holder(bench, bool, "a Lease holder")
    follower = candidates("follower")
    await bench.wait_phase("Initialized")
    await wait_log(follower, "Another instance has been elected as leader")

    started = time.monotonic()
    assert leader.stop() == 0
    assert time.monotonic() - started < 4  # the operator stopped by its own signal handler, no waiting out
    await wait_holder(bench, lambda holder: holder not in ("", first_holder), "the follower to take over")
    assert time.monotonic() - started < 10  # far less than the 30s lease
    assert f"Released Lease {bench.ns}/flagger-leader-election" in leader.log_tail()
    await wait_ready(follower)

    # The last replica releases too: nobody holds the Lease afterwards.
    assert follower.stop() == 0
    spec = await lease_spec(bench)
    assert spec["holderIdentity"] == ""
    assert spec["leaseTransitions"] == 1


async def test_a_follower_stops_at_once_on_sigterm(
    bench: Bench, candidates: Callable[[str], ControllerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_timings(monkeypatch, lease="30s", renew="20s", retry="200ms")
    bench.controller.extra_args.extend(election_args(bench.ns))
    bench.controller.start()
    holder = await wait_holder(bench, bool, "a Lease holder")
    follower = candidates("follower")
    await wait_log(follower, "Another instance has been elected as leader")
    started = time.monotonic()
    assert follower.stop() == 0
    assert time.monotonic() - started < 5
    assert "shutting down before being elected" in follower.log_tail()
    assert (await lease_spec(bench))["holderIdentity"] == holder  # the follower did not touch it


@pytest.mark.emulator_only  # injected 503s
async def test_a_leader_that_cannot_renew_exits_non_zero(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_timings(monkeypatch, lease="3s", renew="1s", retry="200ms")
    bench.controller.extra_args.extend(election_args(bench.ns))
    bench.controller.start()
    await wait_holder(bench, bool, "a Lease holder")
    await wait_ready(bench.controller)
    bench.server.faults.fail(None, "leases", 503, times=1_000_000)
    try:
        code = await wait_exit(bench.controller)
    finally:
        bench.server.faults.clear()
    assert code == 1
    assert f"Leadership lost: could not renew Lease {bench.ns}/flagger-leader-election for 1s" in (
        bench.controller.log_tail()
    )


async def test_without_the_flag_no_lease_is_used(bench: Bench) -> None:
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await wait_ready(bench.controller)
    if bench.target.server is not None:  # the emulator's request log: not even a read
        assert [record for record in list(bench.server.request_log) if "/leases" in record.path] == []
    assert (await bench.api.list(LEASES, bench.ns))["items"] == []


async def test_unusable_timings_are_refused(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_timings(monkeypatch, lease="1s", renew="2s", retry="200ms")
    controller = ControllerProcess(
        str(tmp_path / "no-kubeconfig"),
        "http://127.0.0.1:9",
        tmp_path / "controller.log",
        election_args("test"),
    ).start()
    assert await wait_exit(controller) == 2  # before any connection attempt
    assert (
        "flagman controller: leader-election lease duration (1s) must be greater than the renew deadline (2s)"
        in controller.log_tail()
    )


def test_timings_default_to_flaggers_and_read_go_durations() -> None:
    assert LeaseTimings.from_environ({}) == LeaseTimings(60.0, 15.0, 5.0)
    assert LeaseTimings.from_environ(
        {
            "FLAGMAN_LEADER_ELECTION_LEASE_DURATION": "1s",
            "FLAGMAN_LEADER_ELECTION_RENEW_DEADLINE": "800ms",
            "FLAGMAN_LEADER_ELECTION_RETRY_PERIOD": "200ms",
        }
    ) == LeaseTimings(1.0, 0.8, 0.2)
    with pytest.raises(LeaseTimingsError, match="invalid FLAGMAN_LEADER_ELECTION_RETRY_PERIOD='5'"):
        LeaseTimings.from_environ({"FLAGMAN_LEADER_ELECTION_RETRY_PERIOD": "5"})
    with pytest.raises(LeaseTimingsError, match=r"greater than 1.2 x the retry period \(5s\)"):
        LeaseTimings.from_environ({"FLAGMAN_LEADER_ELECTION_RENEW_DEADLINE": "6s"})
