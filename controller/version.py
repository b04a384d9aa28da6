"""Flagman's version, from its one source: `version` in pyproject.toml, as installed (`importlib.metadata`).

Used by `flagger_info`, `-version` and the Kubernetes User-Agent; the Makefile's IMAGE_TAG reads the
same line, and tests/controller/test_version.py holds the charts' and kustomize's image tags to it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("flagman")
except PackageNotFoundError:  # a source tree that was never installed (`make setup` installs it)
    VERSION = "0.0.0+unknown"

# Flagger's REVISION is the git commit stamped at build time, "unknown" otherwise; a wheel carries none.
REVISION = "unknown"
