"""Canary, MetricTemplate and AlertProvider models: parsing, defaults, validation, round trips."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from controller.api import AlertProvider, Canary, CanaryStatus, MetricTemplate, Phase
from controller.api.canary import ParsedSpec
from controller.errors import CanaryValidationError
from tests.data.tutorial import canary_with_not_found_metric


def test_tutorial_canary_parses_with_flagger_defaults() -> None:
    canary = Canary.from_dict(canary_with_not_found_metric())
    assert canary.key == "podinfo.test"
    assert canary.target_key == "podinfo.test"
    assert canary.service_name == "podinfo"
    assert canary.spec.effective_progress_deadline_seconds == 60
    assert (
        canary.spec.autoscaler_ref is not None
        and canary.spec.autoscaler_ref.api_version == "autoscaling/v2beta2"
    )
    analysis = canary.analysis
    assert analysis.interval_seconds() == 30.0
    assert analysis.interval_seconds(minimum=60) == 60.0
    assert (analysis.iterations, analysis.effective_threshold) == (10, 2)
    assert analysis.effective_primary_ready_threshold == analysis.effective_canary_ready_threshold == 100
    success, duration, not_found = analysis.metrics
    assert success.threshold_range is not None and success.threshold_range.min == 99
    assert duration.interval_seconds == 30.0
    assert not_found.template_ref is not None and not_found.template_ref.name == "not-found-percentage"
    assert not_found.template_ref.namespace == ""
    smoke, load = analysis.webhooks
    assert (smoke.effective_type, smoke.timeout_seconds) == ("pre-rollout", 15.0)
    assert (load.effective_type, load.timeout_seconds) == ("rollout", 5.0)
    assert analysis.hooks("rollout") == (load,)
    assert load.metadata["type"] == "cmd"
    assert canary.status == CanaryStatus()
    assert not canary.skip_analysis


def test_defaults_for_a_minimal_canary() -> None:
    body = {
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"targetRef": {"kind": "Deployment", "name": "app"}, "service": {"port": 80}, "analysis": {}},
    }
    canary = Canary.from_dict(body)
    assert canary.spec.effective_progress_deadline_seconds == 600
    assert canary.analysis.interval_seconds() == 60.0
    assert canary.analysis.effective_threshold == 1
    webhook_body = copy.deepcopy(body)
    webhook_body["spec"]["analysis"]["webhooks"] = [{"name": "h", "url": "http://x/", "timeout": "1"}]
    assert Canary.from_dict(webhook_body).analysis.webhooks[0].timeout_seconds == 10.0
    no_analysis = copy.deepcopy(body)
    del no_analysis["spec"]["analysis"]
    assert Canary.from_dict(no_analysis).skip_analysis


def test_round_trip_keeps_every_field() -> None:
    body = canary_with_not_found_metric()
    body["spec"]["service"]["match"] = [{"uri": {"prefix": "/"}}]
    body["spec"]["service"]["apex"] = {"labels": {"team": "a"}, "annotations": {"x": "y"}}
    body["spec"]["analysis"]["alerts"] = [
        {"name": "on-call", "severity": "error", "providerRef": {"name": "slack"}}
    ]
    body["status"] = {
        "phase": "Progressing",
        "failedChecks": 1,
        "canaryWeight": 0,
        "iterations": 3,
        "trackedConfigs": {"configmap/podinfo-config": "0123456789abcdef"},
        "lastAppliedSpec": "fm1-abc",
        "lastPromotedSpec": "fm1-def",
        "lastTransitionTime": "2026-01-01T12:00:00Z",
        "sessionAffinityCookie": "flagger-cookie-1",
        "conditions": [{"type": "Promoted", "status": "Unknown", "reason": "Progressing", "message": "m"}],
    }
    canary = Canary.from_dict(body)
    assert canary.status.phase == Phase.PROGRESSING
    again = canary.to_dict()
    assert again["spec"] == body["spec"]
    assert again["status"] == body["status"]
    assert Canary.from_dict(again) == canary


def test_tracked_configs_distinguishes_absent_from_empty() -> None:
    assert CanaryStatus.from_dict({}).tracked_configs is None
    assert CanaryStatus.from_dict({"trackedConfigs": {}}).tracked_configs == {}
    assert "trackedConfigs" not in CanaryStatus().to_dict()


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda s: s.pop("targetRef"), "spec.targetRef: is required"),
        (lambda s: s["targetRef"].pop("name"), "spec.targetRef.name: is required"),
        (
            lambda s: s["targetRef"].update(kind="Service"),
            "spec.targetRef.kind: Service targets are not supported, only Deployment and DaemonSet",
        ),
        (lambda s: s.pop("service"), "spec.service: is required"),
        (
            lambda s: s["service"].update(port=70000),
            "spec.service.port: must be between 1 and 65535, got 70000",
        ),
        (lambda s: s["service"].update(port="http"), "spec.service.port: must be an integer, got string"),
        (
            lambda s: s["analysis"].update(interval="30"),
            'spec.analysis.interval: time: invalid duration "30"',
        ),
        (
            lambda s: s["analysis"].update(threshold=-1),
            "spec.analysis.threshold: must not be negative, got -1",
        ),
        (lambda s: s["analysis"]["metrics"][0].pop("name"), "spec.analysis.metrics[0].name: is required"),
        (
            lambda s: s["analysis"]["metrics"][0].update(thresholdRange={"min": 99, "max": 1}),
            "spec.analysis.metrics[0].thresholdRange: min 99 is above max 1",
        ),
        (
            lambda s: s["analysis"]["webhooks"][0].update(type="pre-rolout"),
            "spec.analysis.webhooks[0].type: must be one of",
        ),
        (lambda s: s["analysis"]["webhooks"][1].pop("url"), "spec.analysis.webhooks[1].url: is required"),
        (
            lambda s: s["analysis"]["webhooks"][1].update(timeout="5 seconds"),
            "spec.analysis.webhooks[1].timeout: time: unknown unit",
        ),
        (
            lambda s: s["analysis"].update(primaryReadyThreshold=150),
            "spec.analysis.primaryReadyThreshold: must be a percentage between 0 and 100, got 150",
        ),
        (lambda s: s.update(suspend="yes"), "spec.suspend: must be a boolean, got string"),
        (lambda s: s["analysis"].update(metrics={}), "spec.analysis.metrics: must be a list, got object"),
        (
            lambda s: s["analysis"].update(
                alerts=[{"name": "a", "severity": "fatal", "providerRef": {"name": "p"}}]
            ),
            "spec.analysis.alerts[0].severity: must be one of info, warn, error, got 'fatal'",
        ),
    ],
)
def test_validation_names_the_field(mutate: Any, problem: str) -> None:
    body = canary_with_not_found_metric()
    mutate(body["spec"])
    with pytest.raises(CanaryValidationError) as caught:
        Canary.from_dict(body)
    assert any(item.startswith(problem) for item in caught.value.problems), caught.value.problems
    assert str(caught.value).startswith("invalid canary spec: ")


def test_validation_reports_every_problem_at_once() -> None:
    body = canary_with_not_found_metric()
    body["spec"]["service"]["port"] = 0
    body["spec"]["analysis"]["webhooks"][0]["name"] = ""
    with pytest.raises(CanaryValidationError) as caught:
        Canary.from_dict(body)
    assert len(caught.value.problems) == 2


def test_not_a_mapping_spec_is_a_problem_not_a_crash() -> None:
    with pytest.raises(CanaryValidationError) as caught:
        Canary.from_dict({"metadata": {"name": "x"}, "spec": ["oops"]})
    assert "spec: must be an object, got list" in caught.value.problems


def test_metric_template() -> None:
    body = {
        "metadata": {"name": "not-found-percentage", "namespace": "test"},
        "spec": {
            "provider": {
                "type": "prometheus",
                "address": "http://flagger-prometheus.flagger:9090",
                "headers": {"X-Scope-OrgID": ["tenant-1"]},
                "secretRef": {"name": "prom-auth"},
                "insecureSkipVerify": True,
            },
            "query": "sum(rate(x[{{ interval }}]))",
        },
    }
    template = MetricTemplate.from_dict(body)
    assert template.key == "not-found-percentage.test"
    assert template.provider.headers == {"X-Scope-OrgID": ("tenant-1",)}
    assert template.provider.secret_name == "prom-auth"
    assert template.to_dict()["spec"] == body["spec"]
    with pytest.raises(CanaryValidationError, match=r"spec\.provider\.type: must be one of"):
        MetricTemplate.from_dict(
            {"metadata": {"name": "t"}, "spec": {"provider": {"type": "x"}, "query": "q"}}
        )
    with pytest.raises(CanaryValidationError, match=r"spec\.query: is required"):
        MetricTemplate.from_dict({"metadata": {"name": "t"}, "spec": {"provider": {"type": "prometheus"}}})


def test_alert_provider_defaults_and_validation() -> None:
    provider = AlertProvider.from_dict(
        {
            "metadata": {"name": "on-call", "namespace": "test"},
            "spec": {"type": "slack", "address": "http://hook/"},
        }
    )
    assert (provider.channel, provider.username) == ("general", "flagger")
    with pytest.raises(CanaryValidationError, match="needs either address or secretRef"):
        AlertProvider.from_dict({"metadata": {"name": "x"}, "spec": {"type": "slack"}})


def test_unset_revisions_are_omitted_as_go_omitempty_does() -> None:
    """Flagger's CanaryStatus marks lastAppliedSpec/lastPromotedSpec `omitempty`: an Initializing status
    has neither (found by `make compare`: Flagman used to write them as "")."""
    initializing = CanaryStatus(phase=Phase.INITIALIZING).to_dict()
    assert "lastAppliedSpec" not in initializing and "lastPromotedSpec" not in initializing
    promoted = CanaryStatus(last_applied_spec="fm1-a", last_promoted_spec="fm1-a").to_dict()
    assert (promoted["lastAppliedSpec"], promoted["lastPromotedSpec"]) == ("fm1-a", "fm1-a")
    assert CanaryStatus.from_dict(initializing).last_applied_spec == ""


def test_an_unchanged_spec_is_reused_and_a_changed_one_parsed_again() -> None:
    body = canary_with_not_found_metric()
    first = Canary.from_dict(body)
    known = ParsedSpec.of(body, first)
    body["spec"]["analysis"]["iterations"] = 7  # the caller's body may change: the copy keeps the old
    assert known.raw["analysis"].get("iterations") != 7
    body["status"] = {"phase": "Progressing", "iterations": 3}
    changed = Canary.from_dict(body, known)
    assert changed.spec is not first.spec and changed.analysis.iterations == 7
    again = copy.deepcopy(body)
    again["status"]["iterations"] = 4
    reused = Canary.from_dict(again, ParsedSpec.of(body, changed))
    assert reused.spec is changed.spec, "a status write does not parse the spec again"
    assert reused.status.iterations == 4 and reused.status.phase == Phase.PROGRESSING
    again["status"]["iterations"] = "many"
    with pytest.raises(CanaryValidationError):
        Canary.from_dict(again, ParsedSpec.of(body, changed))
