"""Hashes of cached objects are computed again only when the object changed."""

from __future__ import annotations

from controller.kube.derived import DerivedValues
from controller.kube.objects import JsonDict


def _config(version: str, color: str) -> JsonDict:
    meta = {"name": "cfg", "namespace": "test", "resourceVersion": version}
    return {"metadata": meta, "data": {"color": color}}


def test_a_value_is_kept_until_the_resource_version_changes() -> None:
    calls: list[str] = []

    def color(obj: JsonDict) -> str:
        calls.append(obj["metadata"].get("resourceVersion", ""))
        return str(obj["data"]["color"])

    derived = DerivedValues()
    assert derived.value("configmap", _config("1", "blue"), color) == "blue"
    assert derived.value("configmap", _config("1", "blue"), color) == "blue"
    assert calls == ["1"]
    assert derived.value("configmap", _config("2", "green"), color) == "green"
    assert derived.value("secret", _config("2", "green"), color) == "green", "another kind, another entry"
    unstored = {"metadata": {"name": "cfg", "namespace": "test"}, "data": {"color": "red"}}
    assert derived.value("configmap", unstored, color) == "red"
    assert derived.value("configmap", unstored, color) == "red"
    assert calls == ["1", "2", "2", "", ""], "no resourceVersion, no memory"
