"""Task types, one module each; `new_task` turns a payload into the task its `metadata.type` names."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from loadtester.payload import Payload
from loadtester.tasks.base import Task, TaskContext, TaskRequestError, TaskResult
from loadtester.tasks.concord import new_concord_task
from loadtester.tasks.helm import new_helm_task
from loadtester.tasks.kubectl import new_kubectl_task
from loadtester.tasks.ngrinder import new_ngrinder_task
from loadtester.tasks.shell import new_bash_task, new_cmd_task

TaskFactory = Callable[[Payload, Mapping[str, str]], Task]

FACTORIES: dict[str, TaskFactory] = {
    "cmd": new_cmd_task,
    "bash": new_bash_task,
    "helm": new_helm_task,
    "helmv3": new_helm_task,
    "kubectl": new_kubectl_task,
    "concord": new_concord_task,
    "ngrinder": new_ngrinder_task,
}

__all__ = ["FACTORIES", "Task", "TaskContext", "TaskRequestError", "TaskResult", "new_task"]


def new_task(payload: Payload) -> Task:
    """Flagger's dispatch: no `type` key means `cmd`; an unknown or empty type is a 400 (Flagger panics)."""
    metadata = payload.metadata
    task_type = metadata.get("type", "cmd")
    factory = FACTORIES.get(task_type)
    if factory is None:
        raise TaskRequestError(400, f"unknown task type {task_type}")
    return factory(payload, metadata)
