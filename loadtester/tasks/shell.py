"""`cmd` (queued, `sh -c`) and `bash` (blocking, `bash -c`): Flagger's shell task types."""

from __future__ import annotations

from collections.abc import Mapping

from loadtester.payload import Payload, go_bool
from loadtester.tasks.base import TaskRequestError
from loadtester.tasks.command import ProgramTask


def new_cmd_task(payload: Payload, metadata: Mapping[str, str]) -> ProgramTask:
    """Background load (typically `hey`): answered 202 at once, one run per canary and command."""
    if "cmd" not in metadata:
        raise TaskRequestError(400, "cmd not found in metadata")
    command = metadata["cmd"]
    return ProgramTask(
        type="cmd",
        mode="queued",
        name=payload.name,
        namespace=payload.namespace,
        command=command,
        argv=("sh", "-c", command),
        log_output=go_bool(metadata.get("logCmdOutput")),
    )


def new_bash_task(payload: Payload, metadata: Mapping[str, str]) -> ProgramTask:
    """A blocking test whose exit status is the verdict; a missing cmd runs `bash -c ""` (success)."""
    command = metadata.get("cmd", "")
    return ProgramTask(
        type="bash",
        mode="blocking",
        name=payload.name,
        namespace=payload.namespace,
        command=command,
        argv=("bash", "-c", command),
        log_output=True,
    )
