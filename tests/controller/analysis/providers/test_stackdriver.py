"""Google Cloud Monitoring against loopback stubs of the OAuth token endpoint and ``timeSeries:query``.

The service account key's ``token_uri`` points at the token stub, which verifies the RS256 JWT grant
with the key's public half, so the whole google-auth exchange runs for real.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from controller.analysis.providers import ProviderConfigError, QueryError
from controller.errors import AnalysisError, NoValuesError

from .conftest import Seen, ServerFactory, provider, record, serve

MQL = "fetch k8s_container | metric 'kubernetes.io/container/cpu/core_usage_time' | within 1m"
SCOPE = "https://www.googleapis.com/auth/monitoring.read"
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def series(*values: dict[str, Any]) -> dict[str, Any]:
    """A ``timeSeries:query`` answer as the REST reference documents it."""
    return {
        "timeSeriesDescriptor": {
            "labelDescriptors": [{"key": "resource.container_name"}],
            "pointDescriptors": [
                {"key": "value.core_usage_time", "valueType": "DOUBLE", "metricKind": "GAUGE"}
            ],
        },
        "timeSeriesData": [
            {
                "labelValues": [{"stringValue": "podinfod"}],
                "pointData": [
                    {
                        "values": [value],
                        "timeInterval": {
                            "startTime": "2026-12-02T14:00:00Z",
                            "endTime": "2026-12-02T14:01:00Z",
                        },
                    }
                ],
            }
            for value in values
        ],
    }


@dataclass
class GoogleStub:
    address: str = ""
    answer: tuple[int, Any] = (200, series({"doubleValue": 0.42}))
    tokens_issued: int = 0
    seen: list[Seen] = field(default_factory=list)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        header, payload, signature = str(form["assertion"]).split(".")
        try:
            PRIVATE_KEY.public_key().verify(
                _b64decode(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status=400
            )
        claims = json.loads(_b64decode(payload))
        if (claims["iss"], claims["aud"], claims["scope"]) != (
            "flagger@my-project.iam.gserviceaccount.com",
            "https://oauth2.googleapis.com/token",  # google-auth's audience, whatever the token_uri
            SCOPE,
        ):
            return web.json_response(
                {"error": "invalid_grant", "error_description": f"claims {claims}"}, status=400
            )
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": "ya29.stub-token", "expires_in": 3599, "token_type": "Bearer"}
        )

    async def query(self, request: web.Request) -> web.Response:
        seen = await record(request, self.seen)
        if seen.headers.get("Authorization") != "Bearer ya29.stub-token":
            return web.json_response(
                {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                           "status": "UNAUTHENTICATED"}}, status=401)  # fmt: skip
        if request.match_info["project"] != "my-project":
            return web.json_response(
                {"error": {"code": 403, "message": "Permission monitoring.timeSeries.list denied",
                           "status": "PERMISSION_DENIED"}}, status=403)  # fmt: skip
        if not json.loads(seen.body).get("query"):
            return web.json_response(
                {"error": {"code": 400, "message": "Query is empty.", "status": "INVALID_ARGUMENT"}},
                status=400,
            )
        status, body = self.answer
        return web.Response(status=status, text=body if isinstance(body, str) else json.dumps(body))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_post("/v3/projects/{project}/timeSeries:query", self.query)
        return app

    def secret(self, project: str = "my-project") -> dict[str, str]:
        pem = PRIVATE_KEY.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        key = {
            "type": "service_account",
            "project_id": project,
            "private_key_id": "0123456789abcdef",
            "private_key": pem,
            "client_email": "flagger@my-project.iam.gserviceaccount.com",
            "client_id": "100000000000000000001",
            "token_uri": f"{self.address}/token",
        }
        return {"project": project, "serviceAccountKey": json.dumps(key)}


@pytest.fixture
async def stub(aiohttp_server: ServerFactory) -> GoogleStub:
    google = GoogleStub()
    google.address = await serve(aiohttp_server, google.app())
    return google


async def test_mql_query_with_a_service_account_token(
    stub: GoogleStub, session: aiohttp.ClientSession
) -> None:
    built = provider(session, "stackdriver", stub.address, stub.secret())
    assert await built.run_query(MQL) == 0.42
    seen = stub.seen[0]
    assert (seen.method, seen.path) == ("POST", "/v3/projects/my-project/timeSeries:query")
    assert json.loads(seen.body) == {"query": MQL}
    assert await provider(session, "stackdriver", stub.address, stub.secret()).run_query(MQL) == 0.42
    assert stub.tokens_issued == 1  # the token is reused until it expires


async def test_int64_points_are_used(stub: GoogleStub, session: aiohttp.ClientSession) -> None:
    stub.answer = (200, series({"int64Value": "17"}))
    assert await provider(session, "stackdriver", stub.address, stub.secret()).run_query(MQL) == 17.0


@pytest.mark.parametrize("body", [{}, {"timeSeriesDescriptor": {}}, series({"doubleValue": "NaN"})])
async def test_no_series_mean_no_values(
    stub: GoogleStub, session: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    stub.answer = (200, body)
    with pytest.raises(NoValuesError, match="no values found"):
        await provider(session, "stackdriver", stub.address, stub.secret()).run_query(MQL)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((400, {"error": {"code": 400, "message": "Line 1: unknown table 'x'",
                          "status": "INVALID_ARGUMENT"}}),
         "rpc error: code = InvalidArgument desc = Line 1: unknown table 'x'"),
        ((429, {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}),
         "code = ResourceExhausted desc = Quota exceeded"),
        ((502, "<html>Bad Gateway</html>"), "code = Unknown desc = 502 Bad Gateway"),
        ((200, "{"), "invalid JSON answer"),
        ((200, series({"boolValue": True})), "the first value is a boolValue"),
    ],
)  # fmt: skip
async def test_errors_rate_limits_and_malformed_answers(
    stub: GoogleStub, session: aiohttp.ClientSession, answer: tuple[int, Any], message: str
) -> None:
    stub.answer = answer
    with pytest.raises(QueryError, match=message):
        await provider(session, "stackdriver", stub.address, stub.secret()).run_query(MQL)


async def test_probe_expects_invalid_argument_for_an_empty_query(
    stub: GoogleStub, session: aiohttp.ClientSession
) -> None:
    await provider(session, "stackdriver", stub.address, stub.secret()).check_online()
    assert json.loads(stub.seen[-1].body) == {"query": ""}
    with pytest.raises(AnalysisError, match="unexpected status code: PermissionDenied"):
        await provider(session, "stackdriver", stub.address, stub.secret("other-project")).check_online()


def test_project_is_required_with_a_secret() -> None:
    with pytest.raises(ProviderConfigError, match="stackdriver credentials does not contain a project id"):
        provider(None, "stackdriver", "", {"serviceAccountKey": "{}"})  # type: ignore[arg-type]


async def test_a_broken_key_is_a_clear_error(stub: GoogleStub, session: aiohttp.ClientSession) -> None:
    with pytest.raises(ProviderConfigError, match="serviceAccountKey is not a usable key"):
        await provider(
            session, "stackdriver", stub.address, {"project": "p", "serviceAccountKey": "{"}
        ).run_query(MQL)
