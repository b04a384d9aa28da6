"""``/version``, legacy discovery (``/api``, ``/apis``, per group/version) and the OpenAPI v3 stubs.

The OpenAPI documents carry no schemas: one ``patch`` operation per resource, tagged with its
group/version/kind and listing ``fieldValidation``, is what makes kubectl and helm skip client-side
validation and leave it to the server. The ``hash`` changes with every CRD change because clients
cache the per-group documents by URL.
"""

from __future__ import annotations

from typing import Any

from .registry import Registry

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
