"""The request log and the conformance corpus (FLAGMAN_APISERVER_CORPUS) record what clients sent and got."""

from __future__ import annotations

import json
import pathlib
import urllib.request

import pytest

from sandbox.apiserver.testing import ApiServer
from tests.data import tutorial

from .conftest import flagger_crds, http


def send(server: ApiServer, method: str, path: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(server.url + path, data=body, method=method)
    request.add_header("Content-Type", content_type)
    request.add_header("User-Agent", "recorder-test/1.0")
    request.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_log_keeps_headers_but_no_bodies_unless_recording(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLAGMAN_APISERVER_CORPUS", raising=False)  # make conformance records this test too
    with ApiServer(workdir=tmp_path) as apiserver:
        body = json.dumps({"metadata": {"name": "plain"}}).encode()
        assert (
            send(apiserver, "POST", "/api/v1/namespaces/default/configmaps", body, "application/json") == 201
        )
        record = apiserver.request_log[-1]
    assert (record.method, record.path, record.status) == (
        "POST",
        "/api/v1/namespaces/default/configmaps",
        201,
    )
    assert (record.content_type, record.accept, record.user_agent) == (
        "application/json",
        "application/json",
        "recorder-test/1.0",
    )
    assert record.body is None and record.response_body is None


def test_corpus_holds_every_request_with_bodies_answers_and_warnings(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    monkeypatch.setenv("FLAGMAN_APISERVER_CORPUS", str(corpus))
    with ApiServer(workdir=tmp_path / "server") as server:
        canary_crd = next(crd for crd in flagger_crds() if crd["spec"]["names"]["kind"] == "Canary")
        assert (
            http(server, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", canary_crd)[0]
            == 201
        )
        canary = tutorial.canary()
        canary["metadata"]["namespace"] = "default"
        canary["spec"]["analysis"]["typo"] = 1
        status = send(
            server,
            "POST",
            "/apis/flagger.app/v1beta1/namespaces/default/canaries?fieldValidation=Warn",
            json.dumps(canary).encode(),
            "application/json",
        )
        assert status == 201
        assert (
            send(
                server,
                "POST",
                "/api/v1/namespaces/default/configmaps",
                b"\x0a\x00",
                "application/vnd.kubernetes.protobuf",
            )
            == 400
        )
    lines = [json.loads(line) for line in corpus.read_text().splitlines()]
    assert len({line["session"] for line in lines}) == 1
    assert lines[0]["test"].endswith("test_corpus_holds_every_request_with_bodies_answers_and_warnings")
    created = next(line for line in lines if line["path"].endswith("/canaries"))
    assert created["method"] == "POST" and created["query"] == "fieldValidation=Warn"
    assert created["content_type"] == "application/json" and created["user_agent"] == "recorder-test/1.0"
    assert json.loads(created["body"])["metadata"]["name"] == "podinfo"
    assert created["status"] == 201 and created["response"]["metadata"]["uid"]
    assert created["warnings"] == ['299 - "unknown field \\"spec.analysis.typo\\""']
    binary = lines[-1]
    assert binary["body_base64"] == "CgA=" and "body" not in binary
    assert binary["status"] == 400 and binary["response"]["kind"] == "Status"
