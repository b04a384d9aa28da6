"""Gates and rollback flags (spec §7.1): default closed, open/close/check, independent rollback keys."""

from __future__ import annotations

import re

import pytest

from tests.loadtester.conftest import LoadTester, StartLoadTester

CANARY = {"name": "podinfo", "namespace": "test"}


async def test_gate_is_closed_by_default(loadtester: LoadTester) -> None:
    reply = await loadtester.post("/gate/check", CANARY)
    assert (reply.status, reply.body) == (403, b"Forbidden")


async def test_gate_open_check_close(loadtester: LoadTester) -> None:
    reply = await loadtester.post("/gate/open", CANARY)
    assert (reply.status, reply.body) == (202, b"")
    assert "Content-Type" not in reply.headers
    reply = await loadtester.post("/gate/check", CANARY)
    assert (reply.status, reply.body) == (200, b"Approved")
    reply = await loadtester.post("/gate/close", CANARY)
    assert (reply.status, reply.body) == (202, b"")
    reply = await loadtester.post("/gate/check", CANARY)
    assert (reply.status, reply.body) == (403, b"Forbidden")


async def test_gates_are_per_canary(loadtester: LoadTester) -> None:
    await loadtester.post("/gate/open", CANARY)
    other = await loadtester.post("/gate/check", {"name": "podinfo", "namespace": "prod"})
    assert other.status == 403


async def test_rollback_keys_are_independent_of_gate_keys(loadtester: LoadTester) -> None:
    await loadtester.post("/gate/open", CANARY)
    assert (await loadtester.post("/rollback/check", CANARY)).status == 403
    reply = await loadtester.post("/rollback/open", CANARY)
    assert (reply.status, reply.body) == (202, b"")
    reply = await loadtester.post("/rollback/check", CANARY)
    assert (reply.status, reply.body) == (200, b"Approved")
    await loadtester.post("/gate/close", CANARY)
    assert (await loadtester.post("/rollback/check", CANARY)).status == 200
    await loadtester.post("/rollback/close", CANARY)
    assert (await loadtester.post("/rollback/check", CANARY)).status == 403


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_approve_and_halt_answer_any_method(loadtester: LoadTester, method: str) -> None:
    reply = await loadtester.request(method, "/gate/approve")
    assert (reply.status, reply.body) == (200, b"OK")
    reply = await loadtester.request(method, "/gate/halt")
    assert (reply.status, reply.body) == (403, b"Forbidden")


async def test_gate_routes_accept_any_method(loadtester: LoadTester) -> None:
    body = b'{"name": "podinfo", "namespace": "test"}'
    assert (await loadtester.request("PUT", "/gate/open", data=body)).status == 202
    assert (await loadtester.request("GET", "/gate/check", data=body)).status == 200


async def test_gate_bad_body_is_400_empty(loadtester: LoadTester) -> None:
    for body in (b"", b"[1]", b'{"name": 3}'):
        reply = await loadtester.request("POST", "/gate/check", data=body)
        assert (reply.status, reply.body) == (400, b"")


async def test_null_body_addresses_the_empty_key(loadtester: LoadTester) -> None:
    assert (await loadtester.request("POST", "/gate/open", data=b"null")).status == 202
    assert (await loadtester.post("/gate/check", {})).status == 200


async def test_gate_in_forbidden_namespace_is_403(start_loadtester: StartLoadTester) -> None:
    tester = await start_loadtester(namespace_regexp=re.compile("^prod$"))
    assert (await tester.post("/gate/open", CANARY)).status == 403
    assert (await tester.post("/gate/check", {"name": "podinfo", "namespace": "prod"})).status == 403
    assert (await tester.post("/gate/open", {"name": "podinfo", "namespace": "prod"})).status == 202
    assert (await tester.post("/gate/check", {"name": "podinfo", "namespace": "prod"})).status == 200
