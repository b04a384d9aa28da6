"""A small HTTPS client for the real kube-apiserver, from an admin kubeconfig (token or client cert)."""

from __future__ import annotations

import http.client
import json
import pathlib
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass
class Answer:
    status: int
    content_type: str
    body: Any  # decoded JSON, text, or None
    warnings: list[str]


class KubeClient:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, kubeconfig: pathlib.Path, timeout: float = 30.0) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        context_name = config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        url = urllib.parse.urlsplit(cluster["server"])
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.ssl = ssl.create_default_context(cafile=self._path(kubeconfig, cluster["certificate-authority"]))
        self.headers: dict[str, str] = {}
        if user.get("token"):
            self.headers["Authorization"] = f"Bearer {user['token']}"
        if user.get("client-certificate"):
            self.ssl.load_cert_chain(
                self._path(kubeconfig, user["client-certificate"]), self._path(kubeconfig, user["client-key"])
            )
        self.timeout = timeout
        self._connection: http.client.HTTPSConnection | None = None

    @staticmethod
    def _path(kubeconfig: pathlib.Path, value: str) -> str:
        path = pathlib.Path(value)
        return str(path if path.is_absolute() else kubeconfig.parent / path)

    def _connect(self) -> http.client.HTTPSConnection:
        if self._connection is None:
            self._connection = http.client.HTTPSConnection(
                self.host, self.port, context=self.ssl, timeout=self.timeout
            )
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        all_headers = {**self.headers, **(headers or {})}
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request(method, path, body=body, headers=all_headers)
                response = connection.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
        content_type = response.getheader("Content-Type", "") or ""
        decoded: Any = None
        if raw:
            try:
                decoded = json.loads(raw)
            except ValueError:
                decoded = raw.decode(errors="replace")
        return Answer(response.status, content_type, decoded, response.headers.get_all("Warning") or [])

    def json(self, method: str, path: str, data: Any = None) -> Answer:
        body = json.dumps(data).encode() if data is not None else None
        return self.request(
            method, path, body, {"Content-Type": "application/json", "Accept": "application/json"}
        )
