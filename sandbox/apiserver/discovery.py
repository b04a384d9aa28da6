"""``/version``, legacy discovery (``/api``, ``/apis``, per group/version) and the OpenAPI v3 stubs.

The OpenAPI documents carry no schemas: one ``patch`` operation per resource, tagged with its
group/version/kind and listing ``fieldValidation``, is what makes kubectl and helm skip client-side
validation and leave it to the server. The ``hash`` changes with every CRD change because clients
cache the per-group documents by URL.
"""

from __future__ import annotations

from typing import Any

from .registry import Registry, ResourceType

SERVER_ADDRESSES = [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]


def version(minor: int) -> dict[str, Any]:
    return {
        "major": "1",
        "minor": str(minor),
        "gitVersion": f"v1.{minor}.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
        "emulator": "flagman-sandbox",
    }


def core_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": SERVER_ADDRESSES}


def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": listed, "preferredVersion": listed[0]}


def group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group_entry(group, versions) for group, versions in registry.group_versions().items() if group]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: Registry, name: str) -> dict[str, Any] | None:
    versions = registry.group_versions().get(name)
    if not versions or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(name, versions)}


def resource_list(registry: Registry, group_name: str, version_name: str) -> dict[str, Any] | None:
    resources = registry.resources_in(group_name, version_name)
    if not resources:
        return None
    entries = [entry for resource in resources for entry in resource.discovery_entries()]
    group_version = f"{group_name}/{version_name}" if group_name else version_name
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }


def _gv_path(group_name: str, version_name: str) -> str:
    return f"apis/{group_name}/{version_name}" if group_name else f"api/{version_name}"


def openapi_root(registry: Registry) -> dict[str, Any]:
    paths = {}
    for group_name, versions in registry.group_versions().items():
        for version_name in versions:
            path = _gv_path(group_name, version_name)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash=G{registry.generation:08d}"}
    return {"paths": paths}


def openapi_group_version(registry: Registry, group_name: str, version_name: str) -> dict[str, Any] | None:
    resources = registry.resources_in(group_name, version_name)
    if not resources:
        return None
    paths: dict[str, Any] = {}
    prefix = "/" + _gv_path(group_name, version_name)
    for resource in resources:
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        operation = {
            "x-kubernetes-group-version-kind": {
                "group": resource.group,
                "version": resource.version,
                "kind": resource.kind,
            },
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            ],
            "responses": {"200": {"description": "OK"}},
        }
        paths[f"{prefix}{scope}/{resource.plural}/{{name}}"] = {"patch": operation}
        paths[f"{prefix}{scope}/{resource.plural}"] = {"post": operation}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": {}},
    }


AGGREGATED_KIND = "APIGroupDiscoveryList"


def aggregated_version(accept: str) -> str | None:
    """The apidiscovery.k8s.io version the client asks for in Accept (v2 preferred), or None for legacy."""
    offered = [part.strip() for part in accept.split(",")]
    for version in ("v2", "v2beta1"):
        for media in offered:
            params = {
                p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                for p in media.split(";")[1:]
                if "=" in p
            }
            if (
                params.get("g") == "apidiscovery.k8s.io"
                and params.get("v") == version
                and params.get("as") == AGGREGATED_KIND
            ):
                return version
    return None


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as={AGGREGATED_KIND}"


def _aggregated_resource(resource: ResourceType) -> dict[str, Any]:
    response_kind = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "responseKind": response_kind,
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(resource.verbs),
    }
    if resource.short_names:
        entry["shortNames"] = list(resource.short_names)
    if resource.categories:
        entry["categories"] = list(resource.categories)
    subresources = []
    if resource.has_status:
        subresources.append(
            {"subresource": "status", "responseKind": response_kind, "verbs": ["get", "patch", "update"]}
        )
    if resource.scale is not None:
        subresources.append(
            {
                "subresource": "scale",
                "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                "verbs": ["get", "patch", "update"],
            }
        )
    for sub in resource.extra_subresources:
        kind = {"group": "", "version": "v1", "kind": "Pod"} if sub == "log" else response_kind
        subresources.append(
            {"subresource": sub, "responseKind": kind, "verbs": ["get"] if sub == "log" else ["update"]}
        )
    if subresources:
        entry["subresources"] = subresources
    return entry


def aggregated(registry: Registry, core: bool, version: str) -> dict[str, Any]:
    """``/api`` (core only) or ``/apis`` (every named group) as an APIGroupDiscoveryList."""
    items = []
    for group_name, versions in registry.group_versions().items():
        if (group_name == "") != core:
            continue
        items.append(
            {
                "metadata": {"name": group_name, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "freshness": "Current",
                        "resources": [_aggregated_resource(r) for r in registry.resources_in(group_name, v)],
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": AGGREGATED_KIND,
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }
