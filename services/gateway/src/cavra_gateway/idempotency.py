"""Idempotent command endpoints: the ``Idempotency-Key`` flow around publishing a command.

Records live in the JetStream key/value bucket ``CAVRA_IDEMPOTENCY`` (the gateway owns no
tables), kept as long as the command stream keeps commands. ``create`` makes the first request
the only owner of a scoped key. A replay with the same fingerprint gets the stored response with
``Idempotent-Replayed: true``; another body gets 422; a replay while the first still runs gets
409. A first answer of 202 is settled in the background: the gateway keeps waiting (bounded) for
the outcome and stores the answer the first request would have given, so a later replay reports
it. The rules for clients are in docs/api.md (Idempotency).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import Depends, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from cavra_contracts.subjects import COMMAND_STREAM, STREAMS
from cavra_gateway.deps import GatewayState
from cavra_gateway.errors import problem_response
from cavra_gateway.idempotency_keys import Record, Scope, caller_of, fingerprint, message_id_for, parse_key
from cavra_gateway.messaging import (
    Answer,
    Command,
    CommandTooLarge,
    Told,
    Waits,
    answering_rejections,
    request_waits,
    send,
    tell,
)
from cavra_gateway.settings import GatewaySettings
from cavra_runtime.bus import Bucket, BucketSpec, KeyExistsError

log = structlog.get_logger()

BUCKET = "CAVRA_IDEMPOTENCY"
REPLAYED = "Idempotent-Replayed"
FIELD = "header.idempotency-key"
DAY = 86_400.0


def bucket_spec(settings: GatewaySettings) -> BucketSpec:
    """The records bucket: a record lives as long as the command stream keeps its command."""
    commands = next(spec for spec in STREAMS if spec.name == COMMAND_STREAM)
    return BucketSpec(
        name=BUCKET,
        description="Idempotency-Key records of the gateway: fingerprint, state, first response.",
        ttl_seconds=commands.max_age_days * DAY,
        max_value_bytes=settings.idempotency_max_record_bytes,
        max_bytes=settings.idempotency_bucket_max_bytes,
    )


async def idempotency_key(
    idempotency_key: str | None = Header(
        default=None,
        max_length=512,
        description="Repeat a request safely (draft-ietf-httpapi-idempotency-key-header): 1-255 printable "
        'ASCII characters, bare or as a quoted string ("..."). Scoped to this endpoint and caller.',
    ),
) -> str | None:
    """FastAPI dependency: the parsed key, or a 422 naming ``header.idempotency-key`` (``async``: no I/O,
    so not worth a trip through FastAPI's thread pool)."""
    if idempotency_key is None:
        return None
    try:
        return parse_key(idempotency_key)
    except ValueError as exc:
        loc = ("header", "idempotency-key")
        raise RequestValidationError([{"loc": loc, "msg": str(exc), "type": "value_error"}]) from exc


IDEMPOTENCY_KEY = Depends(idempotency_key)


@dataclass(frozen=True)
class Claim:
    """This request owns the record ``key`` at ``revision``."""

    key: str
    record: Record
    revision: int
    inherited: bool = False
    """Taken over from an earlier request (failed, or abandoned) that may have published its message
    id already: the record must keep that id, never be released for a fresh one."""


class IdempotencyStore:
    """The records and the background tasks that settle 202 answers."""

    def __init__(self, bucket: Bucket, settings: GatewaySettings) -> None:
        self._bucket = bucket
        self._settings = settings
        self._settling: set[asyncio.Task[None]] = set()

    async def claim(self, key: str, print_: str) -> Claim | Response:
        """Own ``key`` for this request, or the answer to give instead (replay, 409, 422)."""
        for _ in range(3):
            now = time.time()
            fresh = Record(
                fingerprint=print_,
                state="in_progress",
                message_id=message_id_for(key, print_, time.time_ns()),
                started_at=now,
            )
            try:
                return Claim(key, fresh, await self._bucket.create(key, fresh.encode()))
            except KeyExistsError:
                pass
            entry = await self._bucket.get(key)
            if entry is None:
                continue  # expired or released in between: try to create again
            try:
                existing = Record.decode(entry.value)
            except ValueError:
                existing = fresh.failed()  # unreadable: take it over like a failed one
            verdict = existing.verdict(
                print_, now=now, lease_seconds=self._settings.idempotency_lease_seconds
            )
            if verdict == "replay":
                return replay(existing)
            if verdict == "mismatch":
                return _mismatch()
            if verdict == "busy":
                return _busy()
            taken = existing.model_copy(update={"state": "in_progress", "started_at": now})
            try:
                revision = await self._bucket.update(key, taken.encode(), revision=entry.revision)
                return Claim(key, taken, revision, inherited=True)
            except KeyExistsError:
                continue
        return _busy()

    async def release(self, claim: Claim) -> None:
        """Nothing was published: forget the record, so the key is free for any request."""
        await self._bucket.delete(claim.key)

    async def fail(self, claim: Claim) -> None:
        """Published, but the answer was an error: a retry may run again (same message id)."""
        await self._bucket.update(claim.key, claim.record.failed().encode(), revision=claim.revision)

    async def answer(self, claim: Claim, response: Response) -> Claim:
        """Keep ``response`` for replays."""
        record = claim.record.answered(
            response.status_code, bytes(response.body), max_bytes=self._settings.idempotency_max_record_bytes
        )
        revision = await self._bucket.update(claim.key, record.encode(), revision=claim.revision)
        return Claim(claim.key, record, revision)

    def settle_later(self, claim: Claim, told: Told, answer: Answer) -> None:
        """After a 202, keep waiting for the outcome and store the answer it gives."""
        settings = self._settings
        if (
            settings.idempotency_settle_seconds <= 0
            or len(self._settling) >= settings.idempotency_max_settling
        ):
            told.close()
            return
        task = asyncio.create_task(self._settle(claim, told, answer))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, claim: Claim, told: Told, answer: Answer) -> None:
        wait = self._settings.idempotency_settle_seconds
        try:
            final = await answer(told, Waits(wait, wait))
            if final.status_code < 500 and final.body != claim.record.response_body():
                await self.answer(claim, final)
        except Exception as exc:  # the record keeps the 202; replays say accepted and poll
            log.warning("idempotency.settle_failed", error_class=type(exc).__name__)
        finally:
            told.close()

    async def close(self) -> None:
        """Stop settling (at shutdown): those records keep their 202."""
        for task in list(self._settling):
            task.cancel()
        for task in list(self._settling):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def replay(record: Record) -> Response:
    """The stored answer, marked as a replay."""
    body = record.response_body()
    if body is None:
        message = f"the first response ({record.body_bytes} bytes) is too large to replay"
        response: Response = JSONResponse({"detail": message, "message_id": record.message_id})
    else:
        response = Response(content=body, media_type="application/json")
    response.status_code = record.status or 200
    response.headers[REPLAYED] = "true"
    return response


def _mismatch() -> Response:
    message = "was first used with another request (body or query); use a new key for a new request"
    return problem_response(422, "Idempotency-Key reused", [{"field": FIELD, "message": message}])


def _busy() -> Response:
    message = "the first request with this Idempotency-Key is still running; retry shortly"
    response = problem_response(409, "request in progress", [{"field": FIELD, "message": message}])
    response.headers["Retry-After"] = "1"
    return response


def _scoped_key(request: Request, key: str) -> str:
    route: Any = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    scope = Scope.of(
        caller_of(request.headers.get("authorization")), request.method, template, request.path_params
    )
    return scope.record_key(key)


Precheck = Callable[[], Awaitable[JSONResponse | None]]
"""Runs before publishing; a response it returns is given as is and nothing is kept."""


async def run_command(
    state: GatewayState,
    request: Request,
    key: str | None,
    command: Command,
    answer: Answer,
    *,
    precheck: Precheck | None = None,
) -> Response:
    """Publish ``command`` and answer, honouring the request's Idempotency-Key."""
    answer = answering_rejections(answer)
    if key is None:
        early = await precheck() if precheck else None
        return early if early is not None else await tell(state, command, answer)
    store = state.idempotency
    try:
        claimed = await store.claim(
            _scoped_key(request, key), fingerprint(await request.body(), request.query_params.multi_items())
        )
    except Exception as exc:
        raise _unavailable(exc) from exc
    if not isinstance(claimed, Claim):
        return claimed
    return await _run_claimed(state, claimed, command, answer, precheck)


async def _run_claimed(
    state: GatewayState, claim: Claim, command: Command, answer: Answer, precheck: Precheck | None
) -> Response:
    store = state.idempotency
    told: Told | None = None
    attempted = False  # a publish that raised may still have been stored (its PubAck lost)
    try:
        early = await precheck() if precheck else None
        if early is None:
            try:
                attempted = True
                told = await send(state, command, message_id=claim.record.message_id)
            except CommandTooLarge as exc:
                attempted = False  # refused before publishing
                early = exc.response
        if told is None:
            with contextlib.suppress(Exception):  # else it expires; a repeat after the lease takes it
                await (store.fail(claim) if claim.inherited else store.release(claim))
            assert early is not None
            return early
        response = await answer(told, request_waits(state))
    except BaseException:
        # Once a publish was attempted the key keeps its message id: a retry publishes the same id,
        # which JetStream and the service's inbox drop if the first one was stored after all.
        with contextlib.suppress(Exception):
            await (store.fail(claim) if attempted or claim.inherited else store.release(claim))
        if told is not None:
            told.close()
        raise
    if response.status_code >= 500:
        with contextlib.suppress(Exception):
            await store.fail(claim)
        told.close()
        return response
    try:
        answered = await store.answer(claim, response)
    except Exception as exc:  # the lease runs out and a retry takes the record over
        log.warning("idempotency.store_failed", error_class=type(exc).__name__)
        told.close()
        return response
    if response.status_code == 202:
        store.settle_later(answered, told, answer)
    else:
        told.close()
    return response


def _unavailable(exc: Exception) -> HTTPException:
    return HTTPException(503, f"idempotency store unavailable: {type(exc).__name__}")
