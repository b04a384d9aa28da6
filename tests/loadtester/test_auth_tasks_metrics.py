"""Additions beyond Flagger: bearer-token authentication, GET /tasks, task and gate metrics."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.loadtester.conftest import LoadTester, StartLoadTester

TOKEN = "s3cret-token"
BASH_TRUE = {"name": "podinfo", "namespace": "test", "metadata": {"type": "bash", "cmd": "true"}}


@pytest.fixture
async def secured(start_loadtester: StartLoadTester) -> LoadTester:
    return await start_loadtester(auth_token=TOKEN)


@pytest.mark.parametrize("path", ["/", "/gate/check", "/gate/approve", "/gate/halt", "/tasks", "/healthz/"])
async def test_token_required_everywhere_but_health_and_metrics(secured: LoadTester, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        reply = await secured.post(path, BASH_TRUE, headers=headers)
        assert (reply.status, reply.body) == (401, b"Unauthorized")


async def test_health_and_metrics_need_no_token(secured: LoadTester) -> None:
    assert (await secured.request("GET", "/healthz")).status == 200
    assert (await secured.request("GET", "/metrics")).status == 200


async def test_right_token_gets_through(secured: LoadTester) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert (await secured.post("/", BASH_TRUE, headers=headers)).status == 200
    assert (await secured.request("GET", "/gate/approve", headers=headers)).status == 200
    assert (await secured.request("GET", "/tasks", headers=headers)).status == 200


async def test_no_token_configured_means_no_authentication(loadtester: LoadTester) -> None:
    assert (await loadtester.post("/", BASH_TRUE)).status == 200


async def test_tasks_lists_running_and_last_results(loadtester: LoadTester) -> None:
    await loadtester.task(type="bash", cmd="echo fine", returnCmdOutput="true")
    await loadtester.task(type="bash", cmd="echo broken; exit 2")
    await loadtester.task(cmd="sleep 5")
    await asyncio.sleep(0.1)
    reply = await loadtester.request("GET", "/tasks")
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/json")
    listing = json.loads(reply.body)
    assert listing["pending"] == []
    [running] = listing["running"]
    assert (running["key"], running["mode"], running["canary"]) == (
        "cmd:podinfo.test:sleep 5",
        "queued",
        "podinfo.test",
    )
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", running["started_at"])
    fine = listing["results"]["bash:podinfo.test:echo fine"]
    assert (fine["ok"], fine["exit_code"], fine["output_tail"], fine["error"]) == (True, 0, "fine\n", "")
    assert fine["duration_seconds"] >= 0 and fine["finished_at"].endswith("Z")
    broken = listing["results"]["bash:podinfo.test:echo broken; exit 2"]
    assert (broken["ok"], broken["exit_code"], broken["error"]) == (False, 2, "exit status 2")


async def test_post_to_tasks_is_a_task_request_like_any_unknown_path(loadtester: LoadTester) -> None:
    reply = await loadtester.post("/tasks", {"metadata": {"type": "bash", "cmd": "printf x"}})
    assert reply.status == 200


def _sample(exposition: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", exposition, re.M)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_tasks_and_gate_checks(loadtester: LoadTester) -> None:
    await loadtester.task(type="bash", cmd="true")
    await loadtester.task(type="bash", cmd="false")
    await asyncio.gather(*(loadtester.task(type="bash", cmd="sleep 0.3") for _ in range(3)))
    await loadtester.post("/gate/check", {"name": "a", "namespace": "b"})
    await loadtester.post("/gate/open", {"name": "a", "namespace": "b"})
    await loadtester.post("/gate/check", {"name": "a", "namespace": "b"})
    text = (await loadtester.request("GET", "/metrics")).text
    assert _sample(text, "flagman_loadtester_tasks_started_total", 'type="bash"') == 3
    assert _sample(text, "flagman_loadtester_tasks_skipped_total", 'type="bash"') == 2
    assert _sample(text, "flagman_loadtester_tasks_finished_total", 'outcome="success",type="bash"') == 2
    assert _sample(text, "flagman_loadtester_tasks_finished_total", 'outcome="failure",type="bash"') == 1
    assert _sample(text, "flagman_loadtester_task_duration_seconds_count", 'type="bash"') == 3
    assert _sample(text, "flagman_loadtester_tasks_running", 'type="bash"') == 0
    assert _sample(text, "flagman_loadtester_gate_checks_total", 'gate="gate",result="denied"') == 1
    assert _sample(text, "flagman_loadtester_gate_checks_total", 'gate="gate",result="approved"') == 1
    assert "process_resident_memory_bytes" in text


async def test_running_gauge_and_timeouts(start_loadtester: StartLoadTester) -> None:
    tester = await start_loadtester(timeout=0.3)
    pending = asyncio.create_task(tester.task(type="bash", cmd="sleep 5"))
    await asyncio.sleep(0.1)
    text = (await tester.request("GET", "/metrics")).text
    assert _sample(text, "flagman_loadtester_tasks_running", 'type="bash"') == 1
    assert (await pending).status == 500
    text = (await tester.request("GET", "/metrics")).text
    assert _sample(text, "flagman_loadtester_tasks_finished_total", 'outcome="timeout",type="bash"') == 1
