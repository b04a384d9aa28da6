"""Splunk Observability (SignalFx) SignalFlow, as Flagger's splunk.go (signalflow-client-go).

The ``address`` is the API URL (``https://api.<realm>.signalfx.com``); the stream URL is derived from it
as Flagger does (first ``http`` -> ``ws``, first ``api`` -> ``stream``, path ``/v2/signalflow/connect``).
Over that WebSocket the client sends ``{"type": "authenticate", "token": ...}`` (secret key
``sf_token_key``) and an ``execute`` request with the program, ``start``/``stop`` ten metric intervals
apart (Unix milliseconds) and ``immediate: true``; the server streams JSON control messages and binary
data messages until ``END_OF_CHANNEL``. The value is the last non-empty data point; points of more than
one time series (TSID) are an error. The probe is ``GET /v2/metric?limit=1`` with ``X-SF-Token``.

Binary data message (big-endian): a 20-byte header (version, type, flags: 1 = gzip, 2 = JSON;
reserved; 16-byte channel name, NUL-padded), then timestamp (8 bytes), element count (4 bytes) and per
element value type (1 byte: 1 long, 2 double, 3 int), TSID (8 bytes), value (8 bytes).

Differences (docs/compatibility.md): an authentication or protocol error ends the query at once with
its text (the Go client ignores it and Flagger waits for the 5 s timeout, then reports "no values"); the
connection is closed after each query (Flagger leaks one client per query).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import struct
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from controller.analysis.providers.base import (
    ProviderConfigError,
    ProviderContext,
    QueryError,
    interval_nanoseconds,
    required_key,
)
from controller.analysis.providers.transport import send
from controller.errors import AnalysisError, NoValuesError

TOKEN_KEY = "sf_token_key"
SIGNALFLOW_PATH = "/v2/signalflow"
VALIDATION_PATH = "/v2/metric?limit=1"
WINDOW_INTERVALS = 10
HEADER = struct.Struct(">BBBB16s")
DATA_HEADER = struct.Struct(">QI")
POINT = struct.Struct(">BQ8s")
FLAG_COMPRESSED, FLAG_JSON = 1, 2
LONG, DOUBLE, INT = 1, 2, 3


@dataclass(frozen=True)
class DataPoint:
    tsid: int
    value: float | None


def decode_data_message(message: bytes) -> tuple[str, list[DataPoint]]:
    """Channel name and points of one binary SignalFlow data message."""
    if len(message) <= HEADER.size:
        raise QueryError(f"expected SignalFlow message of at least 21 bytes, got {len(message)} bytes")
    _version, _kind, flags, _reserved, raw_channel = HEADER.unpack_from(message)
    channel = raw_channel.split(b"\0", 1)[0].decode("utf-8", "replace")
    rest = message[HEADER.size :]
    if flags & FLAG_COMPRESSED:
        try:
            rest = gzip.decompress(rest)
        except (OSError, EOFError) as error:
            raise QueryError(f"bad compressed SignalFlow message: {error}") from error
    if flags & FLAG_JSON:
        raise QueryError("cannot handle json binary message")
    if len(rest) < DATA_HEADER.size:
        raise QueryError("truncated SignalFlow data message")
    _timestamp, count = DATA_HEADER.unpack_from(rest)
    if len(rest) < DATA_HEADER.size + count * POINT.size:
        raise QueryError(f"truncated SignalFlow data message: {count} points announced")
    points = []
    for index in range(count):
        value_type, tsid, raw = POINT.unpack_from(rest, DATA_HEADER.size + index * POINT.size)
        value: float | None
        if value_type == LONG:
            value = float(struct.unpack(">q", raw)[0])
        elif value_type == DOUBLE:
            value = struct.unpack(">d", raw)[0]
        elif value_type == INT:
            value = float(struct.unpack(">i", raw[:4])[0])
        else:
            value = None
        points.append(DataPoint(tsid, value))
    return channel, points


def _computation_error(message: dict[str, Any]) -> str:
    """signalflow-client-go's ComputationError text: ``code (errorType): message``."""
    text = str(message.get("error", ""))
    if message.get("errorType"):
        text = f"{text} ({message['errorType']})"
    if message.get("message"):
        text = f"{text}: {message['message']}"
    return text


def stream_url(address: str) -> URL:
    return URL((address + SIGNALFLOW_PATH).replace("http", "ws", 1).replace("api", "stream", 1) + "/connect")


def validation_url(address: str) -> URL:
    return URL((address + VALIDATION_PATH).replace("ws", "http", 1).replace("stream", "api", 1), encoded=True)


def pick_value(points: list[DataPoint]) -> float:
    present = [point for point in points if point.value is not None and not math.isnan(point.value)]
    if not present:
        raise NoValuesError("invalid response: no values found")
    if len({point.tsid for point in present}) > 1:
        raise QueryError("invalid response: query returned multiple values")
    value = present[-1].value
    assert value is not None
    return value


class SplunkProvider:
    provider_type = "splunk"

    def __init__(self, context: ProviderContext) -> None:
        address = context.spec.address
        if not address:
            raise ProviderConfigError("splunk endpoint is not set")
        self._stream_url = stream_url(address)
        self._validation_url = validation_url(address)
        if self._stream_url.scheme not in ("ws", "wss") or not self._stream_url.host:
            raise ProviderConfigError(f"splunk address {address} is not a valid URL")
        self._token = required_key(context, TOKEN_KEY, "splunk credentials does not contain sf_token_key")
        self._window_ms = WINDOW_INTERVALS * interval_nanoseconds(context) // 1_000_000
        self._context = context

    async def run_query(self, query: str) -> float:
        try:
            async with asyncio.timeout(self._context.timeout_seconds):
                points = await self._execute(query)
        except TimeoutError as error:
            raise QueryError(
                f"error executing query: no answer within {self._context.timeout_seconds:g}s"
            ) from error
        except aiohttp.ClientError as error:
            raise QueryError(f"error executing query: {self._stream_url}: {error}") from error
        return pick_value(points)

    async def _execute(self, program: str) -> list[DataPoint]:
        now = int(time.time() * 1000)
        channel = "ch-1"
        points: list[DataPoint] = []
        verify = not self._context.spec.insecure_skip_verify
        async with self._context.session.ws_connect(self._stream_url, ssl=verify) as ws:
            await ws.send_str(json.dumps({"type": "authenticate", "token": self._token}))
            execute = {
                "type": "execute",
                "program": program,
                "channel": channel,
                "start": now - self._window_ms,
                "stop": now,
                "resolution": 0,
                "maxDelay": 0,
                "immediate": True,
                "timezone": "",
            }
            await ws.send_str(json.dumps(execute))
            async for frame in ws:
                if frame.type == aiohttp.WSMsgType.BINARY:
                    data_channel, message_points = decode_data_message(frame.data)
                    if data_channel == channel:
                        points.extend(message_points)
                elif frame.type == aiohttp.WSMsgType.TEXT:
                    if self._handle_text(frame.data, channel):
                        return points
                elif frame.type == aiohttp.WSMsgType.ERROR:
                    raise QueryError(f"error executing query: {ws.exception()}")
            raise QueryError(
                f"error executing query: the SignalFlow connection closed before the end of the channel"
                f" (close code {ws.close_code})"
            )

    @staticmethod
    def _handle_text(text: str, channel: str) -> bool:
        """Handle one JSON message; True once the channel has ended."""
        try:
            message = json.loads(text)
        except ValueError as error:
            raise QueryError(f"could not parse SignalFlow message: {error}") from error
        if not isinstance(message, dict):
            return False
        kind = message.get("type")
        if kind == "error" and message.get("channel") in (None, "", channel):
            raise QueryError(f"error executing query: {_computation_error(message)}")
        if kind == "control-message" and message.get("channel") == channel:
            if message.get("event") == "CHANNEL_ABORT":
                reason = (message.get("abortInfo") or {}).get("sf_job_abortReason", "") if isinstance(
                    message.get("abortInfo"), dict) else ""  # fmt: skip
                raise QueryError(f"error executing query: computation aborted {reason}".rstrip())
            return message.get("event") == "END_OF_CHANNEL"
        return False

    async def check_online(self) -> None:
        try:
            answer = await send(
                self._context.session,
                "GET",
                self._validation_url,
                headers={"X-SF-Token": self._token},
                timeout_seconds=self._context.timeout_seconds,
            )
        except QueryError as error:
            raise AnalysisError(str(error)) from error
        if not answer.ok:
            raise AnalysisError(f"error response: {answer.short_body()}: {answer.status_text()}")


def build(context: ProviderContext) -> SplunkProvider:
    return SplunkProvider(context)
