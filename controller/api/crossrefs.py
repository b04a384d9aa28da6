"""`-no-cross-namespace-refs`: the references a Canary may not make into another namespace (Flagger's
`verifyNoCrossNamespaceRefs`, checked when the Canary is synced, before anything is created)."""

from __future__ import annotations

from controller.api.canary import Canary


def cross_namespace_refs(canary: Canary) -> list[str]:
    """Flagger's messages for every MetricTemplate `templateRef`, alert `providerRef` and `upstreamRef`
    naming a namespace other than the Canary's (an empty namespace means the Canary's)."""
    problems: list[str] = []
    upstream = canary.spec.upstream_ref
    if upstream is not None and (upstream.namespace or canary.namespace) != canary.namespace:
        problems.append(
            f"can't access gloo upstream {upstream.name}.{upstream.namespace}, "
            "cross-namespace references are blocked"
        )
    analysis = canary.spec.analysis
    if analysis is None:
        return problems
    for metric in analysis.metrics:
        ref = metric.template_ref
        if ref is not None and (ref.namespace or canary.namespace) != canary.namespace:
            problems.append(
                f"can't access metric template {ref.name}.{ref.namespace}, "
                "cross-namespace references are blocked"
            )
    for alert in analysis.alerts:
        if (alert.provider_namespace or canary.namespace) != canary.namespace:
            problems.append(
                f"can't access alert provider {alert.provider_name}.{alert.provider_namespace}, "
                "cross-namespace references are blocked"
            )
    return problems
