"""The protobuf request decoder, on bodies captured from real kubectl and on bodies encoded by the
``protobuf`` package from a hand-written copy of the upstream .proto definitions."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.protobuf import decode, is_protobuf

DATA = Path(__file__).parent / "data" / "libs"
KUBECTL_133 = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")

# ----------------------------------------------------------------------- captured from kubectl 1.33


def test_captured_secret_generic() -> None:
    # kubectl.1.33 create secret generic podinfo-token --from-literal=token=s3cr3t \
    #   --from-literal=empty= -n test
    assert decode((DATA / "kubectl-1.33-create-secret-generic.pb").read_bytes()) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "podinfo-token", "namespace": "test"},
        "data": {"empty": "", "token": base64.b64encode(b"s3cr3t").decode()},
    }


def test_captured_secret_docker_registry_has_its_type() -> None:
    secret = decode((DATA / "kubectl-1.33-create-secret-docker-registry.pb").read_bytes())
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    config = base64.b64decode(secret["data"][".dockerconfigjson"]).decode()
    assert '"r.example"' in config and '"username":"u"' in config


def test_captured_configmap_with_unicode_and_binary_data() -> None:
    # kubectl.1.33 create configmap podinfo-config --from-literal=a=1 --from-literal=greeting='héllo wörld'
    #   --from-file=bin=<the 256 byte values 0..255>
    assert decode((DATA / "kubectl-1.33-create-configmap.pb").read_bytes()) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "podinfo-config", "namespace": "test"},
        "data": {"a": "1", "greeting": "héllo wörld"},
        "binaryData": {"bin": base64.b64encode(bytes(range(256))).decode()},
    }


def test_captured_namespace_drops_empty_spec_and_status() -> None:
    assert decode((DATA / "kubectl-1.33-create-namespace.pb").read_bytes()) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "test"},
    }


@pytest.mark.skipif(not KUBECTL_133.exists(), reason="kubectl.1.33 (sends protobuf bodies) is not installed")
async def test_live_kubectl_133_bodies_decode(tmp_path: Path) -> None:
    """Run the real kubectl 1.33 against a loopback recorder and decode what it sent."""
    received: list[tuple[str, dict[str, Any]]] = []

    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        assert is_protobuf(request.headers["Content-Type"])
        received.append((request.path, decode(body)))
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"}, status=201)

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {}}]\n"
    )
    base = [str(KUBECTL_133), "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache")]
    commands = [
        ["create", "secret", "generic", "live", "--from-literal=k=v", "--type=example.com/t", "-n", "test"],
        ["create", "configmap", "live", "--from-literal=x=y", "-n", "test"],
        ["create", "namespace", "live"],
    ]
    try:
        for command in commands:
            process = await asyncio.create_subprocess_exec(
                *base, *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
            assert process.returncode == 0, stderr.decode()
    finally:
        await runner.cleanup()
    assert received == [
        (
            "/api/v1/namespaces/test/secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "live", "namespace": "test"},
                "data": {"k": "dg=="},
                "type": "example.com/t",
            },
        ),
        (
            "/api/v1/namespaces/test/configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "live", "namespace": "test"},
                "data": {"x": "y"},
            },
        ),
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "live"}}),
    ]


# ------------------------------------------------- encoded by the protobuf package from .proto shapes

# (message, [(field name, number, type, label, type_name)]) as in k8s.io/apimachinery meta/v1,
# runtime and k8s.io/api core/v1 generated.proto (proto2, so presence of optional fields is kept).
T = descriptor_pb2.FieldDescriptorProto
OPT, REP = T.LABEL_OPTIONAL, T.LABEL_REPEATED
STR, BYTES, I64, I32, BOOL, MSG = (
    T.TYPE_STRING,
    T.TYPE_BYTES,
    T.TYPE_INT64,
    T.TYPE_INT32,
    T.TYPE_BOOL,
    T.TYPE_MESSAGE,
)
MESSAGES: list[tuple[str, list[tuple[str, int, int, int, str]]]] = [
    ("TypeMeta", [("apiVersion", 1, STR, OPT, ""), ("kind", 2, STR, OPT, "")]),
    (
        "Unknown",
        [
            ("typeMeta", 1, MSG, OPT, "TypeMeta"),
            ("raw", 2, BYTES, OPT, ""),
            ("contentEncoding", 3, STR, OPT, ""),
            ("contentType", 4, STR, OPT, ""),
        ],
    ),
    ("Time", [("seconds", 1, I64, OPT, ""), ("nanos", 2, I32, OPT, "")]),
    ("StringEntry", [("key", 1, STR, OPT, ""), ("value", 2, STR, OPT, "")]),
    ("BytesEntry", [("key", 1, STR, OPT, ""), ("value", 2, BYTES, OPT, "")]),
    (
        "OwnerReference",
        [
            ("apiVersion", 5, STR, OPT, ""),
            ("kind", 1, STR, OPT, ""),
            ("name", 3, STR, OPT, ""),
            ("uid", 4, STR, OPT, ""),
            ("controller", 6, BOOL, OPT, ""),
            ("blockOwnerDeletion", 7, BOOL, OPT, ""),
        ],
    ),
    ("FieldsV1", [("Raw", 1, BYTES, OPT, "")]),
    (
        "ManagedFieldsEntry",
        [
            ("manager", 1, STR, OPT, ""),
            ("operation", 2, STR, OPT, ""),
            ("apiVersion", 3, STR, OPT, ""),
            ("time", 4, MSG, OPT, "Time"),
            ("fieldsType", 6, STR, OPT, ""),
            ("fieldsV1", 7, MSG, OPT, "FieldsV1"),
            ("subresource", 8, STR, OPT, ""),
        ],
    ),
    (
        "ObjectMeta",
        [
            ("name", 1, STR, OPT, ""),
            ("generateName", 2, STR, OPT, ""),
            ("namespace", 3, STR, OPT, ""),
            ("selfLink", 4, STR, OPT, ""),
            ("uid", 5, STR, OPT, ""),
            ("resourceVersion", 6, STR, OPT, ""),
            ("generation", 7, I64, OPT, ""),
            ("creationTimestamp", 8, MSG, OPT, "Time"),
            ("deletionTimestamp", 9, MSG, OPT, "Time"),
            ("deletionGracePeriodSeconds", 10, I64, OPT, ""),
            ("labels", 11, MSG, REP, "StringEntry"),
            ("annotations", 12, MSG, REP, "StringEntry"),
            ("ownerReferences", 13, MSG, REP, "OwnerReference"),
            ("finalizers", 14, STR, REP, ""),
            ("managedFields", 17, MSG, REP, "ManagedFieldsEntry"),
        ],
    ),
    (
        "Secret",
        [
            ("metadata", 1, MSG, OPT, "ObjectMeta"),
            ("data", 2, MSG, REP, "BytesEntry"),
            ("type", 3, STR, OPT, ""),
            ("stringData", 4, MSG, REP, "StringEntry"),
            ("immutable", 5, BOOL, OPT, ""),
        ],
    ),
    (
        "ConfigMap",
        [
            ("metadata", 1, MSG, OPT, "ObjectMeta"),
            ("data", 2, MSG, REP, "StringEntry"),
            ("binaryData", 3, MSG, REP, "BytesEntry"),
            ("immutable", 4, BOOL, OPT, ""),
        ],
    ),
    ("NamespaceSpec", [("finalizers", 1, STR, REP, "")]),
    ("NamespaceStatus", [("phase", 1, STR, OPT, "")]),
    (
        "Namespace",
        [
            ("metadata", 1, MSG, OPT, "ObjectMeta"),
            ("spec", 2, MSG, OPT, "NamespaceSpec"),
            ("status", 3, MSG, OPT, "NamespaceStatus"),
        ],
    ),
    ("Preconditions", [("uid", 1, STR, OPT, ""), ("resourceVersion", 2, STR, OPT, "")]),
    (
        "DeleteOptions",
        [
            ("gracePeriodSeconds", 1, I64, OPT, ""),
            ("preconditions", 2, MSG, OPT, "Preconditions"),
            ("orphanDependents", 3, BOOL, OPT, ""),
            ("propagationPolicy", 4, STR, OPT, ""),
            ("dryRun", 5, STR, REP, ""),
        ],
    ),
    ("Deployment", [("metadata", 1, MSG, OPT, "ObjectMeta")]),
]


def message_classes() -> dict[str, Any]:
    file = descriptor_pb2.FileDescriptorProto(name="k8s_test.proto", package="k8stest", syntax="proto2")
    for name, fields in MESSAGES:
        message = file.message_type.add(name=name)
        for field_name, number, field_type, label, type_name in fields:
            added = message.field.add(name=field_name, number=number, type=field_type, label=label)
            if type_name:
                added.type_name = f".k8stest.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"k8stest.{name}"))
        for name, _ in MESSAGES
    }


PB = message_classes()


def envelope(api_version: str, kind: str, obj: Any, **extra: Any) -> bytes:
    unknown = PB["Unknown"](
        typeMeta=PB["TypeMeta"](apiVersion=api_version, kind=kind), raw=obj.SerializeToString()
    )
    for key, value in extra.items():
        setattr(unknown, key, value)
    return b"k8s\x00" + unknown.SerializeToString()


def entries(kind: str, mapping: dict[str, Any]) -> list[Any]:
    return [PB[kind](key=k, value=v) for k, v in mapping.items()]


def full_metadata() -> Any:
    return PB["ObjectMeta"](
        name="sh.helm.release.v1.demo.v1",
        namespace="hel",
        uid="",  # Go writes empty non-pointer strings; they must not come out as ""
        resourceVersion="12",
        generation=0,
        creationTimestamp=PB["Time"](seconds=1764151200),
        labels=entries(
            "StringEntry", {"owner": "helm", "name": "demo", "status": "deployed", "version": "1"}
        ),
        annotations=entries("StringEntry", {"meta.helm.sh/release-name": "demo"}),
        ownerReferences=[
            PB["OwnerReference"](
                apiVersion="apps/v1",
                kind="Deployment",
                name="podinfo",
                uid="u-1",
                controller=True,
                blockOwnerDeletion=False,
            )
        ],
        finalizers=["example.com/keep", "kubernetes"],
        managedFields=[
            PB["ManagedFieldsEntry"](
                manager="helm",
                operation="Apply",
                apiVersion="v1",
                time=PB["Time"](seconds=1764151200),
                fieldsType="FieldsV1",
                fieldsV1=PB["FieldsV1"](Raw=b'{"f:data":{}}'),
            )
        ],
    )


EXPECTED_METADATA = {
    "name": "sh.helm.release.v1.demo.v1",
    "namespace": "hel",
    "resourceVersion": "12",
    "creationTimestamp": "2025-11-26T10:00:00Z",
    "labels": {"owner": "helm", "name": "demo", "status": "deployed", "version": "1"},
    "annotations": {"meta.helm.sh/release-name": "demo"},
    "ownerReferences": [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "podinfo",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": False,
        }
    ],
    "finalizers": ["example.com/keep", "kubernetes"],
    "managedFields": [
        {
            "manager": "helm",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": "2025-11-26T10:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {}},
        }
    ],
}


def test_helm_release_secret_with_full_object_meta() -> None:
    release = b"H4sIAAAAAAAA/6pWKkktLlGyUlAqS8wpTVWqBQQAAP//"
    secret = PB["Secret"](
        metadata=full_metadata(),
        data=entries("BytesEntry", {"release": release}),
        type="helm.sh/release.v1",
        immutable=False,
    )
    assert decode(envelope("v1", "Secret", secret)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": EXPECTED_METADATA,
        "data": {"release": base64.b64encode(release).decode()},
        "type": "helm.sh/release.v1",
        "immutable": False,  # a pointer field: an explicit false is kept
    }


def test_secret_string_data_and_configmap_immutable() -> None:
    secret = PB["Secret"](metadata=PB["ObjectMeta"](name="s"), stringData=entries("StringEntry", {"a": "b"}))
    assert decode(envelope("v1", "Secret", secret)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"a": "b"},
    }
    config_map = PB["ConfigMap"](metadata=PB["ObjectMeta"](generateName="cm-"), immutable=True)
    assert decode(envelope("v1", "ConfigMap", config_map)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"generateName": "cm-"},
        "immutable": True,
    }


def test_namespace_with_spec_status_and_deletion_fields() -> None:
    metadata = PB["ObjectMeta"](
        name="gone",
        deletionTimestamp=PB["Time"](seconds=0, nanos=0),
        deletionGracePeriodSeconds=0,
        generation=3,
    )
    namespace = PB["Namespace"](
        metadata=metadata,
        spec=PB["NamespaceSpec"](finalizers=["kubernetes"]),
        status=PB["NamespaceStatus"](phase="Terminating"),
    )
    assert decode(envelope("v1", "Namespace", namespace)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "gone", "generation": 3, "deletionGracePeriodSeconds": 0},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Terminating"},
    }


@pytest.mark.parametrize("api_version", ["v1", "meta.k8s.io/v1"])
def test_delete_options_as_helm_sends_them(api_version: str) -> None:
    options = PB["DeleteOptions"](
        gracePeriodSeconds=0,
        preconditions=PB["Preconditions"](uid="u-1", resourceVersion="7"),
        propagationPolicy="Background",
        dryRun=["All"],
    )
    assert decode(envelope(api_version, "DeleteOptions", options)) == {
        "apiVersion": api_version,
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u-1", "resourceVersion": "7"},
        "propagationPolicy": "Background",
        "dryRun": ["All"],
    }
    assert decode(envelope(api_version, "DeleteOptions", PB["DeleteOptions"]())) == {
        "apiVersion": api_version,
        "kind": "DeleteOptions",
    }
    orphan = decode(envelope("v1", "DeleteOptions", PB["DeleteOptions"](orphanDependents=False)))
    assert orphan["orphanDependents"] is False


def test_unknown_fields_are_skipped() -> None:
    metadata = full_metadata()
    raw = PB["Secret"](metadata=metadata, type="Opaque").SerializeToString()
    # field 99 in each wire type (key varint 0x98 0x06 + wire type): varint, fixed64, bytes, fixed32
    raw += b"\x98\x06\x01" + b"\x99\x06" + b"\x00" * 8 + b"\x9a\x06\x02ab" + b"\x9d\x06" + b"\x00" * 4
    unknown = PB["Unknown"](typeMeta=PB["TypeMeta"](apiVersion="v1", kind="Secret"), raw=raw)
    decoded = decode(b"k8s\x00" + unknown.SerializeToString())
    assert decoded["type"] == "Opaque"
    assert decoded["metadata"] == EXPECTED_METADATA


def test_other_kinds_are_415_naming_the_kind() -> None:
    body = envelope("apps/v1", "Deployment", PB["Deployment"](metadata=PB["ObjectMeta"](name="d")))
    with pytest.raises(ApiError) as caught:
        decode(body)
    assert caught.value.code == 415
    assert caught.value.reason == "UnsupportedMediaType"
    assert "Deployment (apps/v1)" in caught.value.message


def test_content_encoding_is_refused() -> None:
    body = envelope("v1", "Secret", PB["Secret"](), contentEncoding="gzip")
    with pytest.raises(ApiError) as caught:
        decode(body)
    assert caught.value.code == 415


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind": "Secret"}',
        b"k8s",
        b"k8s\x00\x0a\x05\x0a\x02v1",  # envelope field 1 runs past the end
        b"k8s\x00\x0a\x80",  # truncated varint
        b"k8s\x00\x0b",  # wire type 3 (groups) is not used by Kubernetes
    ],
)
def test_malformed_bodies_are_400(body: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        decode(body)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"


def test_malformed_object_inside_a_good_envelope_is_400_naming_the_kind() -> None:
    unknown = PB["Unknown"](typeMeta=PB["TypeMeta"](apiVersion="v1", kind="Secret"), raw=b"\x0a\x10short")
    with pytest.raises(ApiError) as caught:
        decode(b"k8s\x00" + unknown.SerializeToString())
    assert caught.value.code == 400
    assert caught.value.message.startswith('Secret in version "v1" cannot be handled as a Secret')


def test_wrong_wire_type_for_a_known_field_is_400() -> None:
    raw = b"\x08\x01"  # Secret field 1 (metadata) sent as a varint
    unknown = PB["Unknown"](typeMeta=PB["TypeMeta"](apiVersion="v1", kind="Secret"), raw=raw)
    with pytest.raises(ApiError) as caught:
        decode(b"k8s\x00" + unknown.SerializeToString())
    assert caught.value.code == 400
    assert "wire type" in caught.value.message


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/vnd.kubernetes.protobuf", True),
        ("Application/VND.Kubernetes.Protobuf; charset=utf-8", True),
        ("application/vnd.kubernetes.protobuf;stream=watch", True),
        ("application/json", False),
        ("", False),
    ],
)
def test_is_protobuf(content_type: str, expected: bool) -> None:
    assert is_protobuf(content_type) is expected
