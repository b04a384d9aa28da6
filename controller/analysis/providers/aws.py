"""AWS credentials and SigV4 request signing for the CloudWatch provider, through botocore.

botocore is AWS's own, well-kept implementation of both: the default credential chain Flagger's
aws-sdk-go session uses (environment, shared config and credentials files, web identity / IRSA, ECS
container and EC2 instance metadata, with refresh of expiring credentials) and the SigV4 algorithm.
Only those two parts are used; the request itself goes out over aiohttp. botocore is synchronous and
may reach a metadata endpoint while resolving credentials, so resolution runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError

from controller.analysis.providers.base import ProviderConfigError

ACCESS_KEY_ID = "aws_access_key_id"
SECRET_ACCESS_KEY = "aws_secret_access_key"
SESSION_TOKEN = "aws_session_token"

# Environment variables that change what the default chain resolves to; the resolved (self-refreshing)
# credentials are reused while they stay the same, so a web identity is not exchanged on every check.
_CHAIN_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
_chain_lock = threading.Lock()
_chain_cache: dict[tuple[str | None, ...], Credentials] = {}


def _default_chain() -> Credentials:
    key = tuple(os.environ.get(name) for name in _CHAIN_ENVIRONMENT)
    with _chain_lock:
        cached = _chain_cache.get(key)
        if cached is None:
            cached = botocore.session.Session().get_credentials()
            if cached is None:
                raise ProviderConfigError(
                    "no AWS credentials found (environment, shared credentials file, web identity, "
                    "container or instance metadata)"
                )
            _chain_cache.clear()
            _chain_cache[key] = cached
        return cached


def _frozen(credentials: Credentials) -> ReadOnlyCredentials:
    return credentials.get_frozen_credentials()


class AwsSigner:
    """Signs requests for one service and region with static or default-chain credentials."""

    def __init__(self, service: str, region: str, secret: Mapping[str, str] | None) -> None:
        self.service = service
        self.region = region
        self._static: Credentials | None = None
        if secret is not None and ACCESS_KEY_ID in secret:
            if SECRET_ACCESS_KEY not in secret:
                raise ProviderConfigError(f"cloudwatch credentials does not contain {SECRET_ACCESS_KEY}")
            self._static = Credentials(
                secret[ACCESS_KEY_ID], secret[SECRET_ACCESS_KEY], secret.get(SESSION_TOKEN) or None
            )

    async def credentials(self) -> ReadOnlyCredentials:
        if self._static is not None:
            return _frozen(self._static)
        try:
            return await asyncio.to_thread(lambda: _frozen(_default_chain()))
        except BotoCoreError as error:
            raise ProviderConfigError(f"error resolving AWS credentials: {error}") from error

    async def signed_headers(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> dict[str, str]:
        """``headers`` plus ``X-Amz-Date``, ``X-Amz-Security-Token`` and the SigV4 ``Authorization``."""
        frozen = await self.credentials()
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(frozen, self.service, self.region).add_auth(request)
        return {name: str(value) for name, value in request.headers.items()}
