"""`concord`: start a Walmart Concord process over HTTP and poll it until it finishes (blocking).

Validation order and messages are Flagger's. Fixed: `pollTimeout` is an overall deadline (Flagger re-arms
it on every poll, so it never fires), HTTP statuses are checked, the API key's trailing newline is
stripped (Go refuses such a header), and log lines carry the canary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from loadtester.payload import Payload
from loadtester.tasks.base import Mode, Task, TaskContext, TaskRequestError, TaskResult
from loadtester.tasks.polling import poll_until_done

_ARGUMENT_PREFIX = "arguments."
_REQUIRED = ("org", "project", "repo", "entrypoint", "apiKeyPath")


def _required(metadata: Mapping[str, str], key: str) -> str:
    value = metadata.get(key, "")
    if not value:
        raise TaskRequestError(500, f"`{key}` is required with type concord")
    return value


def _seconds(metadata: Mapping[str, str], key: str, default: int) -> int:
    if key not in metadata:
        return default
    try:
        return int(metadata[key])
    except ValueError:
        raise TaskRequestError(500, f"unable to convert `{key}` to int") from None


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False)
class ConcordTask(Task):
    server: str  # scheme://host[:port], the path of `server` is ignored as in Flagger
    org: str
    project: str
    repo: str
    entrypoint: str
    api_key_path: str
    endpoint: str
    poll_interval: float
    poll_timeout: float
    arguments: Mapping[str, str]
    type: str = "concord"
    mode: Mode = "blocking"

    def form_fields(self) -> list[tuple[str, str]]:
        """The multipart fields, in the order Flagger sends them."""
        fields = [
            ("org", self.org),
            ("project", self.project),
            ("repo", self.repo),
            ("entryPoint", self.entrypoint),
            ("arguments.endpoint", self.endpoint),
        ]
        fields += [(f"arguments.{key}", value) for key, value in self.arguments.items()]
        return fields

    def _headers(self) -> dict[str, str]:
        with open(self.api_key_path, encoding="utf-8") as key_file:
            api_key = key_file.read().strip()
        return {"Authorization": api_key} if api_key else {}

    def failure_body(self, result: TaskResult) -> bytes:
        return result.error.encode()

    async def run(self, context: TaskContext) -> TaskResult:
        started = time.monotonic()
        try:
            async with asyncio.timeout(context.timeout):
                error = await self._start_and_wait(context.http())
        except TimeoutError:
            return TaskResult(ok=False, error="context timedout", duration=time.monotonic() - started)
        return TaskResult(ok=not error, error=error, duration=time.monotonic() - started)

    async def _start_and_wait(self, http: aiohttp.ClientSession) -> str:
        """Return "" on success, else the error text."""
        form = aiohttp.FormData(default_to_multipart=True)  # Concord reads multipart fields
        for key, value in self.form_fields():
            form.add_field(key, value)
        try:
            async with http.post(
                f"{self.server}/api/v1/process",
                data=form,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=60),
            ) as response:
                if response.status >= 300:
                    return f"failed to start concord process: HTTP {response.status}"
                started = await response.json(content_type=None)
            instance_id = str(started["instanceId"])
        except (aiohttp.ClientError, OSError, ValueError, KeyError, TypeError) as error:
            return f"failed to start concord process: {error}"

        async def check() -> str | None:
            try:
                async with http.get(
                    f"{self.server}/api/v1/process/{instance_id}",
                    headers=self._headers(),
                    timeout=aiohttp.ClientTimeout(total=60),
                ) as response:
                    if response.status >= 300:
                        return f"failed checking status: HTTP {response.status}"
                    status = (await response.json(content_type=None)).get("status")
            except (aiohttp.ClientError, OSError, ValueError, AttributeError) as error:
                return f"failed checking status: {error}"
            if status == "FINISHED":
                return ""
            if status == "FAILED":
                return f"concord instanceID: {instance_id} failed"
            return None

        return await poll_until_done(
            check,
            interval=self.poll_interval,
            give_up_after=self.poll_timeout,
            give_up_message=f"concord process timed out, after {self.poll_timeout:g} seconds",
        )


def new_concord_task(payload: Payload, metadata: Mapping[str, str]) -> ConcordTask:
    server = metadata.get("server", "")
    if not server:
        raise TaskRequestError(500, "`server` is required with type concord")
    try:
        parts = urlsplit(server)
        base = urlunsplit((parts.scheme, parts.netloc, "", "", "")) if parts.netloc else server.rstrip("/")
    except ValueError:
        raise TaskRequestError(500, "failed to create base URL from metadata `concord_url`") from None
    org, project, repo, entrypoint, api_key_path = (_required(metadata, key) for key in _REQUIRED)
    if not os.path.exists(api_key_path):
        raise TaskRequestError(500, f"`apiKeyPath` file doesn't exist {api_key_path}")
    endpoint = _required(metadata, "endpoint")
    poll_interval = _seconds(metadata, "pollInterval", 5)
    poll_timeout = _seconds(metadata, "pollTimeout", 30)
    arguments: dict[str, str] = {}
    for key, value in metadata.items():
        if not key.startswith(_ARGUMENT_PREFIX):
            continue
        argument = key[len(_ARGUMENT_PREFIX) :]
        if argument == "endpoint":
            raise TaskRequestError(
                500, "You cannot override Endpoint through arguments. You must override Endpoint directly"
            )
        arguments[argument] = value
    return ConcordTask(
        name=payload.name,
        namespace=payload.namespace,
        command=f"{org}/{project}/{repo}:{entrypoint}",
        server=base,
        org=org,
        project=project,
        repo=repo,
        entrypoint=entrypoint,
        api_key_path=api_key_path,
        endpoint=endpoint,
        poll_interval=float(poll_interval),
        poll_timeout=float(poll_timeout),
        arguments=arguments,
    )
