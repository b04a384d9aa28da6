"""The image tests run only from `make test-images` (FLAGMAN_TEST_IMAGES=1, after `make images`), and skip
with the reason when no container engine is there. A missing image fails: the build must come first."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.images.engine import Engine, detect

SIZES_MB: dict[str, int] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("FLAGMAN_TEST_IMAGES") == "1":
        return
    skip = pytest.mark.skip(reason="image tests run from `make test-images` (after `make images`)")
    for item in items:
        if item.get_closest_marker("images"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    name, environ = detect()
    if not name:
        pytest.skip("neither a Docker engine (`docker info`) nor podman is installed: no image can run here")
    running = Engine(name, environ)
    try:
        yield running
    finally:
        running.remove_started()


@pytest.fixture(scope="session")
def controller_image(engine: Engine) -> str:
    image = os.environ.get("CONTROLLER_IMAGE", "ghcr.io/flagman/controller:0.1.0")
    SIZES_MB[image] = engine.image_size_mb(image)
    return image


@pytest.fixture(scope="session")
def loadtester_image(engine: Engine) -> str:
    image = os.environ.get("LOADTESTER_IMAGE", "ghcr.io/flagman/loadtester:0.1.0")
    SIZES_MB[image] = engine.image_size_mb(image)
    return image


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SIZES_MB:
        terminalreporter.section("image sizes")
        for image, size in SIZES_MB.items():
            terminalreporter.write_line(f"{image}: {size} MB")
