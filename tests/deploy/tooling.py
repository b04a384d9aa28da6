"""Real tools for the deploy tests: helm, kubectl kustomize, kubernetes-validate, and the repository paths.

Everything here runs the real programs and parses their real output; nothing is mocked.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO / "charts"
KUSTOMIZE = REPO / "kustomize"
IMAGES = REPO / "images"
CRD_SOURCE = KUSTOMIZE / "base" / "flagman" / "crd.yaml"
CHART_CRD = CHARTS / "flagman" / "crds" / "crd.yaml"

# The Kubernetes minor versions Flagman claims (docs/install.md); every rendered object must validate
# against each. kubernetes-validate ships schemas from 1.25 on.
KUBERNETES_VERSIONS = ("1.27.0", "1.30.0", "1.33.0")

# Kinds whose schemas are not part of Kubernetes (CRDs of other projects): checked for shape only.
FOREIGN_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PodMonitor")}


def tool(name: str, *candidates: Path) -> str:
    """The path of a real program, or a skip saying what is missing and how to get it."""
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (run `make tools`)")
    return found


def helm() -> str:
    return tool("helm", REPO / ".tools" / "bin" / "helm")


def kubectl() -> str:
    """A concrete kubectl (the `kubectl` on PATH is a dispatcher that asks a server for its version)."""
    return tool("kubectl.1.31", Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.31"))


def run(
    argv: Sequence[str], *, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(list(argv), capture_output=True, text=True, cwd=cwd, timeout=120)
    if check and completed.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {completed.returncode}\n"
            f"stdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
        )
    return completed


def load_documents(text: str) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(text) if document]


def set_arguments(values: Mapping[str, Any]) -> list[str]:
    """`--set key=value` pairs (`--set-string` for strings, so `"true"` stays a string)."""
    arguments: list[str] = []
    for key, value in values.items():
        if isinstance(value, str):
            arguments += ["--set-string", f"{key}={value.replace(',', chr(92) + ',')}"]
        elif isinstance(value, bool):
            arguments += ["--set", f"{key}={str(value).lower()}"]
        elif isinstance(value, int):
            arguments += ["--set", f"{key}={value}"]
        else:
            raise TypeError(f"use a values file for {key}={value!r}")
    return arguments


def helm_template(
    chart: str,
    release: str,
    namespace: str,
    values: Mapping[str, Any] | None = None,
    *,
    include_crds: bool = False,
) -> list[dict[str, Any]]:
    argv = [helm(), "template", release, str(CHARTS / chart), "--namespace", namespace]
    argv += set_arguments(values or {})
    if include_crds:
        argv.append("--include-crds")
    return load_documents(run(argv).stdout)


def helm_template_error(chart: str, values: Mapping[str, Any]) -> str:
    argv = [helm(), "template", "flagger", str(CHARTS / chart), *set_arguments(values)]
    completed = run(argv, check=False)
    assert completed.returncode != 0, f"expected helm template to fail:\n{completed.stdout}"
    return completed.stderr


def kustomize(directory: str) -> list[dict[str, Any]]:
    return load_documents(run([kubectl(), "kustomize", str(KUSTOMIZE / directory)]).stdout)


def find(objects: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        obj
        for obj in objects
        if obj.get("kind") == kind and (name is None or obj.get("metadata", {}).get("name") == name)
    ]
    assert len(matches) == 1, (
        f"expected one {kind} {name or ''}, found {[m['metadata']['name'] for m in matches]}"
    )
    return matches[0]


def kinds(objects: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((obj["kind"], obj["metadata"]["name"]) for obj in objects)


def container(deployment: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    if name is None:
        assert len(containers) == 1
        return containers[0]
    return next(c for c in containers if c["name"] == name)


def validate_objects(objects: Iterable[dict[str, Any]]) -> None:
    """Every object against the Kubernetes OpenAPI schemas (strict: unknown fields fail) of each claimed
    version; a CRD is also checked as a CRD (its own schema is `apiextensions.k8s.io/v1`)."""
    problems: list[str] = []
    for obj in objects:
        if (obj.get("apiVersion"), obj.get("kind")) in FOREIGN_KINDS:
            assert obj["metadata"]["name"] and obj["spec"], obj
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = f"{version} {obj['kind']}/{obj['metadata'].get('name')}"
                problems.append(f"{where}: {error.message} at {list(error.path)}")
    assert not problems, "\n".join(problems)
