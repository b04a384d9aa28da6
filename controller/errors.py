"""The controller's own exception hierarchy.

Adapters (``controller/kube``, ``controller/analysis``, ``controller/webhooks.py``) translate library
failures (``ApiException``, ``aiohttp.ClientError``, timeouts ...) into these types once, at the
boundary, so the state machine in ``controller/rollout`` never sees a third-party exception type.

``str(error)`` is always the user-facing text: the state machine records it verbatim as the message
of a Warning event, exactly like Flagger records ``err.Error()``. Adapters therefore build the message
in Flagger's wording (e.g. ``deployment podinfo.test get query error: ...``).
"""

from __future__ import annotations

from goconv.durations import DurationError as GoDurationError


class FlagmanError(Exception):
    """Base class of every error the controller raises on purpose."""


class CanaryValidationError(FlagmanError):
    """A Canary, MetricTemplate or AlertProvider object is malformed.

    ``problems`` lists every problem found (``path: what is wrong``), so the user can fix them all
    at once; the message joins them.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid canary spec: " + "; ".join(self.problems))


class DurationError(FlagmanError, GoDurationError):
    """A string is not a valid Go ``time.Duration`` (``1m30s``, ``500ms`` ...)."""


class KubeError(FlagmanError):
    """A Kubernetes API call failed (any status or transport problem not covered below)."""


class UnavailableError(KubeError):
    """The API server cannot answer now: 429, a 5xx, a refused or broken connection, a timeout.

    The same request may succeed later; ``retry_after`` is the server's hint in seconds when it gave one
    (``Retry-After``, or a Status's ``details.retryAfterSeconds``).
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFoundError(KubeError):
    """The object does not exist (HTTP 404)."""


class ConflictError(KubeError):
    """Optimistic concurrency failure (HTTP 409); the caller re-reads and retries."""


class TargetError(FlagmanError):
    """The target workload cannot be used: missing, no usable selector label, unsupported kind."""


class NotReadyError(FlagmanError):
    """A Deployment is not ready yet.

    ``retriable`` is False when a deadline passed (the Deployment's own ``progressDeadlineSeconds``
    or the Canary's), which makes the state machine roll back instead of waiting.
    """

    def __init__(self, message: str, *, retriable: bool) -> None:
        self.retriable = retriable
        super().__init__(message)


class WebhookError(FlagmanError):
    """A webhook call failed or was denied (non-2xx <= 202 status, timeout, transport error)."""


class AnalysisError(FlagmanError):
    """A metrics provider or MetricTemplate problem (unreachable server, template missing ...)."""


class NoValuesError(AnalysisError):
    """A metric query returned no data (no series, or NaN)."""
