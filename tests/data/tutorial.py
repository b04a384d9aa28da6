"""The blue/green tutorial's manifests (the seed blue-green-tutorial.md), verbatim, and their variants.

Every test area uses these, so a test that says "the tutorial's Canary" means exactly the published one.
The functions return fresh objects: callers may mutate them.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

# "Create a canary custom resource", comments and all.
CANARY_YAML = """\
apiVersion: flagger.app/v1beta1
kind: Canary
metadata:
  name: podinfo
  namespace: test
spec:
  # service mesh provider can be: kubernetes, istio, appmesh, nginx, gloo
  provider: kubernetes
  # deployment reference
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  # the maximum time in seconds for the canary deployment
  # to make progress before rollback (default 600s)
  progressDeadlineSeconds: 60
  # HPA reference (optional)
  autoscalerRef:
    apiVersion: autoscaling/v2beta2
    kind: HorizontalPodAutoscaler
    name: podinfo
  service:
    port: 9898
    portDiscovery: true
  analysis:
    # schedule interval (default 60s)
    interval: 30s
    # max number of failed checks before rollback
    threshold: 2
    # number of checks to run before rollback
    iterations: 10
    # Prometheus checks based on
    # http_request_duration_seconds histogram
    metrics:
      - name: request-success-rate
        # minimum req success rate (non 5xx responses)
        # percentage (0-100)
        thresholdRange:
          min: 99
        interval: 1m
      - name: request-duration
        # maximum req duration P99
        # milliseconds
        thresholdRange:
          max: 500
        interval: 30s
    # acceptance/load testing hooks
    webhooks:
      - name: smoke-test
        type: pre-rollout
        url: http://flagger-loadtester.test/
        timeout: 15s
        metadata:
          type: bash
          cmd: "curl -sd 'anon' http://podinfo-canary.test:9898/token | grep token"
      - name: load-test
        url: http://flagger-loadtester.test/
        timeout: 5s
        metadata:
          type: cmd
          cmd: "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"
"""

# "Create a metric template": the query as published is broken (a missing comma before `status`, and
# `status!="{{ interval }}"` where `status!="404"` is meant).
METRIC_TEMPLATE_YAML = """\
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: not-found-percentage
  namespace: test
spec:
  provider:
    type: prometheus
    address: http://flagger-prometheus.flagger:9090
  query: |
    100 - sum(
        rate(
            http_request_duration_seconds_count{
              kubernetes_namespace="{{ namespace }}",
              kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
              status!="{{ interval }}"
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

# "Edit the canary analysis and add the following metric".
NOT_FOUND_METRIC_YAML = """\
  analysis:
    metrics:
      - name: "404s percentage"
        templateRef:
          name: not-found-percentage
        thresholdRange:
          max: 5
        interval: 1m
"""


def _load(text: str) -> dict[str, Any]:
    body = yaml.safe_load(text)
    assert isinstance(body, dict)
    return body


_CANARY = _load(CANARY_YAML)
_METRIC_TEMPLATE = _load(METRIC_TEMPLATE_YAML)
_NOT_FOUND_METRIC = _load(NOT_FOUND_METRIC_YAML)["analysis"]["metrics"][0]


def canary() -> dict[str, Any]:
    """The tutorial's Canary (``podinfo`` in ``test``, autoscalerRef written as autoscaling/v2beta2)."""
    return copy.deepcopy(_CANARY)


def not_found_metric() -> dict[str, Any]:
    """The "404s percentage" metric the tutorial adds, referring to the ``not-found-percentage`` template."""
    return copy.deepcopy(_NOT_FOUND_METRIC)


def canary_with_not_found_metric() -> dict[str, Any]:
    """The tutorial's Canary after its edit: the "404s percentage" metric added to the analysis."""
    body = canary()
    body["spec"]["analysis"]["metrics"].append(not_found_metric())
    return body


# The MetricTemplate's query exactly as published.
TUTORIAL_TEMPLATE_QUERY: str = _METRIC_TEMPLATE["spec"]["query"]

# What the tutorial means: 100 minus the percentage of non-404 requests, i.e. the 404 percentage.
FIXED_TEMPLATE_QUERY = TUTORIAL_TEMPLATE_QUERY.replace(
    '(-[0-9a-zA-Z]+)"\n          status!="{{ interval }}"', '(-[0-9a-zA-Z]+)",\n          status!="404"'
)
assert FIXED_TEMPLATE_QUERY != TUTORIAL_TEMPLATE_QUERY
