"""Deliver one notification through one connector: bounded attempts, backoff, redacted evidence.

One attempt is one whole exchange (Jira/ServiceNow: lookup, then create only if nothing was
found) under one per-attempt deadline. 5xx, 429, timeouts and connection errors are retried
with exponential backoff and full jitter, or after ``Retry-After`` when the provider sends it;
any other non-2xx answer is permanent. Evidence holds the target host, status codes, latency,
error classes and the idempotency key: never a URL path or query, header, body or exception text.

Requests go through :class:`~cavra_delivery.connectors.transport.HttpTransport` (keep-alive pools,
response bodies capped at 64 KiB).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from cavra_delivery.connectors.config import ConnectorConfig
from cavra_delivery.connectors.notification import Notification
from cavra_delivery.connectors.payloads import HttpRequest
from cavra_delivery.connectors.providers import build_requests, created_ref, existing_ref
from cavra_delivery.connectors.transport import (
    ConnectError,
    ConnectionClosed,
    HttpTransport,
    InvalidRequest,
    InvalidURL,
    ProtocolError,
    TransportError,
)

Outcome = Literal["delivered", "failed", "permanent_failure"]
HttpClient = HttpTransport

DEFAULT_RETRIES = 2
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_BASE_DELAY = 0.5
DEFAULT_MAX_DELAY = 30.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one delivery. ``max_attempts`` = ``retries + 1`` (see :meth:`from_retries`)."""

    max_attempts: int = DEFAULT_RETRIES + 1
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    @classmethod
    def from_retries(
        cls, retries: int = DEFAULT_RETRIES, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, **options: Any
    ) -> RetryPolicy:
        """The policy of the original's ``retries`` / ``timeout_seconds`` knobs (retries floored at 0)."""
        return cls(max_attempts=max(0, retries) + 1, timeout_seconds=timeout_seconds, **options)

    def delay(self, attempt: int, rng: Callable[[], float], retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based).

        ``Retry-After`` wins when given (capped at ``max_delay``); otherwise full jitter over
        ``min(max_delay, base_delay * 2 ** (attempt - 1))``.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling * rng() if self.jitter else ceiling


@dataclass(frozen=True, slots=True)
class AttemptEvidence:
    """One attempt: number, final status code, latency, outcome, error class, provider's Retry-After."""

    attempt: int
    status_code: int | None
    latency_ms: float
    outcome: Outcome
    error_class: str | None
    retry_after_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """Redacted result of one delivery: safe to store and publish as it is."""

    connector: str
    connector_type: str
    target_host: str
    outcome: Outcome
    attempts: tuple[AttemptEvidence, ...]
    idempotency_key: str
    external_ref: str | None = None
    deduplicated: bool = False
    signed: bool | None = None

    @property
    def attempt_count(self) -> int:
        return len(self.attempts)

    @property
    def status_code(self) -> int | None:
        """The last attempt's status code (``None`` when it got no HTTP answer)."""
        return self.attempts[-1].status_code if self.attempts else None

    @property
    def error_class(self) -> str | None:
        return self.attempts[-1].error_class if self.attempts else None

    def as_evidence(self) -> dict[str, Any]:
        """A JSON-ready dict with ``attempt_count`` and ``status_code`` added."""
        # Built by hand: dataclasses.asdict deep-copies recursively and showed up in profiles.
        return {
            "connector": self.connector,
            "connector_type": self.connector_type,
            "target_host": self.target_host,
            "outcome": self.outcome,
            "attempts": [
                {
                    "attempt": a.attempt,
                    "status_code": a.status_code,
                    "latency_ms": a.latency_ms,
                    "outcome": a.outcome,
                    "error_class": a.error_class,
                    "retry_after_seconds": a.retry_after_seconds,
                }
                for a in self.attempts
            ],
            "idempotency_key": self.idempotency_key,
            "external_ref": self.external_ref,
            "deduplicated": self.deduplicated,
            "signed": self.signed,
            "attempt_count": self.attempt_count,
            "status_code": self.status_code,
        }


@dataclass(frozen=True, slots=True)
class _Result:
    outcome: Outcome
    status_code: int | None
    error_class: str | None
    retry_after: float | None = None
    external_ref: str | None = None
    deduplicated: bool = False


def utc_now() -> datetime:
    return datetime.now(UTC)


async def deliver(
    connector: ConnectorConfig,
    notification: Notification,
    *,
    client: HttpClient,
    policy: RetryPolicy,
    idempotency_key: str,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Callable[[], float] = random.random,
    now: Callable[[], datetime] = utc_now,
    limiter: AbstractAsyncContextManager[Any] | None = None,
) -> DeliveryOutcome:
    """Try up to ``policy.max_attempts`` exchanges; stop at the first success or permanent failure.

    ``limiter`` (the process's request slots, e.g. an ``asyncio.Semaphore``) is held around each
    exchange only, never while backing off, so a route waiting out a ``Retry-After`` holds no slot.

    ``clock`` measures latency, ``now`` stamps requests (webhook timestamps, HEC time) and
    resolves ``Retry-After`` dates, ``rng`` draws the jitter, ``sleep`` waits between attempts.
    Never raises for provider or network trouble; the outcome says what happened.
    """
    transport = client
    attempts: list[AttemptEvidence] = []
    final = _Result("failed", None, None)
    signed: bool | None = None
    slot = limiter if limiter is not None else contextlib.nullcontext()
    for number in range(1, policy.max_attempts + 1):
        started = clock()
        try:
            requests = build_requests(connector, notification, idempotency_key, now())
        except Exception:  # a payload that cannot be built never will be: do not retry it
            final = _Result("permanent_failure", None, "payload_error")
        else:
            signed = requests[-1].signed
            async with slot:  # held for the exchange only, never while backing off
                started = clock()
                final = await _exchange(connector, requests, transport, policy, now)
        latency_ms = round((clock() - started) * 1000, 3)
        attempts.append(
            AttemptEvidence(
                number, final.status_code, latency_ms, final.outcome, final.error_class, final.retry_after
            )
        )
        if final.outcome != "failed" or number == policy.max_attempts:
            break
        await sleep(policy.delay(number, rng, final.retry_after))
    return DeliveryOutcome(
        connector=connector.name,
        connector_type=connector.type,
        target_host=connector.host,
        outcome=final.outcome,
        attempts=tuple(attempts),
        idempotency_key=idempotency_key,
        external_ref=final.external_ref,
        deduplicated=final.deduplicated,
        signed=signed,
    )


async def _exchange(
    connector: ConnectorConfig,
    requests: list[HttpRequest],
    client: HttpTransport,
    policy: RetryPolicy,
    now: Callable[[], datetime],
) -> _Result:
    status: int | None = None
    try:
        async with asyncio.timeout(policy.timeout_seconds):
            external_ref: str | None = None
            for request in requests:
                response = await client.request(
                    request.method, request.url, headers=request.headers, body=request.body()
                )
                status = response.status
                if not 200 <= status < 300:
                    return _refused(status, response.headers, now)
                if request.step == "lookup":
                    try:
                        found = existing_ref(connector.type, json.loads(response.body))
                    except ValueError:  # a truncated body lands here too
                        return _Result("failed", status, "invalid_response")
                    if found is not None:
                        return _Result("delivered", status, None, external_ref=found, deduplicated=True)
                elif request.step == "create":
                    external_ref = created_ref(connector.type, _json_or_none(response.body))
            return _Result("delivered", status, None, external_ref=external_ref)
    except TimeoutError:
        return _Result("failed", None, "timeout")
    except ConnectError:
        return _Result("failed", None, "connect_error")
    except InvalidURL:
        return _Result("permanent_failure", None, "invalid_url")
    except InvalidRequest:
        return _Result("permanent_failure", None, "invalid_request")
    except ConnectionClosed:
        return _Result("failed", status, "transport_error")
    except ProtocolError:
        return _Result("failed", status, "protocol_error")
    except TransportError:
        return _Result("failed", status, "http_error")


def _refused(status: int, headers: Mapping[str, str], now: Callable[[], datetime]) -> _Result:
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"), now())
        return _Result("failed", status, "http_429" if status == 429 else "http_5xx", retry_after)
    return _Result("permanent_failure", status, f"http_{status // 100}xx")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta-seconds or an HTTP date; ``None`` if absent/invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return round(max(0.0, (when - now).total_seconds()), 3)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
