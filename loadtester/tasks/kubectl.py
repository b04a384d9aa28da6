"""`kubectl`: run the `kubectl` binary with the command's arguments, no shell."""

from __future__ import annotations

from collections.abc import Mapping

from loadtester.payload import Payload
from loadtester.tasks.argv import split_arguments
from loadtester.tasks.command import ProgramTask


def new_kubectl_task(payload: Payload, metadata: Mapping[str, str]) -> ProgramTask:
    command = metadata.get("cmd", "")
    return ProgramTask(
        type="kubectl",
        mode="blocking",
        name=payload.name,
        namespace=payload.namespace,
        command=command,
        argv=("kubectl", *split_arguments(command)),
        log_output=True,
    )
