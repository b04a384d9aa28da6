"""An independent AWS Signature Version 4 verifier for the CloudWatch stub.

Written from AWS's documented algorithm ("Create a signed AWS API request": canonical request, string to
sign, derived signing key, signature), not from botocore, so a signing bug in the provider shows up.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import quote

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def verify(
    *,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, str],
    region: str,
    service: str,
) -> str | None:
    """None when the request carries a valid signature by a known key; otherwise what is wrong."""
    match = _AUTHORIZATION.match(headers.get("Authorization", ""))
    if match is None:
        return f"malformed Authorization header: {headers.get('Authorization')!r}"
    if match["key"] not in secrets:
        return f"unknown access key {match['key']}"
    if (match["region"], match["service"]) != (region, service):
        return f"credential scope {match['region']}/{match['service']}, expected {region}/{service}"
    amz_date = headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return f"bad X-Amz-Date {amz_date!r}"
    if abs((datetime.datetime.now(datetime.UTC) - signed_at).total_seconds()) > 300:
        return "signature expired"
    if match["date"] != amz_date[:8]:
        return "credential date differs from X-Amz-Date"
    signed = match["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed or signed != sorted(signed):
        return f"signed headers {signed} must be sorted and include host and x-amz-date"
    lowered = {name.lower(): value for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{' '.join(lowered.get(name, '').split())}\n" for name in signed)
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
    )
    canonical_request = "\n".join(
        [
            method,
            quote(path or "/", safe="/-_.~"),
            canonical_query,
            canonical_headers,
            match["signed"],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{match['date']}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(f"AWS4{secrets[match['key']]}".encode(), match["date"])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        return "The request signature we calculated does not match the signature you provided."
    return None
