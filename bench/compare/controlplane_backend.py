"""The real control plane (`sandbox.controlplane`) as the comparison's API server, requests counted from its
audit log (level Metadata: verb, resource and user agent of every request).

kube-controller-manager is stopped once the control plane is up: there are no nodes, so its Deployment
controller would keep writing "0 available" over the rollout simulator's status (the stand-in for pods
becoming ready, as on the emulator). Nothing else the comparison does needs it.
"""

from __future__ import annotations

import collections
import json
import pathlib
from types import TracebackType

from bench.compare.backend import RequestCount
from bench.compare.controllers import FLAGGER_BINARY
from sandbox.controlplane import ControlPlane, find_binaries, why_missing

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: Metadata
"""


class ControlPlaneBackend:
    """`with ControlPlaneBackend(workdir) as server:` — the same surface as `ApiServerProcess`."""

    name = "real control plane"
    flagger_binary = FLAGGER_BINARY

    def __init__(self, workdir: pathlib.Path) -> None:
        binaries = find_binaries()
        if binaries is None:
            raise RuntimeError(f"no real control plane: {why_missing()} (run `make control-plane`)")
        self.workdir = workdir
        self.audit_log = workdir / "audit.log"
        policy = workdir / "audit-policy.yaml"
        workdir.mkdir(parents=True, exist_ok=True)
        policy.write_text(AUDIT_POLICY)
        self.plane = ControlPlane(
            workdir / "plane",
            binaries,
            extra_apiserver_args=[
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",  # every request is in the file when its answer is
                "--audit-log-maxsize=0",  # one file, never rotated
            ],
            progress=lambda message: print(f"compare: {message}", flush=True),
        )
        self.name = f"real control plane ({self.plane.version})"

    @property
    def kubeconfig(self) -> str:
        return str(self.plane.admin_kubeconfig)

    def mark(self) -> int:
        """The audit log's size now: the start or end of a measured window."""
        return self.audit_log.stat().st_size if self.audit_log.exists() else 0

    def count(self, start: int, end: int, agent_prefixes: tuple[str, ...]) -> RequestCount:
        with self.audit_log.open("rb") as log:
            log.seek(start)
            chunk = log.read(end - start)
        total = watches = 0
        by_verb: collections.Counter[str] = collections.Counter()
        for line in chunk.splitlines():
            entry = json.loads(line)
            if not str(entry.get("userAgent", "")).startswith(agent_prefixes):
                continue
            verb = str(entry.get("verb", ""))
            if verb == "watch":
                watches += 1
                continue
            total += 1
            resource = (entry.get("objectRef") or {}).get("resource", entry.get("requestURI", ""))
            subresource = (entry.get("objectRef") or {}).get("subresource")
            by_verb[f"{verb} {resource}{'/' + subresource if subresource else ''}"] += 1
        return RequestCount(total, dict(by_verb), watches)

    def __enter__(self) -> ControlPlaneBackend:
        self.plane.start()
        self.plane.components["kube-controller-manager"].stop()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.plane.stop()
