"""Scenarios (2) to (6) of the controller issue, each with the real controller process."""

from __future__ import annotations

import asyncio
import json

from controller.kube.api import CANARIES, DEPLOYMENTS, METRIC_TEMPLATES
from tests.controller.alerts.conftest import start_chat_server
from tests.controller.integration.conftest import Bench
from tests.controller.integration.scenarios import apply_canary, deploy_podinfo, set_image
from tests.controller.integration.test_tutorial import assert_in_order
from tests.controller.kube import objects
from tests.controller.kube.support import eventually


async def _canary_replicas(bench: Bench) -> int:
    return int((await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo"))["spec"]["replicas"])


async def _wait_message(bench: Bench, message: str, name: str = "podinfo") -> None:
    async def seen() -> bool:
        return message in await bench.messages(name)

    try:
        await eventually(seen, within=60, interval=0.05, what=repr(message))
    except AssertionError as error:
        events = "\n".join(await bench.messages(name))
        raise AssertionError(
            f"{error}\n--- events ---\n{events}\n--- controller log ---\n{bench.controller.log_tail()}"
        ) from None


async def test_low_success_rate_rolls_back(bench: Bench) -> None:
    """(2) success rate 60% -> two Halt events, rollback, Failed, canary at 0, failedChecks 2; with the
    tutorial's Slack flags, the failure reaches Slack with its reason."""
    slack, slack_runner = await start_chat_server()
    bench.controller.extra_args += [
        f"-slack-url={slack.url('/services/T/B/X')}",
        "-slack-channel=general",
        "-slack-user=flagger",
    ]
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    bench.prometheus.success_rate = 60.0
    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    canary = await bench.wait_phase("Failed")
    await bench.wait_message(f"Canary failed! Scaling down podinfo.{bench.ns}")

    messages = await bench.messages()
    halt = f"Halt podinfo.{bench.ns} advancement success rate 60.00% < 99%"
    assert_in_order(
        messages,
        [
            f"New revision detected! Scaling up podinfo.{bench.ns}",
            f"Starting canary analysis for podinfo.{bench.ns}",
            "Pre-rollout check smoke-test passed",
            halt,
            halt,
            f"Rolling back podinfo.{bench.ns} failed checks threshold reached 2",
            f"Canary failed! Scaling down podinfo.{bench.ns}",
        ],
    )
    assert messages.count(halt) == 2
    events = dict((message, kind) for kind, message in await bench.events())
    assert events[f"Canary failed! Scaling down podinfo.{bench.ns}"] == "Warning"
    assert canary["status"]["failedChecks"] == 2
    assert await _canary_replicas(bench) == 0
    primary = await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:3.1.0"
    promoted = next(c for c in canary["status"]["conditions"] if c["type"] == "Promoted")
    assert (promoted["status"], promoted["reason"]) == ("False", "Failed")

    async def failure_alerted() -> bool:
        return any("Failed checks threshold reached 2" in json.dumps(p) for p in slack.payloads())

    try:
        await eventually(failure_alerted, within=10, interval=0.05, what="the Slack alert")
    finally:
        await slack_runner.cleanup()
    alert = next(p for p in slack.payloads() if "Failed checks threshold reached 2" in json.dumps(p))
    assert (alert["channel"], alert["username"]) == ("general", "flagger")
    assert all(request.path == "/services/T/B/X" for request in slack.requests)


async def test_change_during_analysis_restarts_it(bench: Bench) -> None:
    """(3) a new image while analysing restarts the analysis; the newest image is promoted."""
    await deploy_podinfo(bench)
    await apply_canary(bench)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    await _wait_message(bench, f"Advance podinfo.{bench.ns} canary iteration 3/10")
    await set_image(bench, "stefanprodan/podinfo:3.1.2")
    await bench.wait_phase("Succeeded")
    await bench.wait_message(f"Promotion completed! Scaling down podinfo.{bench.ns}")

    messages = await bench.messages()
    restart = messages.index(f"New revision detected! Restarting analysis for podinfo.{bench.ns}")
    assert_in_order(
        messages[restart:],
        [
            f"Starting canary analysis for podinfo.{bench.ns}",
            *(f"Advance podinfo.{bench.ns} canary iteration {i}/10" for i in range(1, 11)),
            f"Copying podinfo.{bench.ns} template spec to podinfo-primary.{bench.ns}",
            f"Promotion completed! Scaling down podinfo.{bench.ns}",
        ],
    )
    assert messages.count(f"New revision detected! Scaling up podinfo.{bench.ns}") == 1  # no second scale-up
    assert messages.count(f"Copying podinfo.{bench.ns} template spec to podinfo-primary.{bench.ns}") == 1
    primary = await bench.api.get(DEPLOYMENTS, bench.ns, "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:3.1.2"


NOT_FOUND_QUERY = """
100 - sum(
    rate(
        http_request_duration_seconds_count{
          kubernetes_namespace="{{ namespace }}",
          kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)",
          status!="404"
        }[1m]
    )
)
/
sum(
    rate(
        http_request_duration_seconds_count{
          kubernetes_namespace="{{ namespace }}",
          kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
        }[{{ interval }}]
    )
) * 100
"""


async def test_not_found_percentage_template_rolls_back(bench: Bench) -> None:
    """(4) the tutorial's MetricTemplate (its intended 404 query): 6.20 > 5, 6.45 > 5, rollback."""
    template = {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "MetricTemplate",
        "metadata": {"name": "not-found-percentage", "namespace": "test"},
        "spec": {
            "provider": {"type": "prometheus", "address": bench.prometheus.url},
            "query": NOT_FOUND_QUERY,
        },
    }
    await bench.create(METRIC_TEMPLATES, template)
    await deploy_podinfo(bench)
    extra = [
        {
            "name": "404s percentage",
            "templateRef": {"name": "not-found-percentage"},
            "thresholdRange": {"max": 5},
            "interval": "1m",
        }
    ]
    await apply_canary(bench, extra_metrics=extra)
    bench.controller.start()
    await bench.wait_phase("Initialized")
    bench.prometheus.custom['status!="404"'] = [6.20, 6.45]
    await set_image(bench, "stefanprodan/podinfo:3.1.3")
    canary = await bench.wait_phase("Failed")
    await bench.wait_message(f"Canary failed! Scaling down podinfo.{bench.ns}")
    assert_in_order(
        await bench.messages(),
        [
            f"New revision detected! Scaling up podinfo.{bench.ns}",
            f"Halt podinfo.{bench.ns} advancement 404s percentage 6.20 > 5",
            f"Halt podinfo.{bench.ns} advancement 404s percentage 6.45 > 5",
            f"Rolling back podinfo.{bench.ns} failed checks threshold reached 2",
            f"Canary failed! Scaling down podinfo.{bench.ns}",
        ],
    )
    assert canary["status"]["failedChecks"] == 2
    rendered = [q for q in bench.prometheus.queries if 'status!="404"' in q]
    assert rendered and f'kubernetes_namespace="{bench.ns}"' in rendered[0] and "[1m]" in rendered[0]


async def test_malformed_canary_does_not_stop_a_good_one(bench: Bench) -> None:
    """(5) an invalid Canary gets a Warning event and a condition; the valid one next to it promotes."""
    await deploy_podinfo(bench)
    await deploy_podinfo(bench, name="backend")
    broken = objects.tutorial_canary(name="backend", target="backend", interval="200ms")
    broken["spec"]["service"]["port"] = 0
    broken["spec"]["progressDeadlineSeconds"] = -5
    await bench.create(CANARIES, broken)
    await apply_canary(bench)
    bench.controller.start()
    await bench.wait_phase("Initialized")

    async def flagged() -> dict[str, object] | None:
        body = await bench.canary("backend")
        conditions = (body.get("status") or {}).get("conditions") or []
        return next((c for c in conditions if c.get("status") == "False" and c.get("type") == "Valid"), None)

    condition = await eventually(flagged, within=30, what="the invalid canary's condition")
    assert "spec.service.port" in str(condition.get("message"))
    warnings = [message for kind, message in await bench.events("backend") if kind == "Warning"]
    assert any("spec.service.port: must be between 1 and 65535, got 0" in message for message in warnings), (
        warnings
    )
    assert any("spec.progressDeadlineSeconds" in message for message in warnings), warnings

    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    await bench.wait_phase("Succeeded")
    await bench.wait_message(f"Promotion completed! Scaling down podinfo.{bench.ns}")
    # The invalid canary touched nothing: no primary for its target.
    listing = await bench.api.request("GET", DEPLOYMENTS.path(bench.ns))
    assert "backend-primary" not in {item["metadata"]["name"] for item in listing["items"]}
    await asyncio.sleep(0.5)
    assert len(warnings) <= len([m for k, m in await bench.events("backend") if k == "Warning"])


async def test_killed_controller_resumes_from_status(bench: Bench) -> None:
    """(6) SIGKILL mid-analysis, restart: it resumes from status, no iteration twice, one promotion."""
    await deploy_podinfo(bench)
    await apply_canary(bench, interval="300ms")
    bench.controller.start()
    await bench.wait_phase("Initialized")
    await set_image(bench, "stefanprodan/podinfo:3.1.1")
    await _wait_message(bench, f"Advance podinfo.{bench.ns} canary iteration 4/10")
    bench.controller.kill()
    before = await bench.canary()
    stopped_at = before["status"]["iterations"]
    assert before["status"]["phase"] == "Progressing" and 4 <= stopped_at < 10
    await asyncio.sleep(1.0)  # nothing moves while the controller is down
    assert (await bench.canary())["status"]["iterations"] == stopped_at
    bench.controller.start()
    await bench.wait_phase("Succeeded")
    await bench.wait_message(f"Promotion completed! Scaling down podinfo.{bench.ns}")

    messages = await bench.messages()
    for i in range(1, 11):
        assert messages.count(f"Advance podinfo.{bench.ns} canary iteration {i}/10") == 1, (i, messages)
    assert messages.count(f"Starting canary analysis for podinfo.{bench.ns}") == 1
    assert messages.count(f"Copying podinfo.{bench.ns} template spec to podinfo-primary.{bench.ns}") == 1
    assert messages.count(f"Promotion completed! Scaling down podinfo.{bench.ns}") == 1
    assert messages.count(f"New revision detected! Scaling up podinfo.{bench.ns}") == 1
