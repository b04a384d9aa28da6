"""One version: pyproject.toml's, as the controller reports it; the install paths' literals must agree."""

from __future__ import annotations

import pathlib
import re
import subprocess
import tomllib

import yaml

from controller.kube.api import USER_AGENT
from controller.telemetry import VERSION

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _pyproject_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def _yaml(path: str) -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / path).read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_controller_reports_pyprojects_version() -> None:
    assert _pyproject_version() == VERSION
    assert f"flagman-controller/{VERSION}" == USER_AGENT


def test_charts_and_kustomize_ship_the_same_version() -> None:
    version = _pyproject_version()
    for chart in ("charts/flagman", "charts/loadtester"):
        meta, values = _yaml(f"{chart}/Chart.yaml"), _yaml(f"{chart}/values.yaml")
        assert (meta["version"], meta["appVersion"]) == (version, version), chart
        assert values["image"]["tag"] == version, chart  # type: ignore[index]
    for kustomization in ("kustomize/base/flagman", "kustomize/tester"):
        images = _yaml(f"{kustomization}/kustomization.yaml")["images"]
        assert [image["newTag"] for image in images] == [version], kustomization  # type: ignore[attr-defined]
    tests_image = _yaml("charts/podinfo/values.yaml")["tests"]["image"]  # type: ignore[index]
    assert tests_image == f"ghcr.io/flagman/loadtester:{version}"


def test_the_makefile_tags_images_with_the_same_version() -> None:
    shown = subprocess.run(
        ["make", "-s", "-n", "images"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    # `make images` hands both image references (registry/name:tag) to scripts/images/build.sh
    tags = re.findall(r"ghcr\.io/flagman/(?:controller|loadtester):(\S+)", shown)
    assert tags == [_pyproject_version()] * 2
