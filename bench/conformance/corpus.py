"""Reading the recorded corpus: sessions of requests, and which requests a replay can reproduce."""

from __future__ import annotations

import json
import pathlib
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

# Subresources served by a kubelet or a proxy: a control plane without nodes cannot answer them alike.
KUBELET_SUBRESOURCES = ("log", "exec", "attach", "portforward", "proxy")
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}


@dataclass
class Recorded:
    """One request of the corpus and the emulator's answer."""

    seq: int
    method: str
    path: str
    query: str
    content_type: str
    accept: str
    user_agent: str
    body: bytes | None
    status: int
    response: Any
    warnings: list[str]
    fault: bool = False

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> Recorded:
        body: bytes | None = None
        if "body" in line:
            body = str(line["body"]).encode()
        elif "body_base64" in line:
            import base64

            body = base64.b64decode(line["body_base64"])
        return cls(
            seq=int(line["seq"]),
            method=line["method"],
            path=line["path"],
            query=line.get("query", ""),
            content_type=line.get("content_type", ""),
            accept=line.get("accept", ""),
            user_agent=line.get("user_agent", ""),
            body=body,
            status=int(line["status"]),
            response=line.get("response"),
            warnings=list(line.get("warnings") or []),
            fault=bool(line.get("fault")),
        )

    @property
    def params(self) -> list[tuple[str, str]]:
        return urllib.parse.parse_qsl(self.query, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)


@dataclass
class Session:
    """The requests one emulator instance answered (normally one test)."""

    id: str
    test: str
    requests: list[Recorded] = field(default_factory=list)


def load(path: pathlib.Path) -> list[Session]:
    sessions: dict[str, Session] = {}
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except ValueError as exc:
                raise SystemExit(f"{path}:{number}: not a JSON line: {exc}") from None
            session = sessions.setdefault(line["session"], Session(line["session"], line.get("test", "")))
            session.requests.append(Recorded.from_line(line))
    for session in sessions.values():
        session.requests.sort(key=lambda r: r.seq)
    return list(sessions.values())


@dataclass(frozen=True)
class Target:
    """What a resource URL names: ``/api/v1/namespaces/NS/pods/NAME/status`` and the like."""

    prefix: str  # /api/v1 or /apis/GROUP/VERSION
    namespace: str | None
    resource: str
    name: str | None
    subresource: str


_RESOURCE_URL = re.compile(r"^(/api/v1|/apis/[^/]+/[^/]+)(/watch)?/(.+)$")


def target_of(path: str) -> Target | None:
    match = _RESOURCE_URL.match(path)
    if match is None:
        return None
    prefix, rest = match.group(1), [p for p in match.group(3).split("/") if p]
    namespace = None
    namespace_subresource = prefix == "/api/v1" and len(rest) == 3 and rest[2] in ("status", "finalize")
    if len(rest) >= 3 and rest[0] == "namespaces" and not namespace_subresource:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    return Target(
        prefix, namespace, rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else ""
    )


def is_watch(request: Recorded) -> bool:
    return "/watch/" in request.path or request.param("watch") in _TRUE


def skip_reason(request: Recorded) -> str | None:
    """Why a request cannot be replayed meaningfully, or None."""
    if is_watch(request):
        return "watch stream (timing-dependent)"
    if request.path.startswith("/version"):
        return "server version (the emulator's is a setting)"
    target = target_of(request.path)
    if target is not None and target.subresource in KUBELET_SUBRESOURCES:
        return f"pods/{target.subresource} (needs a kubelet)"
    if request.fault:
        return "fault injected by the test"
    if request.status == 499:
        return "client went away before the answer"
    return None
