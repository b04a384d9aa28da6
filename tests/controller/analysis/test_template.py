"""Query templates: every variable, Go-like errors, and the exact builtin queries."""

from __future__ import annotations

import pytest

from controller.analysis.builtin import REQUEST_DURATION, REQUEST_SUCCESS_RATE, builtin_query
from controller.analysis.checks import template_model
from controller.analysis.template import TemplateModel, TemplateRenderError, collapse_whitespace, render_query
from controller.api.canary import Canary, Metric
from tests.data.tutorial import TUTORIAL_TEMPLATE_QUERY

from .helpers import tutorial_canary

MODEL = TemplateModel(
    name="podinfo",
    namespace="test",
    target="podinfo-deploy",
    service="podinfo-svc",
    ingress="podinfo-ing",
    route="podinfo-route",
    interval="2m",
    variables={"direction": "inbound", "my-key": "dashed"},
)


def test_every_variable_renders() -> None:
    template = (
        "{{ name }}|{{namespace}}|{{ target }}|{{ service }}|{{ ingress }}|{{ route }}|"
        '{{ interval }}|{{ variables.direction }}|{{ index variables "my-key" }}'
    )
    assert render_query(template, MODEL) == (
        "podinfo|test|podinfo-deploy|podinfo-svc|podinfo-ing|podinfo-route|2m|inbound|dashed"
    )


def test_trim_markers_and_comments() -> None:
    assert render_query("a   {{- namespace -}}   b{{/* why */}}c", MODEL) == "atestbc"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("sum(x{a=\n'{{ nope }}'})", 'template: tmpl:2: function "nope" not defined'),
        (
            "{{ variables.missing }}",
            'template: tmpl:1: executing "tmpl" at <variables.missing>: map has no entry for key "missing"',
        ),
        ("{{ namespace.field }}", "can't evaluate field field in type string"),
        ("{{ .namespace }}", "call the function without a dot, e.g. {{ namespace }}"),
        ("{{ if name }}x{{ end }}", "unsupported template action {{ if name }}"),
        ("x {{ namespace", "template: tmpl:1: unclosed action"),
        ("{{ }}", "missing value for command"),
    ],
)
def test_render_errors_say_what_is_wrong(template: str, message: str) -> None:
    with pytest.raises(TemplateRenderError) as error:
        render_query(template, MODEL)
    assert message in str(error.value)


def test_model_from_canary_defaults_service_ingress_route_to_target() -> None:
    canary = tutorial_canary()
    model = template_model(canary, Metric(name="x", template_variables={"k": "v"}))
    assert (model.name, model.namespace, model.target) == ("podinfo", "test", "podinfo")
    assert (model.service, model.ingress, model.route) == ("podinfo", "podinfo", "podinfo")
    assert model.variables == {"k": "v"}
    assert model.interval == "1m"  # fixed Flagger defect: empty interval rendered "" for templates


def test_model_uses_service_name_ingress_and_route_refs() -> None:
    body = tutorial_canary().to_dict()
    body["spec"]["service"]["name"] = "frontend"
    body["spec"]["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "ing"}
    body["spec"]["routeRef"] = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "name": "rt",
    }
    model = template_model(Canary.from_dict(body), Metric(name="x", interval="30s"))
    assert (model.service, model.ingress, model.route, model.interval) == ("frontend", "ing", "rt", "30s")


def test_builtin_queries_are_exactly_flaggers() -> None:
    model = TemplateModel("podinfo", "test", "podinfo", "podinfo", "podinfo", "podinfo", "1m")
    assert builtin_query(REQUEST_SUCCESS_RATE, model) == (
        ' sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="test", '
        'kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", status!~"5.*" }[1m] ) ) / '
        'sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="test", '
        'kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) * 100'
    )
    assert builtin_query(REQUEST_DURATION, model) == (
        " histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{ "
        'kubernetes_namespace="test", '
        'kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" }[1m] ) ) by (le) )'
    )


def test_tutorial_template_renders_and_collapses_like_flagger() -> None:
    rendered = collapse_whitespace(render_query(TUTORIAL_TEMPLATE_QUERY, MODEL))
    assert "\n" not in rendered and "  " not in rendered
    assert rendered.startswith(
        '100 - sum( rate( http_request_duration_seconds_count{ kubernetes_namespace="test",'
    )
    assert 'status!="2m" }[1m]' in rendered  # the published query's mistake, rendered faithfully
