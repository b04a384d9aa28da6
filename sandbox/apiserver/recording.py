"""The conformance corpus: every request a test sent to the emulator and what the emulator answered.

With ``FLAGMAN_APISERVER_CORPUS=FILE`` set, each :class:`~sandbox.apiserver.testing.ApiServer` records request
and response bodies and, when it stops, appends its log to FILE as JSON lines, one per request. One server is
one *session* (normally one test); ``bench/conformance`` replays each session against a real kube-apiserver.

A line: ``session``, ``test`` (pytest's node id), ``minor`` (the Kubernetes minor the server reported),
``seq``, ``method``, ``path``, ``query``, ``content_type``, ``accept``, ``user_agent``, ``body`` (text) or
``body_base64`` (protobuf and other binary bodies), ``status``, ``response_content_type``, ``response`` (the
decoded JSON answer, or text; absent for streamed answers such as watches), ``warnings`` and ``fault``
(true when fault injection answered).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pathlib
from typing import Any

from .faults import RequestLog, RequestRecord

CORPUS_VARIABLE = "FLAGMAN_APISERVER_CORPUS"


def corpus_path() -> pathlib.Path | None:
    """Where sessions are appended, or None when recording is off."""
    value = os.environ.get(CORPUS_VARIABLE, "")
    return pathlib.Path(value) if value else None


def current_test() -> str:
    """The pytest node id running now (``PYTEST_CURRENT_TEST`` without its phase), or ""."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]


def _body_fields(body: bytes | None, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if "protobuf" not in content_type and "cbor" not in content_type:
        try:
            return {"body": body.decode()}
        except UnicodeDecodeError:
            pass
    return {"body_base64": base64.b64encode(body).decode()}


def _response_field(body: bytes | None) -> dict[str, Any]:
    if body is None:
        return {}
    try:
        return {"response": json.loads(body)}
    except ValueError:
        return {"response": body.decode(errors="replace")}


def corpus_line(record: RequestRecord, seq: int, session: str, test: str, minor: int) -> dict[str, Any]:
    return {
        "session": session,
        "test": test,
        "minor": minor,
        "seq": seq,
        "method": record.method,
        "path": record.path,
        "query": record.query,
        "content_type": record.content_type,
        "accept": record.accept,
        "user_agent": record.user_agent,
        **_body_fields(record.body, record.content_type),
        "status": record.status,
        "response_content_type": record.response_content_type,
        **_response_field(record.response_body),
        "warnings": list(record.warnings),
        **({"fault": True} if record.fault else {}),
    }


def append_session(path: pathlib.Path, log: RequestLog, session: str, test: str, minor: int) -> None:
    """Append one server's requests; a lock keeps concurrent writers' sessions whole."""
    lines = "".join(
        json.dumps(corpus_line(record, seq, session, test, minor), separators=(",", ":")) + "\n"
        for seq, record in enumerate(list(log))
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.write(lines)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
