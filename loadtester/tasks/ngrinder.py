"""`ngrinder`: clone and start an nGrinder performance test, poll it, stop it at the deadline (queued).

Validation messages are Flagger's. Fixed: `pollInterval` is a plain duration (Flagger multiplies it by
one second, so `1s` never polls and `10s` crashes the process); a missing or non-numeric test id is a
failed task instead of a crash; HTTP statuses are checked.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from goconv.durations import DurationError, parse_duration
from loadtester.errors import LoadtesterError
from loadtester.payload import Payload
from loadtester.tasks.base import Mode, Task, TaskContext, TaskRequestError, TaskResult
from loadtester.tasks.polling import poll_until_done

_DEFAULT_POLL_INTERVAL = 1.0
_FAILED_STATUSES = ("STOP_BY_ERROR", "CANCELED", "UNKNOWN")


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class NGrinderTask(Task):
    server: str
    clone: int
    username: str
    password: str
    poll_interval: float
    type: str = "ngrinder"
    mode: Mode = "queued"

    def url(self, path: str) -> str:
        return urljoin(self.server, path)

    async def run(self, context: TaskContext) -> TaskResult:
        started = time.monotonic()
        http = context.http()
        credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        auth = {"Authorization": f"Basic {credentials}"}
        try:
            body = await self._json(http, "POST", f"perftest/api/{self.clone}/clone_and_start", auth)
        except _NGrinderError as error:
            return TaskResult(ok=False, error=str(error), duration=time.monotonic() - started)
        if body.get("success") is False:
            return TaskResult(ok=False, error=f"clone_and_start failed: {body}", duration=0.0)
        test_id = body.get("id")
        if not isinstance(test_id, int) or isinstance(test_id, bool):
            return TaskResult(ok=False, error=f"clone_and_start returned no test id: {body}", duration=0.0)
        try:
            async with asyncio.timeout(context.timeout):
                failure = await self._poll(http, auth, test_id, context)
        except TimeoutError:
            # The run deadline passed: stop the test, outside any deadline, as Flagger does.
            try:
                await self._json(http, "PUT", f"perftest/api/{test_id}?action=stop", auth)
            except _NGrinderError as stop_error:
                context.logger.warning("stopping ngrinder test %s failed: %s", test_id, stop_error)
            failure = f"ngrinder test {test_id} stopped at the deadline"
        return TaskResult(ok=not failure, error=failure, duration=time.monotonic() - started)

    async def _poll(
        self, http: aiohttp.ClientSession, auth: dict[str, str], test_id: int, context: TaskContext
    ) -> str:

        async def check() -> str | None:
            try:
                body = await self._json(http, "GET", f"perftest/api/{test_id}/status", auth)
                status = body["status"][0]["status_id"]
            except (_NGrinderError, KeyError, IndexError, TypeError) as error:
                context.logger.debug("ngrinder status of test %s: %s", test_id, error)
                return None
            if status == "FINISHED":
                return ""
            if status in _FAILED_STATUSES:
                return f"ngrinder test {test_id} ended with status {status}"
            return None

        return await poll_until_done(check, interval=self.poll_interval)

    async def _json(self, http: aiohttp.ClientSession, method: str, path: str, auth: dict[str, str]) -> Any:
        try:
            async with http.request(method, self.url(path), headers=auth) as response:
                if response.status >= 300:
                    raise _NGrinderError(f"{method} {path}: HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, ValueError) as error:
            raise _NGrinderError(f"{method} {path}: {error}") from None


class _NGrinderError(LoadtesterError):
    pass


def new_ngrinder_task(payload: Payload, metadata: Mapping[str, str]) -> NGrinderTask:
    server = metadata.get("server", "")
    clone = metadata.get("clone", "")
    username = metadata.get("username", "")
    password = metadata.get("passwd", "")
    if not (server and clone and username and password):
        raise TaskRequestError(400, "server, clone, username and passwd are required metadata")
    try:
        urlsplit(server)
    except ValueError as error:
        raise TaskRequestError(400, f"invalid url: {server}: {error}") from None
    try:
        clone_id = int(clone)
    except ValueError as error:
        raise TaskRequestError(400, f"metadata clone must be integer: {error}") from None
    try:
        decoded = base64.b64decode(password, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise TaskRequestError(400, f"metadata password is invalid: {error}") from None
    try:
        poll_interval = parse_duration(metadata.get("pollInterval", ""))
    except DurationError:
        poll_interval = _DEFAULT_POLL_INTERVAL
    if poll_interval <= 0:
        poll_interval = _DEFAULT_POLL_INTERVAL
    return NGrinderTask(
        name=payload.name,
        namespace=payload.namespace,
        command=f"clone {clone_id}",
        server=server,
        clone=clone_id,
        username=username,
        password=decoded,
        poll_interval=poll_interval,
    )
