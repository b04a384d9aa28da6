"""`helm` and `helmv3`: both run the `helm` binary (Helm 3) with the command's arguments, no shell."""

from __future__ import annotations

from collections.abc import Mapping

from loadtester.payload import Payload
from loadtester.tasks.argv import split_arguments
from loadtester.tasks.command import ProgramTask


def new_helm_task(payload: Payload, metadata: Mapping[str, str]) -> ProgramTask:
    command = metadata.get("cmd", "")
    return ProgramTask(
        type=metadata.get("type", "helm"),
        mode="blocking",
        name=payload.name,
        namespace=payload.namespace,
        command=command,
        argv=("helm", *split_arguments(command)),
        log_output=True,
    )
