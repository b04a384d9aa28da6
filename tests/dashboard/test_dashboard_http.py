"""The dashboard over HTTP against the sandbox API server (no browser): pages, SSE, actions, guards."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from controller.kube.api import CANARIES
from tests.controller.kube.support import eventually
from tests.dashboard.conftest import Sandbox, running_dashboard


async def _next_event(response: aiohttp.ClientResponse, kind: str) -> dict[str, object]:
    current = ""
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            current = line[len("event: ") :]
        elif line.startswith("data: ") and current == kind:
            data: dict[str, object] = json.loads(line[len("data: ") :])
            return data
    raise AssertionError("the event stream ended")


async def test_live_list_analysis_and_read_only_by_default(sandbox: Sandbox) -> None:
    async with (
        running_dashboard(sandbox.server.kubeconfig, allow_actions=False) as url,
        aiohttp.ClientSession(url) as http,
    ):
        async with http.get("/events") as events:
            first = await asyncio.wait_for(_next_event(events, "canary"), 10)
            assert (first["key"], first["phase"], first["iterations"], first["totalIterations"]) == (
                "test/podinfo",
                "Progressing",
                1,
                10,
            )
            await sandbox.set_status(iterations=6)
            changed = await asyncio.wait_for(_next_event(events, "canary"), 10)
            assert (changed["iterations"], changed["progress"]) == (6, 60)
        async with http.get("/api/canaries") as response:
            listed = (await response.json())["canaries"]
        assert [item["key"] for item in listed] == ["test/podinfo"]
        assert "webhooks" not in json.dumps(listed) and "loadtester" not in json.dumps(listed), (
            "no spec details"
        )
        async with http.get("/canary/test/podinfo/analysis") as response:
            panel = await response.text()
        assert panel.count("<svg") == 3 and "band: ≤ 500ms" in panel
        assert '<option value="" selected>latest (run 4, Running)</option>' in panel, "follows the latest"
        assert panel.index('<option value="4">') < panel.index('<option value="3">'), "newest first"
        async with http.get("/canary/test/podinfo/analysis?run=3") as response:
            earlier = await response.text()
        assert '<option value="3" selected>run 3: Succeeded' in earlier and earlier.count("<svg") == 2
        assert 'href="/canary/test/podinfo/report?run=3&amp;format=png"' in earlier
        async with http.get("/canary/test/podinfo/analysis?run=9") as response:
            assert "run 9 of podinfo.test is not kept (kept: 3, 4)" in await response.text()
        async with http.get("/canary/test/podinfo/analysis?run=x") as response:
            assert response.status == 400
        async with http.get("/canary/test/podinfo/report?run=3&format=png") as response:
            assert response.content_type == "image/png"
            assert (await response.read()).startswith(b"\x89PNG\r\n\x1a\n")
        async with http.get("/canary/test/podinfo/report?format=svg") as response:
            assert response.content_type == "image/svg+xml" and "<svg" in await response.text()
        async with http.get("/canary/test/podinfo/report?run=3") as response:
            assert "podinfo.test analysis run 3" in await response.text()
        async with http.get("/canary/test/podinfo/report?format=gif") as response:
            assert response.status == 400
        async with http.get("/canary/test/podinfo") as response:
            page = await response.text()
        assert "Read-only" in page and "<button" not in page
        async with http.post("/canary/test/podinfo/actions/abort") as response:
            assert response.status == 403
        async with http.get("/", headers={"Host": "evil.example:80"}) as response:
            assert response.status == 403, "DNS rebinding guard"
        async with http.get("/canary/test/absent/analysis") as response:
            assert "has no analysis history" in await response.text()


async def test_actions_need_the_token_and_write_the_request_as_the_user(sandbox: Sandbox) -> None:
    async with (
        running_dashboard(sandbox.server.kubeconfig, allow_actions=True) as url,
        aiohttp.ClientSession(url) as http,
    ):
        async with http.get("/canary/test/podinfo") as response:
            page = await response.text()
        token = page.split("const TOKEN=", 1)[1].split(";", 1)[0].strip('"')
        async with http.post("/canary/test/podinfo/actions/abort") as response:
            assert response.status == 403
        async with http.post(
            "/canary/test/podinfo/actions/retry", headers={"X-Flagman-Token": token}
        ) as response:
            answer = await response.json()
            assert response.status == 409
        assert "cannot retry podinfo.test: it is Progressing, not Failed" in answer["message"]
        async with http.post(
            "/canary/test/podinfo/actions/abort", headers={"X-Flagman-Token": token}
        ) as response:
            answer = await response.json()
        assert answer["ok"] and answer["message"].startswith("abort requested for podinfo.test")
        stored = await sandbox.api.get(CANARIES, "test", "podinfo")
        request = json.loads(stored["metadata"]["annotations"]["flagman.app/request"])
        assert request["action"] == "abort" and request["id"] == answer["request"]

        async def act(verb: str) -> dict[str, object]:
            async with http.post(
                f"/canary/test/podinfo/actions/{verb}", headers={"X-Flagman-Token": token}
            ) as response:
                assert response.status == 200
                answer: dict[str, object] = await response.json()
                return answer

        assert (await act("pause"))["message"] == "podinfo.test paused by sandbox"
        paused = await sandbox.api.get(CANARIES, "test", "podinfo")
        assert json.loads(paused["metadata"]["annotations"]["flagman.app/paused"])["requestedBy"] == "sandbox"

        async def listed_paused_by() -> object:
            async with http.get("/api/canaries") as response:
                return (await response.json())["canaries"][0]["paused"]

        assert await eventually(listed_paused_by, what="the watch sees the pause") == "sandbox"
        # A status write between the read and the patch (409): the Canary is read again, as a second
        # click would; after five conflicts in a row the user is told to try again.
        sandbox.server.faults.fail("patch", "canaries", 409, times=2)
        assert (await act("resume"))["message"] == "podinfo.test resumed"
        sandbox.server.faults.fail("patch", "canaries", 409, times=5)
        async with http.post(
            "/canary/test/podinfo/actions/pause", headers={"X-Flagman-Token": token}
        ) as response:
            assert response.status == 409
            assert "changed while the request was written: try again" in (await response.json())["message"]
        sandbox.server.faults.clear()
        assert (await act("resume"))["message"] == "podinfo.test is not paused"
        resumed = await sandbox.api.get(CANARIES, "test", "podinfo")
        assert "flagman.app/paused" not in resumed["metadata"]["annotations"]
        async with http.post(
            "/canary/test/podinfo/actions/delete", headers={"X-Flagman-Token": token}
        ) as response:
            assert response.status == 404
