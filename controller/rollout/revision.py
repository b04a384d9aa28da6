"""Revision identity: the canonical pod-template hash and Flagger's change rules (spec 2.4).

Flagger hashes ``spec.template`` with go-spew + FNV-32a, which Python cannot reproduce byte for byte.
Flagman uses SHA-256 over canonical JSON (sorted keys, compact) and marks its hashes with a ``fm1-``
prefix. A ``lastAppliedSpec`` without the prefix was written by Go Flagger: on takeover it is trusted
as describing the current template (no analysis starts) and replaced by Flagman's hash at the next
status write (see :func:`is_foreign_hash`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

HASH_PREFIX = "fm1-"


def template_hash(template: Mapping[str, Any]) -> str:
    """Canonical hash of a Deployment's ``spec.template`` (a JSON-like mapping, camelCase keys)."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return HASH_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def is_foreign_hash(value: str) -> bool:
    """True for a non-empty hash not written by Flagman (i.e. by Go Flagger)."""
    return bool(value) and not value.startswith(HASH_PREFIX)


def has_target_changed(spec_hash: str, last_applied: str, last_promoted: str) -> bool:
    """Flagger's ``HasTargetChanged``: a revert to the promoted revision never counts as a change."""
    if not last_applied:
        return True
    if spec_hash == last_promoted:
        return False
    if is_foreign_hash(last_applied):
        return False
    return spec_hash != last_applied


def have_configs_changed(current: Mapping[str, str], recorded: Mapping[str, str] | None) -> bool:
    """Flagger's ``HaveDependenciesChanged`` (nil recorded map vs empty current set matters)."""
    if not current and recorded is None:
        return False
    if recorded is None:
        return True
    if len(current) != len(recorded):
        return True
    return any(recorded.get(key) != checksum for key, checksum in current.items())
