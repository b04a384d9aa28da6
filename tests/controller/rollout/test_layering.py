"""The state machine stays pure: no Kubernetes, HTTP or operator library anywhere in controller/rollout."""

from __future__ import annotations

import ast
from pathlib import Path

import controller.rollout

FORBIDDEN = ("aiohttp", "kopf", "kubernetes_asyncio", "kubernetes", "prometheus_client", "controller.kube")


def test_rollout_imports_no_infrastructure() -> None:
    package = Path(controller.rollout.__file__).parent
    offenders = []
    for module in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{module.name}: {name}"
                for name in names
                if name.split(".")[0] in FORBIDDEN or name in FORBIDDEN
            ]
    assert offenders == []
