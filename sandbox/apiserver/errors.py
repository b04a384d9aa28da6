"""Errors that the API server answers as Kubernetes ``Status`` objects.

Every failure a handler or a pure library raises is an :class:`ApiError`; the HTTP layer turns it
into the ``v1 Status`` body that client-go, kubectl, helm and the Python clients branch on (they
look at ``code`` and ``reason``, kubectl prints ``message``).
"""

from __future__ import annotations

from typing import Any

# HTTP status code -> the StatusReason kube-apiserver uses when none is given explicitly.
DEFAULT_REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A failure that maps to a Kubernetes ``Status``.

    ``code`` is the HTTP status, ``reason`` the machine-readable ``StatusReason`` ("Invalid",
    "Conflict", "BadRequest", "UnsupportedMediaType", ...), ``message`` the human text kubectl
    prints, ``details`` the optional ``StatusDetails`` (``name``, ``group``, ``kind``,
    ``causes``: ``[{"reason", "message", "field"}]``).
    """

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason or DEFAULT_REASONS.get(code, "")
        self.message = message
        self.details = details

    def to_status(self) -> dict[str, Any]:
        """The ``v1 Status`` body, shaped exactly like kube-apiserver's (``details`` only when set)."""
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.reason!r}, {self.message!r})"


def bad_request(message: str) -> ApiError:
    """400 BadRequest, e.g. a body that does not parse."""
    return ApiError(400, "BadRequest", message)


def unsupported_media_type(message: str) -> ApiError:
    """415 UnsupportedMediaType, e.g. a strategic merge patch on a custom resource."""
    return ApiError(415, "UnsupportedMediaType", message)


def unprocessable(message: str, causes: list[dict[str, str]] | None = None) -> ApiError:
    """422 Invalid without a named object (e.g. a JSON patch ``test`` that failed)."""
    details: dict[str, Any] | None = {"causes": causes} if causes else None
    return ApiError(422, "Invalid", message, details)
