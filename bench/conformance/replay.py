"""Replaying recorded sessions against a real kube-apiserver, one after the other, and comparing answers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from sandbox.apiserver.bodies import decode as decode_body

from .client import Answer, KubeClient
from .corpus import Recorded, Session, Target, skip_reason, target_of
from .outcome import Difference, Scope, compare
from .rewrite import Mapper

# Objects every cluster has from the start (the emulator's bootstrap creates the same).
BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SERVICE_ACCOUNT_WAIT_SECONDS = 15.0
CRD_DELETE_WAIT_SECONDS = 60.0
CRD_WAIT_SECONDS = 30.0
RETRY_SECONDS = 15.0


@dataclass
class Result:
    test: str
    request: Recorded
    skipped: str = ""  # why it was not replayed
    differences: list[Difference] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.skipped and not self.differences


def _accept(value: str) -> str:
    """The recorded Accept without protobuf and CBOR: the emulator answered JSON, so should the real one."""
    kept = [part for part in value.split(",") if "protobuf" not in part and "cbor" not in part]
    return ",".join(kept) or "application/json"


def _decode(request: Recorded) -> tuple[Any, str]:
    """The body as data and the content type to send it with (protobuf is re-sent as JSON)."""
    if not request.body:
        return None, request.content_type
    media = request.content_type.split(";", 1)[0].strip().lower()
    if media == "application/vnd.kubernetes.protobuf":
        return decode_body(request.body, media), "application/json"
    if media.endswith("yaml"):
        return yaml.safe_load(request.body), request.content_type
    try:
        return json.loads(request.body), request.content_type or "application/json"
    except ValueError:
        return yaml.safe_load(request.body), request.content_type


def _named(request: Recorded, target: Target) -> str | None:
    """The name a write creates: the URL's, or the body's, or None (generateName)."""
    if target.name is not None:
        return target.name
    try:
        data, _ = _decode(request)
    except Exception:
        return None
    meta = data.get("metadata") if isinstance(data, dict) else None
    return str(meta["name"]) if isinstance(meta, dict) and meta.get("name") else None


class SessionReplay:
    """The replay of one session in namespaces of its own."""

    def __init__(self, client: KubeClient, index: int, session: Session) -> None:
        self.client, self.session = client, session
        self.mapper = Mapper(prefix=f"c{index}")
        # (resource, emulator namespace or "", name) of every object this session made or may use.
        self.known: set[tuple[str, str, str]] = set()
        self.emu_cluster_names: set[str] = set()
        self.real_cluster_objects: list[str] = []  # paths to delete afterwards
        self.last_versions: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.deleted_paths: set[str] = set()

    # -- set-up and clean-up ---------------------------------------------------------------------------------
    def namespaces_used(self) -> tuple[set[str], set[str]]:
        """(every namespace the session names, the ones it creates itself)."""
        used: set[str] = set()
        created: set[str] = set()
        for request in self.session.requests:
            target = target_of(request.path)
            if target is None:
                continue
            if target.namespace:
                used.add(target.namespace)
            if target.resource == "namespaces" and target.namespace is None:
                name = _named(request, target) if request.method in ("POST", "PUT", "PATCH") else target.name
                if name:
                    used.add(name)
                    if (
                        request.method != "GET"
                        and request.status in (200, 201)
                        and request.method != "DELETE"
                    ):
                        created.add(name)
        return used, created

    def prepare(self) -> None:
        used, created = self.namespaces_used()
        for name in BOOTSTRAP_NAMESPACES:
            self.known.add(("namespaces", "", name))
        # The cluster's own namespaces exist from the start on both servers; any other one the session
        # names but never creates stays missing (a test may look for a namespace that is not there).
        bootstrap = sorted((used - created) & set(BOOTSTRAP_NAMESPACES))
        for name in bootstrap:
            self.client.json(
                "POST", "/api/v1/namespaces", {"metadata": {"name": self.mapper.namespace(name)}}
            )
        for name in bootstrap:
            self.wait_for_service_account(self.mapper.namespace(name))
        for name in used:
            self.mapper.namespace(name)

    def release_custom_objects(self, crd_path: str) -> None:
        """Drop the finalizers left on a CRD's objects (kopf's, with no kopf running any more): they would
        hold the CRD in Terminating, and the next session could not create it again."""
        crd = self.client.json("GET", crd_path).body
        spec = crd.get("spec") if isinstance(crd, dict) else None
        if not isinstance(spec, dict):
            return
        plural = (spec.get("names") or {}).get("plural")
        for version in spec.get("versions") or []:
            listing = self.client.json(
                "GET", f"/apis/{spec.get('group')}/{version.get('name')}/{plural}"
            ).body
            for item in (listing or {}).get("items") or [] if isinstance(listing, dict) else []:
                meta = item.get("metadata") or {}
                if meta.get("finalizers"):
                    where = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
                    path = f"/apis/{spec.get('group')}/{version.get('name')}{where}/{plural}/{meta['name']}"
                    self.client.request(
                        "PATCH",
                        path,
                        b'{"metadata":{"finalizers":null}}',
                        {"Content-Type": "application/merge-patch+json"},
                    )
            break  # one served version lists every object

    def wait_for_service_account(self, namespace: str) -> None:
        """Pods are refused until the controller-manager made the namespace's `default` ServiceAccount."""
        deadline = time.monotonic() + SERVICE_ACCOUNT_WAIT_SECONDS
        while time.monotonic() < deadline:
            if (
                self.client.json("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default").status
                == 200
            ):
                return
            time.sleep(0.1)

    def clean_up(self) -> None:
        for path in self.real_cluster_objects:
            if "/customresourcedefinitions/" in path:
                self.release_custom_objects(path)
        for path in reversed(self.real_cluster_objects):
            self.client.json("DELETE", path)
        for path in self.real_cluster_objects:
            if "/customresourcedefinitions/" in path:
                deadline = time.monotonic() + CRD_DELETE_WAIT_SECONDS
                while time.monotonic() < deadline and self.client.json("GET", path).status != 404:
                    time.sleep(0.2)
        for real in self.mapper.namespaces.values():
            self.client.json("DELETE", f"/api/v1/namespaces/{real}")

    # -- the requests ----------------------------------------------------------------------------------------
    def run(self) -> list[Result]:
        self.prepare()
        try:
            return [self.replay(request) for request in self.session.requests]
        finally:
            self.clean_up()

    def replay(self, request: Recorded) -> Result:
        result = Result(self.session.test, request)
        reason = skip_reason(request)
        target = target_of(request.path)
        if reason is None and target is not None:
            reason = self._unknown_object(request, target)
        if reason is not None:
            result.skipped = reason
            return result
        try:
            data, content_type = _decode(request)
        except Exception as exc:
            result.skipped = f"body not decodable here ({type(exc).__name__})"
            return result
        is_namespace = target is not None and target.resource == "namespaces" and target.namespace is None
        body = None if data is None else json.dumps(self.mapper.body(data, is_namespace)).encode()
        headers = {"Accept": _accept(request.accept)}
        if request.user_agent:
            headers["User-Agent"] = request.user_agent
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        path = self.mapper.path(request.path)
        query = self.mapper.query(request.query)
        url = path + (f"?{query}" if query else "")
        answer = self.send(request, url, body, headers)
        if 200 <= request.status < 300 and 200 <= answer.status < 300:
            self.mapper.learn(request.response, answer.body)
        if target is not None:
            self._track(request, target, answer)
            if request.method == "DELETE" and target.name is not None:
                self.deleted_paths.add(request.path)
        result.differences = compare(
            request, answer.status, answer.body, answer.warnings, self._back, *self._scopes()
        )
        if target is not None:
            result.differences += self._versions(request, target, answer)
        return result

    def send(self, request: Recorded, url: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        """One request as a client-go client would see it through: 429s retried, deletions waited for."""
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            answer = self.client.request(request.method, url, body, headers)
            if answer.status == 429 and request.status != 429 and time.monotonic() < deadline:
                time.sleep(0.2)  # "storage is (re)initializing" after a CRD is added; client-go retries
                continue
            if (
                request.method == "GET"
                and request.status == 404
                and answer.status == 200
                and self._deleted(request.path)
                and time.monotonic() < deadline
            ):
                time.sleep(
                    0.2
                )  # deletion in progress (finalizers, the namespace controller): poll as tests do
                continue
            return answer

    def _deleted(self, path: str) -> bool:
        return any(path == deleted or path.startswith(deleted + "/") for deleted in self.deleted_paths)

    def wait_for_crd(self, crd: Any) -> None:
        """Until the new resource is served (Established, discovery and storage ready), as `kubectl wait`."""
        spec = crd.get("spec") if isinstance(crd, dict) else None
        if not isinstance(spec, dict):
            return
        group, plural = spec.get("group"), (spec.get("names") or {}).get("plural")
        versions = [v.get("name") for v in spec.get("versions") or [] if v.get("served", True)]
        deadline = time.monotonic() + CRD_WAIT_SECONDS
        for version in versions:
            while time.monotonic() < deadline:
                if self.client.json("GET", f"/apis/{group}/{version}/{plural}?limit=1").status == 200:
                    break
                time.sleep(0.1)

    def _unknown_object(self, request: Recorded, target: Target) -> str | None:
        """A named object the session never made but the emulator had: its own controllers made it."""
        if target.name is None or request.method == "POST" or not 200 <= request.status < 300:
            return None
        key = (target.resource, target.namespace or "", target.name)
        if key in self.known or target.name in self.mapper.names:
            return None
        if request.method in ("PUT", "PATCH") and request.status == 201:
            return None  # a create through update or apply
        return "object made by the emulator's own controllers (names differ)"

    def _track(self, request: Recorded, target: Target, answer: Answer) -> None:
        if request.method not in ("POST", "PUT", "PATCH") or not 200 <= request.status < 300:
            return
        name = _named(request, target)
        if name is None and isinstance(request.response, dict):
            name = str((request.response.get("metadata") or {}).get("name", "")) or None
        if name is None:
            return
        self.known.add((target.resource, target.namespace or "", name))
        if target.namespace is None and target.resource != "namespaces" and not target.subresource:
            self.emu_cluster_names.add(name)
            real_name = self.mapper.names.get(name, name)
            path = f"{target.prefix}/{target.resource}/{real_name}"
            if answer.status in (200, 201) and path not in self.real_cluster_objects:
                self.real_cluster_objects.append(path)
        if target.resource == "namespaces" and target.namespace is None and answer.status == 201:
            self.wait_for_service_account(self.mapper.namespace(name))
        if target.resource == "customresourcedefinitions" and answer.status in (200, 201):
            self.wait_for_crd(answer.body)

    def _versions(self, request: Recorded, target: Target, answer: Answer) -> list[Difference]:
        """A write that changes nothing keeps the resourceVersion on a real server; others bump it."""
        if request.method not in ("PUT", "PATCH") or request.status != 200 or answer.status != 200:
            return []
        emu_rv = _rv(request.response)
        real_rv = _rv(answer.body)
        if not emu_rv or not real_rv or target.name is None:
            return []
        key = (target.resource, target.namespace or "", target.name)
        previous = self.last_versions.get(key)
        self.last_versions[key] = (emu_rv, real_rv)
        if previous is None:
            return []
        emu_bumped, real_bumped = emu_rv != previous[0], real_rv != previous[1]
        if emu_bumped == real_bumped:
            return []
        resource = f"{target.resource}/{target.subresource}" if target.subresource else target.resource
        what = "bumped" if emu_bumped else "kept"
        return [
            Difference(
                "resourceVersion", f"{request.method} {resource}: emulator {what} it, the real server not"
            )
        ]

    def _scopes(self) -> tuple[Scope, Scope]:
        made = {name for _, _, name in self.known}
        emu = Scope(set(self.mapper.namespaces), set(self.emu_cluster_names), made)
        real_names = {self.mapper.names.get(n, n) for n in self.emu_cluster_names}
        real_made = {self.mapper.names.get(n, n) for n in made}
        real = Scope(set(self.mapper.namespaces.values()), real_names, real_made)
        return emu, real

    def _back(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mapper.back(value)
        if isinstance(value, dict):
            return {k: self._back(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._back(v) for v in value]
        return value


def _rv(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
        return str(body["metadata"].get("resourceVersion") or "")
    return ""


def replay_all(
    client: KubeClient, sessions: list[Session], progress: Callable[[str], None] = print
) -> list[Result]:
    results: list[Result] = []
    started = time.monotonic()
    for index, session in enumerate(sessions, 1):
        results += SessionReplay(client, index, session).run()
        if index % 10 == 0 or index == len(sessions):
            progress(
                f"conformance: replayed {index}/{len(sessions)} sessions ({time.monotonic() - started:.0f} s)"
            )
    return results
