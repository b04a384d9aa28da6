"""Kubeconfig files for the real control plane: TLS verified against its CA, a token or a client cert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CLUSTER = "flagman-real"


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_file: Path,
    user: dict[str, Any],
    user_name: str,
    namespace: str = "default",
) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [
            {"name": CLUSTER, "context": {"cluster": CLUSTER, "user": user_name, "namespace": namespace}}
        ],
        "current-context": CLUSTER,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path
