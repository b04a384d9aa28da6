"""The resource registry: which resources exist, under which URLs, and how they behave.

Built-in kinds are a fixed table; CustomResourceDefinitions add entries at run time. Several served
versions may share one *storage* (``autoscaling/v2`` and its ``v2beta2`` alias, core and
``events.k8s.io`` events), so objects are stored per ``storage_key`` and relabelled per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ApiError

if TYPE_CHECKING:
    from .schema import StructuralSchema

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ScalePaths:
    """Where a scalable resource keeps its replica counts (CRD ``subresources.scale`` vocabulary)."""

    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str | None = None  # None: derive "a=b" from .spec.selector.matchLabels


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    """One served resource in one group/version."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    has_status: bool = False
    scale: ScalePaths | None = None
    has_generation: bool = False
    extra_subresources: tuple[str, ...] = ()  # e.g. pods/log, namespaces/finalize
    storage: str = ""  # storage key shared by alias versions; default "<group>/<plural>"
    view: str = ""  # "events.k8s.io": objects are converted from/to the core Event storage
    printer_columns: tuple[PrinterColumn, ...] = ()
    custom: bool = False
    schema: StructuralSchema | None = None  # CRDs with an openAPIV3Schema
    selectable_fields: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> str:
        return self.storage or f"{self.group}/{self.plural}"

    @property
    def group_resource(self) -> str:
        """``deployments.apps`` or ``pods``: how kube-apiserver names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Deployment.apps`` or ``Pod``: how kube-apiserver names a kind in 422 messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def discovery_entries(self) -> list[dict[str, Any]]:
        """The legacy APIResourceList entries: the resource itself, then its subresources."""
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        base = {"singularName": "", "namespaced": self.namespaced}
        if self.has_status:
            entries.append(
                {
                    **base,
                    "name": f"{self.plural}/status",
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if self.scale is not None:
            entries.append(
                {
                    **base,
                    "name": f"{self.plural}/scale",
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        for sub in self.extra_subresources:
            verbs = ["get"] if sub == "log" else ["update"]
            kind = "Pod" if sub == "log" else self.kind
            entries.append({**base, "name": f"{self.plural}/{sub}", "kind": kind, "verbs": verbs})
        return entries


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    status: bool = False,
    scale: bool = False,
    generation: bool = False,
    extra: tuple[str, ...] = (),
    storage: str = "",
    view: str = "",
    verbs: tuple[str, ...] = ALL_VERBS,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        categories=categories,
        has_status=status,
        scale=ScalePaths() if scale else None,
        has_generation=generation,
        extra_subresources=extra,
        storage=storage,
        view=view,
        verbs=verbs,
    )


ALL = ("all",)
BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin(
        "",
        "v1",
        "namespaces",
        "Namespace",
        False,
        ("ns",),
        status=True,
        extra=("finalize",),
        verbs=tuple(v for v in ALL_VERBS if v != "deletecollection"),  # as kube-apiserver's discovery says
    ),
    _builtin(
        "", "v1", "pods", "Pod", short=("po",), categories=ALL, status=True, generation=True, extra=("log",)
    ),
    _builtin("", "v1", "services", "Service", short=("svc",), categories=ALL, status=True),
    _builtin("", "v1", "endpoints", "Endpoints", short=("ep",)),
    _builtin("", "v1", "configmaps", "ConfigMap", short=("cm",)),
    _builtin("", "v1", "secrets", "Secret"),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short=("sa",)),
    _builtin("", "v1", "events", "Event", short=("ev",)),
    _builtin("", "v1", "nodes", "Node", False, ("no",), status=True),
    _builtin("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), status=True),
    _builtin(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short=("deploy",),
        categories=ALL,
        status=True,
        scale=True,
        generation=True,
    ),
    _builtin(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short=("rs",),
        categories=ALL,
        status=True,
        scale=True,
        generation=True,
    ),
    _builtin(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short=("sts",),
        categories=ALL,
        status=True,
        scale=True,
        generation=True,
    ),
    _builtin(
        "apps", "v1", "daemonsets", "DaemonSet", short=("ds",), categories=ALL, status=True, generation=True
    ),
    _builtin("batch", "v1", "jobs", "Job", categories=ALL, status=True, generation=True),
    _builtin(
        "batch", "v1", "cronjobs", "CronJob", short=("cj",), categories=ALL, status=True, generation=True
    ),
    _builtin(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        categories=ALL,
        status=True,  # kube-apiserver keeps no metadata.generation on HPAs
    ),
    _builtin(
        "autoscaling",
        "v2beta2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short=("hpa",),
        categories=ALL,
        status=True,  # kube-apiserver keeps no metadata.generation on HPAs
    ),
    _builtin("networking.k8s.io", "v1", "ingresses", "Ingress", short=("ing",), status=True, generation=True),
    _builtin(
        "networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short=("netpol",), generation=True
    ),
    _builtin("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice"),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease"),
    _builtin(
        "events.k8s.io", "v1", "events", "Event", short=("ev",), storage="/events", view="events.k8s.io"
    ),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _builtin(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short=("pdb",),
        status=True,
        generation=True,
    ),
    _builtin(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        status=True,
        generation=True,
    ),
)

# The preferred version of a group when several are served (the first listed otherwise).
PREFERRED_VERSIONS = {"autoscaling": "v2"}


@dataclass
class Registry:
    """Lookup of served resources by URL parts, kind and short name; CRDs register here."""

    types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    generation: int = 0  # bumped on every CRD change, feeds the OpenAPI hash
    _storage_types: dict[str, ResourceType] | None = None

    @classmethod
    def with_builtins(cls) -> Registry:
        registry = cls()
        for resource in BUILTIN_TYPES:
            registry.add(resource)
        registry.generation = 0
        return registry

    def add(self, resource: ResourceType) -> None:
        self.types[(resource.group, resource.version, resource.plural)] = resource
        self.generation += 1
        self._storage_types = None

    def remove_group_resource(self, group: str, plural: str) -> None:
        for key in [k for k in self.types if k[0] == group and k[2] == plural]:
            del self.types[key]
        self.generation += 1
        self._storage_types = None

    def lookup(self, group: str, version: str, plural: str) -> ResourceType:
        try:
            return self.types[(group, version, plural)]
        except KeyError:
            raise not_found_path() from None

    def find(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self.types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for resource in self.types.values():
            if resource.group == group and resource.version == version and resource.kind == kind:
                return resource
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred first (core group is "")."""
        result: dict[str, list[str]] = {}
        for group, version, _ in self.types:
            versions = result.setdefault(group, [])
            if version not in versions:
                versions.append(version)
        for group, versions in result.items():
            preferred = PREFERRED_VERSIONS.get(group)
            if preferred in versions:
                versions.remove(preferred)
                versions.insert(0, preferred)
        return result

    def resources_in(self, group: str, version: str) -> list[ResourceType]:
        return [r for (g, v, _), r in self.types.items() if g == group and v == version]

    def storage_types(self) -> dict[str, ResourceType]:
        """One representative type per storage key (the non-view, preferred version)."""
        if self._storage_types is not None:
            return self._storage_types
        result: dict[str, ResourceType] = {}
        for resource in self.types.values():
            if resource.view:
                continue
            current = result.get(resource.storage_key)
            if current is None or PREFERRED_VERSIONS.get(resource.group) == resource.version:
                result[resource.storage_key] = resource
        self._storage_types = result
        return result


def not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})
