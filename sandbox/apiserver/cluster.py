"""The API semantics, independent of HTTP: create, read, list, update and delete objects.

Handlers in ``routes.py`` parse the request into the arguments of these methods (PATCH goes through
``patching.py``, which ends in ``update``/``create``); everything that makes the emulator behave like
kube-apiserver (metadata bookkeeping, generation, status split, resourceVersion preconditions,
namespaces, finalizers, CRD registration, dry runs) happens here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import crds, defaults, serviceaccounts
from .errors import ApiError
from .events_view import from_events_v1, to_events_v1
from .fieldmanager import record_write
from .meta import dotted_get, dotted_set, random_suffix, rfc3339, selector_string
from .patches import clone_json
from .registry import Registry, ResourceType
from .schema import invalid as schema_invalid
from .schema import strict_decoding_error
from .selectors import Selection
from .store import Store
from .validation import (
    check_create,
    check_loopback,
    check_object_meta,
    check_shape,
    check_update,
    conflict,
    invalid,
    not_found,
)

# Kinds whose DELETE answers with the object rather than a Status (kube-apiserver's per-kind choice).
DELETE_RETURNS_OBJECT = {"Pod", "Service", "Namespace", "CustomResourceDefinition"}
# Built-in kinds whose create drops a client-supplied status (controllers own it).
CREATE_DROPS_STATUS = {
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "Ingress",
    "PodDisruptionBudget",
    "CustomResourceDefinition",
}
BOOTSTRAP_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class WriteOptions:
    """Per-request knobs of a write."""

    manager: str = "unknown"
    dry_run: bool = False
    field_validation: str = "Strict"
    force: bool = False
    manager_given: bool = True  # False when derived from the User-Agent (apply needs it explicitly)
    # Filled during the write: what the answer's `Warning` headers say (fieldValidation=Warn).
    warnings: list[str] = field(default_factory=list, compare=False)


@dataclass(frozen=True)
class DeleteOptions:
    propagation: str = "Background"  # Background | Foreground | Orphan
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @classmethod
    def from_body(cls, body: dict[str, Any], query: dict[str, str], dry_run: bool) -> DeleteOptions:
        policy = body.get("propagationPolicy") or query.get("propagationPolicy")
        if not policy:
            orphan = body.get("orphanDependents", query.get("orphanDependents"))
            policy = "Orphan" if orphan in (True, "true", "True", "1") else "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise ApiError(400, "BadRequest", f"unsupported propagationPolicy: {policy!r}")
        preconditions = body.get("preconditions") or {}
        dry_run = dry_run or "All" in (body.get("dryRun") or [])
        return cls(policy, preconditions.get("uid"), preconditions.get("resourceVersion"), dry_run)


def _spec_part(obj: dict[str, Any], with_status: bool) -> dict[str, Any]:
    """Everything generation tracks: the object without metadata (and without status when split)."""
    skip = {"metadata", "status"} if with_status else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skip and k not in ("apiVersion", "kind")}


def _without_volatile(obj: dict[str, Any]) -> dict[str, Any]:
    """The object minus its resourceVersion and managedFields timestamps.

    An ownership change is a write, but an apply that changes nothing only refreshes timestamps,
    and kube-apiserver keeps such a write a no-op (same resourceVersion, no watch event).
    """
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    if isinstance(metadata.get("managedFields"), list):
        metadata["managedFields"] = [
            {k: v for k, v in entry.items() if k != "time"} if isinstance(entry, dict) else entry
            for entry in metadata["managedFields"]
        ]
    return {**obj, "metadata": metadata}


@dataclass
class Cluster:
    """Registry + store + the rules that tie them together."""

    registry: Registry = field(default_factory=Registry.with_builtins)
    store: Store = field(default_factory=Store)
    gc_wakeup: asyncio.Event | None = None
    allow_loopback_endpoints: bool = True  # ServerConfig.allow_loopback_endpoints

    def bootstrap(self) -> None:
        """The namespaces every cluster has, and CRDs already stored (after a state restore)."""
        namespaces = self.registry.lookup("", "v1", "namespaces")
        for name in BOOTSTRAP_NAMESPACES:
            if self.store.get(namespaces.storage_key, "", name) is None:
                self.create(namespaces, None, {"metadata": {"name": name}}, WriteOptions("kube-apiserver"))
        crd_type = self.registry.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        for crd in self.store.items(crd_type.storage_key):
            for rt in crds.resource_types(crd):
                self.registry.add(rt)

    # -- views -------------------------------------------------------------------------------
    def storage_api_version(self, rt: ResourceType) -> str:
        if rt.view == "events.k8s.io":
            return "v1"
        representative = self.registry.storage_types().get(rt.storage_key, rt)
        return representative.api_version

    def present(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The stored object as the requested group/version shows it."""
        if rt.view == "events.k8s.io":
            return to_events_v1(obj)
        if obj.get("apiVersion") == rt.api_version:
            return obj
        return {**obj, "apiVersion": rt.api_version, "kind": rt.kind}

    def ingest(self, rt: ResourceType, body: dict[str, Any]) -> dict[str, Any]:
        """A request body converted to the storage shape."""
        if rt.view == "events.k8s.io":
            return from_events_v1(body)
        rest = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
        return {"apiVersion": self.storage_api_version(rt), "kind": rt.kind, **rest}

    # -- reads -------------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(rt.storage_key, namespace or "", name)
        if obj is None:
            raise not_found(rt, name)
        return obj

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.store.get(rt.storage_key, namespace or "", name)

    def list(self, rt: ResourceType, selection: Selection) -> list[dict[str, Any]]:
        return self.store.items(rt.storage_key, selection)

    # -- namespace checks --------------------------------------------------------------------
    def _check_namespace_open(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        if not rt.namespaced or not namespace:
            return
        ns = self.store.get("/namespaces", "", namespace)
        if ns is None:
            raise ApiError(
                404,
                "NotFound",
                f'namespaces "{namespace}" not found',
                {"name": namespace, "kind": "namespaces"},
            )
        if ns.get("metadata", {}).get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{rt.group_resource} "{name}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated",
                {
                    "kind": rt.plural,
                    "causes": [{"reason": "NamespaceTerminating", "field": "metadata.namespace"}],
                },
            )

    # -- create ------------------------------------------------------------------------------
    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        options: WriteOptions,
        operation: str = "Update",
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        self._check_kind(rt, body)
        obj: dict[str, Any] = clone_json(self.ingest(rt, body))
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        self._place(rt, namespace, metadata)
        if not metadata.get("name"):
            if metadata.get("generateName"):
                metadata["name"] = metadata["generateName"] + random_suffix()
            else:
                raise invalid(
                    rt,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                    "FieldValueRequired",
                )
        name = metadata["name"]
        check_object_meta(rt, metadata)
        if self.find(rt, metadata.get("namespace"), name) is not None:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{rt.group_resource} "{name}" already exists',
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        self._check_namespace_open(rt, metadata.get("namespace"), name)
        for volatile in (
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            metadata.pop(volatile, None)
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = rfc3339()
        if rt.has_generation:
            metadata["generation"] = 1
        if rt.has_status and (rt.custom or rt.kind in CREATE_DROPS_STATUS):
            obj.pop("status", None)
        defaults.apply_builtin_defaults(rt, obj)
        self._admit_custom(rt, obj, options)
        if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
            crds.validate(obj)
            obj["status"] = crds.established_status(obj)
            options.warnings.extend(crds.format_warnings(obj))
        check_create(rt, obj)
        if rt.kind == "Pod" and rt.group == "":
            serviceaccounts.admit_pod(self, obj)
        if not self.allow_loopback_endpoints:
            check_loopback(rt, obj)
        if operation != "Apply":  # an apply arrives with its managedFields already computed
            obj = self._record(None, obj, options.manager, operation, "")
        if options.dry_run:
            obj["metadata"]["resourceVersion"] = ""
            return obj
        stored = self.store.put(rt.storage_key, obj)
        if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
            for served in crds.resource_types(stored):
                self.registry.add(served)
        if rt.kind == "Namespace" and rt.group == "":
            serviceaccounts.populate_namespace(self, stored["metadata"]["name"], options)
        return stored

    def _check_kind(self, rt: ResourceType, body: dict[str, Any]) -> None:
        kind = body.get("kind")
        if kind and kind != rt.kind:
            raise ApiError(
                400, "BadRequest", f"the object provided is unrecognized (must be of type {rt.kind}): {kind}"
            )
        check_shape(rt, body)

    def _place(self, rt: ResourceType, namespace: str | None, metadata: dict[str, Any]) -> None:
        """Namespace from the URL wins; a different one in the body is a 400 like kube-apiserver's."""
        if not rt.namespaced:
            metadata.pop("namespace", None)
            return
        body_namespace = metadata.get("namespace")
        if namespace and body_namespace and body_namespace != namespace:
            raise ApiError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        metadata["namespace"] = namespace or body_namespace or "default"

    def _admit_custom(
        self, rt: ResourceType, obj: dict[str, Any], options: WriteOptions, old: dict[str, Any] | None = None
    ) -> None:
        """CRD structural schema: defaults, pruning, validation (422 naming every bad field).

        Top-level fields ``obj`` shares with the stored ``old`` (a status write's spec) were admitted when
        they were stored, and are not walked again: see :class:`~sandbox.apiserver.schema.StructuralSchema`.
        """
        if rt.schema is None:
            return
        shared = frozenset(
            key for key, value in obj.items() if old is not None and key in old and old[key] is value
        )
        unknown: list[str] = []
        pruned = rt.schema.default_and_prune(obj, shared, unknown)
        if options.field_validation in ("Strict", "Warn"):
            if unknown and options.field_validation == "Strict":
                raise strict_decoding_error(rt.kind, rt.version, unknown)
            options.warnings.extend(f'unknown field "{path}"' for path in unknown)
        errors = rt.schema.validate(pruned, shared)
        if errors:
            raise schema_invalid(rt.kind, obj.get("metadata", {}).get("name", ""), errors, rt.group)
        obj.clear()
        obj.update(pruned)

    def _record(
        self, old: dict[str, Any] | None, new: dict[str, Any], manager: str, operation: str, subresource: str
    ) -> dict[str, Any]:
        return record_write(old, new, manager, operation, subresource)

    # -- update ------------------------------------------------------------------------------
    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        options: WriteOptions,
        subresource: str = "",
        operation: str = "Update",
        check_rv: bool = True,
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        self._check_kind(rt, body)
        old = self.get(rt, namespace, name)
        ingested = self.ingest(rt, body)
        if subresource == "status":
            # Only status is taken from the body, and metadata's top level is read for the checks below.
            new: dict[str, Any] = {}
            if "metadata" in ingested:
                sent = ingested["metadata"]
                new["metadata"] = dict(sent) if isinstance(sent, dict) else sent
            if "status" in ingested:
                new["status"] = clone_json(ingested["status"])
        else:
            new = clone_json(ingested)
        metadata = new.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        body_name = metadata.get("name")
        if body_name and body_name != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        self._place(rt, namespace, metadata)
        metadata["name"] = name
        old_meta = old.get("metadata", {})
        if (
            check_rv
            and metadata.get("resourceVersion")
            and metadata["resourceVersion"] != old_meta.get("resourceVersion")
        ):
            raise conflict(rt, name)
        for immutable in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if immutable in old_meta:
                metadata[immutable] = old_meta[immutable]
            else:
                metadata.pop(immutable, None)
        if subresource == "status":
            # Only status changes through /status; metadata and spec stay as stored.
            new = {**self._stored_copy(rt, old), "status": new.get("status")}
            if new["status"] is None:
                new.pop("status")
            metadata = new["metadata"]
        elif rt.has_status and subresource == "":
            if "status" in old:
                new["status"] = clone_json(old["status"])
            else:
                new.pop("status", None)
        if old_meta.get("deletionTimestamp"):
            added = set(metadata.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
            if added:
                raise invalid(
                    rt,
                    name,
                    "metadata.finalizers",
                    "Forbidden: no new finalizers can be added if the object "
                    "is being deleted, found new finalizers " + json.dumps(sorted(added)),
                    "FieldValueForbidden",
                )
        if rt.kind == "Namespace" and subresource != "finalize":
            new["spec"] = clone_json(old.get("spec", {}))
        defaults.apply_builtin_defaults(rt, new)
        if not self.allow_loopback_endpoints:
            check_loopback(rt, new)
        if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io" and not subresource:
            options.warnings.extend(crds.format_warnings(new, old))
        check_update(rt, old, new)
        self._admit_custom(rt, new, options, old)
        metadata = new["metadata"]  # admission may have replaced the dict
        if rt.has_generation:
            generation = int(old_meta.get("generation", 1))
            if _spec_part(new, rt.has_status) != _spec_part(old, rt.has_status):
                generation += 1
            elif rt.kind == "Deployment" and metadata.get("annotations") != old_meta.get("annotations"):
                generation += 1  # the Deployment strategy counts annotation changes too (rollback legacy)
            metadata["generation"] = generation
        # A client may replace managedFields wholesale (kubectl's client-side -> server-side apply
        # migration does, by JSON patch); such a write is taken as given, not recorded on top.
        managed_reset = "managedFields" in metadata and metadata["managedFields"] != old_meta.get(
            "managedFields"
        )
        if "managedFields" not in metadata and old_meta.get("managedFields"):
            metadata["managedFields"] = clone_json(old_meta["managedFields"])
        if _without_volatile(new) == _without_volatile(old):
            return old  # a no-op write keeps the resourceVersion, as kube-apiserver does
        if operation != "Apply" and not managed_reset:
            new = self._record(
                old, new, options.manager, operation, subresource if subresource == "status" else ""
            )
        if options.dry_run:
            return new
        return self._commit_update(rt, new)

    @staticmethod
    def _stored_copy(rt: ResourceType, old: dict[str, Any]) -> dict[str, Any]:
        """A stored object to change in place: a deep copy, except that a custom resource's top-level
        fields other than metadata are shared with ``old`` (stored objects are never mutated in place,
        and nothing below mutates a custom resource's spec), so a status write copies only what it writes.
        Built-in kinds get builtin defaults applied in place, so they are copied whole."""
        if not rt.custom:
            copied: dict[str, Any] = clone_json(old)
            return copied
        metadata = old.get("metadata") or {}
        own = {key: clone_json(value) for key, value in metadata.items() if key != "managedFields"}
        if "managedFields" in metadata:
            own["managedFields"] = metadata["managedFields"]  # replaced, never changed, by record_write
        return {**old, "metadata": own}

    def _commit_update(self, rt: ResourceType, new: dict[str, Any]) -> dict[str, Any]:
        metadata = new["metadata"]
        if (
            metadata.get("deletionTimestamp")
            and not metadata.get("finalizers")
            and not (rt.kind == "Namespace" and (new.get("spec") or {}).get("finalizers"))
        ):
            self.store.put(rt.storage_key, new)
            gone = self.store.remove(rt.storage_key, metadata.get("namespace", ""), metadata["name"])
            self.wake_collector()
            return gone or new
        stored = self.store.put(rt.storage_key, new)
        if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
            for served in crds.resource_types(stored):
                self.registry.add(served)
        return stored

    # -- scale subresource -------------------------------------------------------------------
    def scale_of(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        assert rt.scale is not None
        metadata = obj["metadata"]
        if rt.scale.label_selector is None:
            selector = selector_string(dotted_get(obj, "spec.selector"))
        elif rt.scale.label_selector:
            selector = str(dotted_get(obj, rt.scale.label_selector) or "")
        else:
            selector = ""
        status: dict[str, Any] = {"replicas": int(dotted_get(obj, rt.scale.status_replicas) or 0)}
        if selector:
            status["selector"] = selector
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: metadata[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in metadata
            },
            "spec": {"replicas": int(dotted_get(obj, rt.scale.spec_replicas) or 0)},
            "status": status,
        }

    def apply_scale(
        self, rt: ResourceType, namespace: str | None, name: str, scale: Any, options: WriteOptions
    ) -> dict[str, Any]:
        assert rt.scale is not None
        if not isinstance(scale, dict):
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        old = self.get(rt, namespace, name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(
                422,
                "Invalid",
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                f"{json.dumps(replicas)}: must be greater than or equal to 0",
                {"name": name, "group": "autoscaling", "kind": "Scale"},
            )
        scale_rv = (scale.get("metadata") or {}).get("resourceVersion")
        if scale_rv and scale_rv != old["metadata"].get("resourceVersion"):
            raise conflict(rt, name)
        new = clone_json(old)
        dotted_set(new, rt.scale.spec_replicas, replicas)
        return self.update(rt, namespace, name, new, options, check_rv=False)

    # -- delete ------------------------------------------------------------------------------
    def delete(
        self, rt: ResourceType, namespace: str | None, name: str, options: DeleteOptions
    ) -> tuple[dict[str, Any], bool]:
        """Returns (the object after the call, whether it is gone for good)."""
        old = self.get(rt, namespace, name)
        metadata = old["metadata"]
        if options.precondition_uid and options.precondition_uid != metadata.get("uid"):
            raise ApiError(
                409,
                "Conflict",
                f"Precondition failed: UID in precondition: {options.precondition_uid}, "
                f"UID in object meta: {metadata.get('uid')}",
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        if options.precondition_rv and options.precondition_rv != metadata.get("resourceVersion"):
            raise ApiError(
                409,
                "Conflict",
                f"Precondition failed: ResourceVersion in precondition: {options.precondition_rv}, "
                f"ResourceVersion in object meta: {metadata.get('resourceVersion')}",
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        finalizers = list(metadata.get("finalizers") or [])
        if options.propagation == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        elif options.propagation == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        namespace_pending = rt.kind == "Namespace" and bool((old.get("spec") or {}).get("finalizers"))
        if options.dry_run:
            return old, not (finalizers or namespace_pending)
        if metadata.get("deletionTimestamp"):
            return old, False  # already being deleted: idempotent
        if options.propagation in ("Orphan", "Foreground") and not self._has_dependents(metadata.get("uid")):
            finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
        if finalizers or namespace_pending:
            new = clone_json(old)
            new["metadata"]["deletionTimestamp"] = rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if rt.has_generation:  # the generic registry's BeforeDelete: a deletion is a change of intent
                new["metadata"]["generation"] = int(new["metadata"].get("generation") or 1) + 1
            new["metadata"]["finalizers"] = finalizers
            if not finalizers:
                new["metadata"].pop("finalizers", None)
            if rt.kind == "Namespace":
                new.setdefault("status", {})["phase"] = "Terminating"
            stored = self.store.put(rt.storage_key, new)
            self.wake_collector()
            return stored, False
        gone = self.store.remove(rt.storage_key, metadata.get("namespace", ""), name) or old
        if rt.kind == "CustomResourceDefinition" and rt.group == "apiextensions.k8s.io":
            self._unregister_crd(gone)
        self.wake_collector()
        return gone, True

    def _has_dependents(self, uid: str | None) -> bool:
        if not uid:
            return False
        for _, obj in self.store.all_objects():
            for ref in obj.get("metadata", {}).get("ownerReferences") or []:
                if ref.get("uid") == uid:
                    return True
        return False

    def _unregister_crd(self, crd: dict[str, Any]) -> None:
        """Deleting a CRD deletes its objects (kube-apiserver's customresourcecleanup finalizer)."""
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        storage = f"{group}/{plural}"
        for obj in list(self.store.items(storage)):
            metadata = obj["metadata"]
            self.store.remove(storage, metadata.get("namespace", ""), metadata["name"])
        self.store.drop_storage(storage)
        self.registry.remove_group_resource(group, plural)

    def wake_collector(self) -> None:
        if self.gc_wakeup is not None:
            self.gc_wakeup.set()

    # -- persistence -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return self.store.snapshot()


def encode_continue(rv: int, last_key: tuple[str, str]) -> str:
    raw = json.dumps({"rv": rv, "start": list(last_key)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        namespace, name = data["start"]
        return int(data["rv"]), (str(namespace), str(name))
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "BadRequest", f"continue key is not valid: {exc}") from None
