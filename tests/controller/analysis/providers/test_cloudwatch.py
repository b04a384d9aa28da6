"""CloudWatch against a loopback stub of the GetMetricData query API that verifies SigV4 itself."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web

from controller.analysis.providers import ProviderConfigError, QueryError
from controller.analysis.providers import cloudwatch as cloudwatch_module
from controller.errors import AnalysisError, NoValuesError

from .conftest import Seen, ServerFactory, provider, record, serve
from .sigv4 import verify

REGION = "ap-northeast-1"
SECRET = {
    "aws_access_key_id": "AKIDEXAMPLE",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
}
QUERY = json.dumps(
    [
        {"Id": "e1", "Expression": "m1 / m2", "Label": "ErrorRate"},
        {
            "Id": "m1",
            "MetricStat": {
                "Metric": {
                    "Namespace": "MyKubernetesCluster",
                    "MetricName": "ErrorCount",
                    "Dimensions": [{"Name": "appName", "Value": "podinfo.test"}],
                },
                "Period": 60,
                "Stat": "Sum",
                "Unit": "Count",
            },
            "ReturnData": False,
        },
        {"id": "m2", "metricstat": {"metric": {"namespace": "NS", "metricName": "RequestCount"}, "period": 60,
                                     "stat": "Sum"}, "returnData": False, "ignoredField": 1},
    ]
)  # fmt: skip
NS = "http://monitoring.amazonaws.com/doc/2010-08-01/"


def metric_data(*values: str) -> str:
    """A GetMetricData answer as AWS documents it (query protocol, XML)."""
    members = "".join(f"<member>{value}</member>" for value in values)
    stamps = "".join("<member>2026-12-02T14:00:00Z</member>" for _ in values)
    return (
        f'<GetMetricDataResponse xmlns="{NS}"><GetMetricDataResult><MetricDataResults><member>'
        f"<Timestamps>{stamps}</Timestamps><Values>{members}</Values><Label>ErrorRate</Label><Id>e1</Id>"
        "<StatusCode>Complete</StatusCode></member></MetricDataResults><Messages/></GetMetricDataResult>"
        "<ResponseMetadata><RequestId>e5a4f4f6-0000-0000-0000-000000000000</RequestId></ResponseMetadata>"
        "</GetMetricDataResponse>"
    )


def aws_error(code: str, message: str) -> str:
    return (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message>"
        "</Error><RequestId>req-1</RequestId></ErrorResponse>"
    )


@dataclass
class CloudWatchStub:
    answers: list[tuple[int, str]] = field(default_factory=lambda: [(200, metric_data("0.05", "0.5"))])
    seen: list[Seen] = field(default_factory=list)
    forms: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        seen = await record(request, self.seen)
        problem = verify(
            method=seen.method, path=seen.path, query=seen.query, headers=seen.headers, body=seen.body,
            secrets={SECRET["aws_access_key_id"]: SECRET["aws_secret_access_key"]}, region=REGION,
            service="monitoring",
        )  # fmt: skip
        if problem is not None:
            return web.Response(
                status=403, text=aws_error("SignatureDoesNotMatch", problem), content_type="text/xml"
            )
        form = dict(parse_qsl(seen.body.decode(), keep_blank_values=True))
        self.forms.append(form)
        if (form.get("Action"), form.get("Version")) != ("GetMetricData", "2010-08-01"):
            return web.Response(
                status=400, text=aws_error("InvalidAction", "unknown action"), content_type="text/xml"
            )
        if not form.get("MetricDataQueries.member.1.Id"):
            return web.Response(
                status=400,
                text=aws_error("ValidationError", "1 validation error detected: MetricDataQueries"),
                content_type="text/xml",
            )
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return web.Response(status=status, text=body, content_type="text/xml")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self.handle)
        return app


@pytest.fixture
async def stub(aiohttp_server: ServerFactory) -> tuple[CloudWatchStub, str]:
    cloudwatch = CloudWatchStub()
    return cloudwatch, await serve(aiohttp_server, cloudwatch.app())


async def test_signed_query_protocol_request_with_the_window(
    stub: tuple[CloudWatchStub, str], session: aiohttp.ClientSession
) -> None:
    cloudwatch, address = stub
    built = provider(session, "cloudwatch", address, SECRET, interval="1m", region=REGION)
    assert await built.run_query(QUERY) == 0.05
    form = cloudwatch.forms[0]
    assert cloudwatch.seen[0].headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert form["MetricDataQueries.member.1.Expression"] == "m1 / m2"
    assert form["MetricDataQueries.member.2.MetricStat.Metric.Dimensions.member.1.Value"] == "podinfo.test"
    assert form["MetricDataQueries.member.2.MetricStat.Period"] == "60"
    assert form["MetricDataQueries.member.2.ReturnData"] == "false"
    # Field names are matched case-insensitively and unknown fields dropped, as Go's JSON decoder does.
    assert form["MetricDataQueries.member.3.MetricStat.Metric.MetricName"] == "RequestCount"
    assert not any("ignored" in key.lower() for key in form)
    assert form["MaxDatapoints"] == "20"
    start = datetime.datetime.fromisoformat(form["StartTime"])
    end = datetime.datetime.fromisoformat(form["EndTime"])
    assert (end - start).total_seconds() == 600
    assert abs((datetime.datetime.now(datetime.UTC) - end).total_seconds()) < 5


async def test_session_token_is_sent_and_signed(
    stub: tuple[CloudWatchStub, str], session: aiohttp.ClientSession
) -> None:
    cloudwatch, address = stub
    secret = {**SECRET, "aws_session_token": "FwoGZXIvYXdzEXAMPLE"}
    await provider(session, "cloudwatch", address, secret, region=REGION).run_query(QUERY)
    headers = cloudwatch.seen[0].headers
    assert headers["X-Amz-Security-Token"] == "FwoGZXIvYXdzEXAMPLE"
    assert "x-amz-security-token" in headers["Authorization"]


async def test_a_wrong_secret_key_fails_the_stubs_own_signature_check(
    stub: tuple[CloudWatchStub, str], session: aiohttp.ClientSession
) -> None:
    _, address = stub
    wrong = {**SECRET, "aws_secret_access_key": "not-the-key"}
    with pytest.raises(QueryError, match="SignatureDoesNotMatch: The request signature we calculated"):
        await provider(session, "cloudwatch", address, wrong, region=REGION).run_query(QUERY)


async def test_default_chain_credentials_from_the_environment(
    stub: tuple[CloudWatchStub, str], session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloudwatch, address = stub
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SECRET["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET["aws_secret_access_key"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", address)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    assert await provider(session, "cloudwatch", "", None, region=REGION).run_query(QUERY) == 0.05
    assert len(cloudwatch.seen) == 1


async def test_throttling_is_retried_like_the_sdk(
    stub: tuple[CloudWatchStub, str], session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloudwatch, address = stub
    monkeypatch.setattr(cloudwatch_module, "RETRY_BASE_SECONDS", 0.001)
    cloudwatch.answers = [(400, aws_error("Throttling", "Rate exceeded")), (503, ""), (200, metric_data("7"))]
    assert await provider(session, "cloudwatch", address, SECRET, region=REGION).run_query(QUERY) == 7.0
    assert len(cloudwatch.seen) == 3
    cloudwatch.answers = [(400, aws_error("Throttling", "Rate exceeded"))]
    with pytest.raises(
        QueryError, match=r"Throttling: Rate exceeded \(status code: 400, request id: req-1\)"
    ):
        await provider(session, "cloudwatch", address, SECRET, region=REGION).run_query(QUERY)
    assert len(cloudwatch.seen) == 3 + 4


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        ((200, metric_data()), NoValuesError, r"result ErrorRate \(Complete\) has no values"),
        (
            (200, f'<GetMetricDataResponse xmlns="{NS}"><GetMetricDataResult><MetricDataResults/>'
                  "</GetMetricDataResult></GetMetricDataResponse>"),
            NoValuesError,
            "no MetricDataResults: no values found",
        ),
        ((200, "<GetMetricDataResponse><oops"), QueryError, "SerializationError"),
        ((403, aws_error("AccessDenied", "not authorized to perform: cloudwatch:GetMetricData")), QueryError,
         "error requesting cloudwatch: AccessDenied: not authorized"),
    ],
)  # fmt: skip
async def test_empty_error_and_malformed_answers(
    stub: tuple[CloudWatchStub, str],
    session: aiohttp.ClientSession,
    answer: tuple[int, str],
    error: type[Exception],
    message: str,
) -> None:
    cloudwatch, address = stub
    cloudwatch.answers = [answer]
    with pytest.raises(error, match=message):
        await provider(session, "cloudwatch", address, SECRET, region=REGION).run_query(QUERY)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{}", "expected a JSON list"),
        ("[{", "error unmarshaling query"),
        (
            '[{"Id": "m1", "MetricStat": {"Period": "60"}}]',
            r"query\[0\].MetricStat.Period must be an integer",
        ),
    ],
)
async def test_bad_queries_are_reported_before_sending(
    stub: tuple[CloudWatchStub, str], session: aiohttp.ClientSession, query: str, message: str
) -> None:
    cloudwatch, address = stub
    with pytest.raises(QueryError, match=message):
        await provider(session, "cloudwatch", address, SECRET, region=REGION).run_query(query)
    assert cloudwatch.seen == []


async def test_probe_counts_a_validation_error_as_online(
    stub: tuple[CloudWatchStub, str], session: aiohttp.ClientSession
) -> None:
    cloudwatch, address = stub
    await provider(session, "cloudwatch", address, SECRET, region=REGION).check_online()
    form = cloudwatch.forms[-1]
    assert (form["MetricDataQueries"], form["StartTime"]) == ("", "0001-01-01T00:00:00Z")
    wrong = {**SECRET, "aws_secret_access_key": "nope"}
    with pytest.raises(AnalysisError, match="unexpected status code: SignatureDoesNotMatch"):
        await provider(session, "cloudwatch", address, wrong, region=REGION).check_online()


def test_region_is_required_and_picks_the_endpoint() -> None:
    with pytest.raises(ProviderConfigError, match="region not specified"):
        provider(None, "cloudwatch", "", SECRET)  # type: ignore[arg-type]
    assert (
        str(cloudwatch_module.endpoint_for("eu-west-1", "", {}))
        == "https://monitoring.eu-west-1.amazonaws.com/"
    )
    assert str(cloudwatch_module.endpoint_for("cn-north-1", "", {})).endswith(".amazonaws.com.cn/")
