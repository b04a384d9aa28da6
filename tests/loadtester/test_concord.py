"""concord_test.go ported, plus a run against a loopback Concord stand-in."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from loadtester.payload import Payload
from loadtester.tasks import TaskRequestError
from loadtester.tasks.concord import ConcordTask, new_concord_task
from tests.loadtester.conftest import LoadTester
from tests.loadtester.recorder import RecordingServer


def _metadata(**extra: str) -> dict[str, str]:
    return {
        "type": "concord",
        "server": "example.org",
        "org": "my-org",
        "project": "my-project",
        "repo": "my-repo",
        "entrypoint": "my-flow",
        "apiKeyPath": "/",
        "endpoint": "/my-endpoint",
        **extra,
    }


def _task(metadata: dict[str, str]) -> ConcordTask:
    return new_concord_task(Payload(name="podinfo", namespace="test", metadata=metadata), metadata)


def test_new_concord_task_successful() -> None:
    task = _task(_metadata())
    assert (task.org, task.project, task.repo, task.entrypoint) == (
        "my-org",
        "my-project",
        "my-repo",
        "my-flow",
    )
    assert (task.poll_interval, task.poll_timeout) == (5, 30)


def test_new_concord_task_without_adequate_args() -> None:
    with pytest.raises(TaskRequestError, match="`server` is required with type concord"):
        _task({"test": "foo"})


def test_new_concord_task_additional_arguments() -> None:
    assert _task(_metadata(**{"arguments.test": "works"})).arguments == {"test": "works"}


def test_new_concord_task_dont_override_endpoint() -> None:
    with pytest.raises(TaskRequestError, match="You cannot override Endpoint through arguments"):
        _task(_metadata(**{"arguments.endpoint": "other"}))


def test_concord_task_building_default_fields() -> None:
    assert _task(_metadata()).form_fields() == [
        ("org", "my-org"),
        ("project", "my-project"),
        ("repo", "my-repo"),
        ("entryPoint", "my-flow"),
        ("arguments.endpoint", "/my-endpoint"),
    ]


def test_concord_task_additional_arguments_field() -> None:
    fields = _task(_metadata(**{"arguments.test": "thing"})).form_fields()
    assert len(fields) == 6 and fields[5] == ("arguments.test", "thing")


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("org", "`org` is required with type concord"),
        ("apiKeyPath", "`apiKeyPath` is required with type concord"),
        ("endpoint", "`endpoint` is required with type concord"),
    ],
)
def test_required_keys(missing: str, message: str) -> None:
    metadata = _metadata()
    del metadata[missing]
    with pytest.raises(TaskRequestError, match=message):
        _task(metadata)


def test_api_key_file_must_exist_and_intervals_must_be_integers() -> None:
    with pytest.raises(TaskRequestError, match="`apiKeyPath` file doesn't exist /no/such/key"):
        _task(_metadata(apiKeyPath="/no/such/key"))
    with pytest.raises(TaskRequestError, match="unable to convert `pollInterval` to int"):
        _task(_metadata(pollInterval="1s"))
    with pytest.raises(TaskRequestError, match="unable to convert `pollTimeout` to int"):
        _task(_metadata(pollTimeout="x"))


@pytest.fixture
def key_file(tmp_path: pathlib.Path) -> str:
    key = tmp_path / "key"
    key.write_text("api-key-value\n")  # the trailing newline is stripped (Go would refuse the header)
    return str(key)


@pytest.fixture
async def concord() -> AsyncIterator[RecordingServer]:
    server = RecordingServer()
    await server.start()
    yield server
    await server.stop()


def _statuses(*statuses: str) -> Any:
    remaining = list(statuses)
    return lambda request: {"status": remaining.pop(0) if len(remaining) > 1 else remaining[0]}


async def test_concord_run_succeeds_over_http(
    loadtester: LoadTester, concord: RecordingServer, key_file: str
) -> None:
    concord.on("POST", "/api/v1/process", lambda request: {"instanceId": "abc-1", "ok": True})
    concord.on("GET", "/api/v1/process/abc-1", _statuses("RUNNING", "FINISHED"))
    metadata = _metadata(
        server=concord.url + "/ignored/path", apiKeyPath=key_file, pollInterval="0", returnCmdOutput="true"
    )
    metadata["arguments.extra"] = "value"
    reply = await loadtester.post("/", {"name": "podinfo", "namespace": "test", "metadata": metadata})
    assert (reply.status, reply.body) == (200, b"")
    start, *polls = concord.requests
    assert (start.method, start.path, start.headers["Authorization"]) == (
        "POST",
        "/api/v1/process",
        "api-key-value",
    )
    assert start.form == [
        ("org", "my-org"),
        ("project", "my-project"),
        ("repo", "my-repo"),
        ("entryPoint", "my-flow"),
        ("arguments.endpoint", "/my-endpoint"),
        ("arguments.extra", "value"),
    ]
    assert [poll.path for poll in polls] == ["/api/v1/process/abc-1"] * 2


async def test_concord_failed_process_is_500(
    loadtester: LoadTester, concord: RecordingServer, key_file: str
) -> None:
    concord.on("POST", "/api/v1/process", lambda request: {"instanceId": "abc-2"})
    concord.on("GET", "/api/v1/process/abc-2", _statuses("FAILED"))
    reply = await loadtester.post(
        "/", {"metadata": _metadata(server=concord.url, apiKeyPath=key_file, pollInterval="0")}
    )
    assert (reply.status, reply.text) == (500, "concord instanceID: abc-2 failed")


async def test_concord_poll_timeout_is_an_overall_deadline(
    loadtester: LoadTester, concord: RecordingServer, key_file: str
) -> None:
    concord.on("POST", "/api/v1/process", lambda request: {"instanceId": "abc-3"})
    concord.on("GET", "/api/v1/process/abc-3", _statuses("RUNNING"))
    reply = await loadtester.post(
        "/",
        {"metadata": _metadata(server=concord.url, apiKeyPath=key_file, pollInterval="0", pollTimeout="1")},
    )
    assert (reply.status, reply.text) == (500, "concord process timed out, after 1 seconds")


async def test_concord_http_error_is_reported(
    loadtester: LoadTester, concord: RecordingServer, key_file: str
) -> None:
    reply = await loadtester.post(
        "/", {"metadata": _metadata(server=concord.url, apiKeyPath=key_file)}
    )  # no route: 404
    assert (reply.status, reply.text) == (500, "failed to start concord process: HTTP 404")


async def test_concord_validation_errors_are_500(loadtester: LoadTester) -> None:
    reply = await loadtester.post("/", {"metadata": {"type": "concord"}})
    assert (reply.status, reply.text) == (500, "`server` is required with type concord")
