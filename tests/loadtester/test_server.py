"""Flagger's server_test.go ported, plus the request cases spec §10 lists (exact statuses and bodies)."""

from __future__ import annotations

import re

import pytest

from loadtester.app import RUNNER
from tests.loadtester.conftest import LoadTester, StartLoadTester, eventually

# -- server_test.go ---------------------------------------------------------------------------------


async def test_healthz_answers_ok(loadtester: LoadTester) -> None:
    reply = await loadtester.request("GET", "/healthz")
    assert (reply.status, reply.body) == (200, b"OK")
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_bash_exit_zero_returns_empty_body(loadtester: LoadTester) -> None:
    reply = await loadtester.post(
        "/", {"metadata": {"type": "bash", "cmd": "echo some-output-not-to-be-returned"}}
    )
    assert (reply.status, reply.body) == (200, b"")


async def test_bash_exit_zero_with_return_cmd_output(loadtester: LoadTester) -> None:
    reply = await loadtester.post(
        "/",
        {"metadata": {"type": "bash", "cmd": "echo some-output-to-be-returned", "returnCmdOutput": "true"}},
    )
    assert (reply.status, reply.body) == (200, b"some-output-to-be-returned\n")


async def test_bash_exit_non_zero(loadtester: LoadTester) -> None:
    reply = await loadtester.post("/", {"metadata": {"type": "bash", "cmd": "false"}})
    assert (reply.status, reply.body) == (500, b"command false failed: : exit status 1")


# -- more bash ----------------------------------------------------------------------------------------


async def test_bash_failure_body_carries_output_and_exit_status(loadtester: LoadTester) -> None:
    reply = await loadtester.task(type="bash", cmd="echo out; echo err >&2; exit 3")
    assert reply.status == 500
    assert reply.text == "command echo out; echo err >&2; exit 3 failed: out\nerr\n: exit status 3"


async def test_bash_without_cmd_succeeds(loadtester: LoadTester) -> None:
    reply = await loadtester.task(type="bash")
    assert (reply.status, reply.body) == (200, b"")


@pytest.mark.parametrize("flag", ["1", "t", "T", "TRUE", "true", "True"])
async def test_return_cmd_output_accepts_go_booleans(loadtester: LoadTester, flag: str) -> None:
    reply = await loadtester.task(type="bash", cmd="printf x", returnCmdOutput=flag)
    assert reply.body == b"x"


@pytest.mark.parametrize("flag", ["yes", "", "false", "0"])
async def test_return_cmd_output_other_values_mean_false(loadtester: LoadTester, flag: str) -> None:
    reply = await loadtester.task(type="bash", cmd="printf x", returnCmdOutput=flag)
    assert (reply.status, reply.body) == (200, b"")


async def test_bash_uses_bash_not_sh(loadtester: LoadTester) -> None:
    reply = await loadtester.task(
        type="bash", cmd="[[ 1 == 1 ]] && echo $BASH_VERSION", returnCmdOutput="true"
    )
    assert reply.status == 200
    assert re.match(rb"\d+\.\d+", reply.body)


# -- bad input ----------------------------------------------------------------------------------------


async def test_empty_body_is_400_with_empty_body(loadtester: LoadTester) -> None:
    reply = await loadtester.request("POST", "/", data=b"")
    assert (reply.status, reply.body) == (400, b"")
    assert "Content-Type" not in reply.headers


async def test_null_body_decodes_and_lacks_metadata(loadtester: LoadTester) -> None:
    reply = await loadtester.request("POST", "/", data=b"null")
    assert (reply.status, reply.body) == (400, b"metadata not found in payload")


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"true", b"{", b'{"metadata":{}} trailing'])
async def test_non_object_or_broken_json_is_400_empty(loadtester: LoadTester, body: bytes) -> None:
    reply = await loadtester.request("POST", "/", data=body)
    assert (reply.status, reply.body) == (400, b"")


@pytest.mark.parametrize("value", ["1", "true", "{}", "[]"])
async def test_non_string_metadata_value_is_400_empty(loadtester: LoadTester, value: str) -> None:
    body = '{"metadata": {"type": "bash", "cmd": ' + value + "}}"
    reply = await loadtester.request("POST", "/", data=body)
    assert (reply.status, reply.body) == (400, b"")


async def test_empty_metadata_is_400(loadtester: LoadTester) -> None:
    reply = await loadtester.post("/", {"name": "podinfo", "namespace": "test", "metadata": {}})
    assert (reply.status, reply.body) == (400, b"metadata not found in payload")


async def test_cmd_without_cmd_is_400(loadtester: LoadTester) -> None:
    reply = await loadtester.task(type="cmd")
    assert (reply.status, reply.body) == (400, b"cmd not found in metadata")
    reply = await loadtester.task(logCmdOutput="true")  # no type means cmd
    assert (reply.status, reply.body) == (400, b"cmd not found in metadata")


@pytest.mark.parametrize("task_type", ["", "Bash", "perl"])
async def test_unknown_type_is_400_not_a_dropped_connection(loadtester: LoadTester, task_type: str) -> None:
    reply = await loadtester.task(type=task_type, cmd="true")
    assert (reply.status, reply.text) == (400, f"unknown task type {task_type}")


async def test_oversized_body_is_413(loadtester: LoadTester) -> None:
    big = '{"metadata": {"type": "bash", "cmd": "' + "x" * (1024 * 1024 + 1) + '"}}'
    reply = await loadtester.request("POST", "/", data=big)
    assert reply.status == 413


async def test_body_just_under_the_limit_is_accepted(loadtester: LoadTester) -> None:
    padding = "x" * (1024 * 1024 - 200)
    reply = await loadtester.post("/", {"metadata": {"type": "bash", "cmd": "true", "pad": padding}})
    assert reply.status == 200


async def test_top_level_field_names_match_ignoring_case(start_loadtester: StartLoadTester) -> None:
    tester = await start_loadtester(namespace_regexp=re.compile("^test$"))
    reply = await tester.post("/", {"NAMESPACE": "test", "Metadata": {"type": "bash", "cmd": "true"}})
    assert (reply.status, reply.body) == (200, b"")


# -- authorizer ---------------------------------------------------------------------------------------


async def test_forbidden_namespace_is_403_before_metadata_checks(start_loadtester: StartLoadTester) -> None:
    tester = await start_loadtester(namespace_regexp=re.compile("^prod$"))
    reply = await tester.post("/", {"namespace": "dev", "metadata": {"type": "bash", "cmd": "true"}})
    assert (reply.status, reply.body) == (403, b"Forbidden")
    reply = await tester.post("/", {"namespace": "dev"})  # no metadata at all: still 403 first
    assert (reply.status, reply.body) == (403, b"Forbidden")
    bad_metadata = b'{"namespace": "dev", "metadata": {"cmd": 1}}'  # a decode error wins over 403
    assert (await tester.request("POST", "/", data=bad_metadata)).status == 400


async def test_namespace_regexp_is_unanchored_like_go(start_loadtester: StartLoadTester) -> None:
    tester = await start_loadtester(namespace_regexp=re.compile("test"))
    reply = await tester.post("/", {"namespace": "my-test-ns", "metadata": {"type": "bash", "cmd": "true"}})
    assert reply.status == 200
    reply = await tester.post("/", {"namespace": "prod", "metadata": {"type": "bash", "cmd": "true"}})
    assert reply.status == 403


# -- routing ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/notfound", "/gate/check/", "/healthz/", "/a/b/c"])
async def test_unknown_paths_are_task_requests(loadtester: LoadTester, path: str) -> None:
    reply = await loadtester.post(path, {"name": "x"})
    assert (reply.status, reply.body) == (400, b"metadata not found in payload")
    reply = await loadtester.post(path, {"metadata": {"type": "bash", "cmd": "printf hit"}})
    assert reply.status == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_task_route_accepts_every_method(loadtester: LoadTester, method: str) -> None:
    reply = await loadtester.request(method, "/", data=b'{"metadata": {"type": "bash", "cmd": "true"}}')
    assert reply.status == 200


async def test_unclean_paths_redirect_like_servemux(loadtester: LoadTester) -> None:
    reply = await loadtester.request("GET", "//healthz")
    assert (reply.status, reply.headers["Location"]) == (301, "/healthz")
    reply = await loadtester.request("POST", "/gate//check/?x=1")
    assert (reply.status, reply.headers["Location"]) == (301, "/gate/check/?x=1")


# -- text that is not valid Unicode (found by fuzzing) ----------------------------------------------


async def test_unpaired_surrogate_in_cmd_runs_with_a_replacement_character(loadtester: LoadTester) -> None:
    reply = await loadtester.post(
        "/", data=rb'{"metadata": {"type": "bash", "cmd": "echo \ud800", "returnCmdOutput": "true"}}'
    )
    assert (reply.status, reply.body) == (200, "\ufffd\n".encode())


async def test_unpaired_surrogate_in_a_failing_cmd_is_in_the_failure_body(loadtester: LoadTester) -> None:
    reply = await loadtester.post("/", data=rb'{"metadata": {"type": "bash", "cmd": "echo \ud800; exit 4"}}')
    assert reply.status == 500
    assert reply.text == "command echo \ufffd; exit 4 failed: \ufffd\n: exit status 4"


async def test_unpaired_surrogate_in_a_queued_cmd_runs(loadtester: LoadTester) -> None:
    reply = await loadtester.post(
        "/", data=rb'{"name": "p\udfff", "namespace": "t", "metadata": {"cmd": "echo \ud800"}}'
    )
    assert reply.status == 202
    runner = loadtester.app[RUNNER]
    key = "cmd:p\ufffd.t:echo \ufffd"
    assert await eventually(lambda: key in runner.snapshot()["results"])
    assert runner.snapshot()["results"][key]["output_tail"] == "\ufffd\n"
