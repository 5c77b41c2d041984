"""The KYC routes and their worker: a customer submits an ID card and selfie frames, the worker
checks them, the wallet is raised to partial or an officer decides.

    POST /v1/kyc/submissions                customer: {"id_front", "id_back", "selfie_frames":
                                            [...], "challenge": "blink" | "turn"}, each image
                                            base64 (JPEG, PNG or WebP); 202 {"id", "state"}
    GET  /v1/kyc/submissions/latest         customer: the latest submission's state
    GET  /v1/officer/kyc/queue              officer: submissions waiting for a decision
    GET  /v1/officer/kyc/{id}               officer: one submission, images and fields
    POST /v1/officer/kyc/{id}/decision      officer: {"decision": "approve" | "reject",
                                            "reason"}

Rules:
- The body is JSON with base64 images (no multipart parser is needed), refused past
  `limits.kyc_body_bytes_max` before it is read whole; each image is bounded and decoded
  (`pipeline.load_image`) before anything is stored, so a bad one is refused at once.
- Only a personal wallet below the partial tier submits, one submission open at a time, a
  few a day (`store.refusal`). The images are sealed at once (`store`); the answer is 202
  `checking`, and the page polls `latest`.
- The worker (`run_worker`, started with the app) takes `checking` submissions one at a time
  (`limits.kyc_checks_parallel_max`: dlib and Tesseract are CPU-bound), runs `pipeline` in
  a thread, and stores the outcome sealed. With no doubt the submission is `approving`: the
  worker raises the tier through the officers' own path (`officer_desk.apply_tier_change`),
  as the gateway's officer `system.kyc`, so the raise is in the actions log like any other;
  the ledger refusing or unreachable, it tries again later, and after
  `_TIER_ATTEMPTS` tries hands the submission to an officer. A crash leaves the state where it
  was: the worker resumes from it after a restart.
- An officer's look at a submission is recorded (`kyc_view`), as are the decisions
  (`kyc_approve`, `kyc_reject`, with the reason); approving raises the tier the same way.
- Nothing here logs an image, a field or a name: the worker logs an error's type only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import io
import logging
from typing import Annotated, Any, Literal

import anyio
import msgspec
import sqlalchemy as sa
from msgspec import Meta
from PIL import Image
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.gateway import db, officers
from bakong.gateway.kyc import liveness, pipeline, store
from bakong.gateway.officer_desk import TierChange, apply_tier_change
from bakong.gateway.officers import Officer, authenticate_officer, record_action
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.service import GatewayServices, Worker
from bakong.gateway.sessions import authenticate
from bakong.gateway.wallets import bind
from bakong.ledger.records import KycTier

__all__ = ["SYSTEM_OFFICER", "routes", "workers"]

log = logging.getLogger(__name__)

SYSTEM_OFFICER = "system.kyc"  # the officer the automatic raises are recorded under
_TIER_ATTEMPTS = 5
_PHNOM_PENH = datetime.timezone(datetime.timedelta(hours=7))
Base64Image = Annotated[str, Meta(min_length=1, max_length=limits.kyc_body_bytes_max)]
Reason = Annotated[str, Meta(min_length=1, max_length=limits.officer_reason_chars_max)]


class Upload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id_front: Base64Image
    id_back: Base64Image
    selfie_frames: Annotated[
        list[Base64Image],
        Meta(min_length=limits.kyc_selfie_frames_min, max_length=limits.kyc_selfie_frames_max),
    ]
    challenge: Literal["blink", "turn"] = "blink"


class Decision(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    decision: Literal["approve", "reject"]
    reason: Reason


# The worker's wake-up call per gateway: a submission need not wait for the next poll.
_wake: dict[int, asyncio.Event] = {}


def _event(services: GatewayServices) -> asyncio.Event:
    return _wake.setdefault(id(services), asyncio.Event())


def _decoded(text: str, name: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise GatewayProblem(400, "image_invalid", f"{name} is not base64") from None
    pipeline.load_image(raw, name)  # refuses what is too large, malformed or out of bounds
    return raw


# -- the customer's routes ---------------------------------------------------------------------


def _store_upload(
    services: GatewayServices, customer_id: int, images: store.Images, challenge: str
) -> int:
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        customer = connection.execute(
            sa.select(db.customers).where(db.customers.c.id == customer_id)
        ).one()
        if customer.kind != "personal" or customer.tier >= int(KycTier.partial):
            raise GatewayProblem(409, "kyc_not_needed", "this wallet needs no ID check")
        refused = store.refusal(connection, customer_id, now_ms)
        if refused is not None:
            raise GatewayProblem(*refused)
        nonce = services.random_bytes(store.NONCE_SIZE)
        sealed = store.seal_images(services.kek, customer_id, images, nonce)
        return store.insert(connection, customer_id, challenge, sealed, now_ms)


async def submit(services: GatewayServices, request: Request) -> Response:
    """Send an ID card (both sides) and selfie frames to be checked; poll `latest`."""
    session = await authenticate(services, request, "customer")
    body = await read_json(request, Upload, limits.kyc_body_bytes_max)
    images = store.Images(
        id_front=_decoded(body.id_front, "id_front"),
        id_back=_decoded(body.id_back, "id_back"),
        selfie_frames=[_decoded(frame, "selfie_frames") for frame in body.selfie_frames],
    )
    submission_id = await services.db(
        _store_upload, services, session.customer_id, images, body.challenge
    )
    _event(services).set()
    return json_response({"id": submission_id, "state": "checking"}, 202)


def _latest(engine: Engine, customer_id: int) -> dict[str, Any]:
    row = store.latest(engine, customer_id)
    with engine.connect() as connection:
        tier = connection.execute(
            sa.select(db.customers.c.tier).where(db.customers.c.id == customer_id)
        ).scalar_one()
    if row is None:
        return {"state": "none", "tier": tier}
    answer = {"id": row.id, "state": row.state, "tier": tier, "created_ms": row.created_ms,
              "decided_ms": row.decided_ms}  # fmt: skip
    if row.state == "rejected":
        answer["reason"] = row.reason
    return answer


async def latest(services: GatewayServices, request: Request) -> Response:
    """The state of the customer's latest submission: checking, approving, verified, review,
    approved, rejected (with the officer's reason), or none."""
    session = await authenticate(services, request, "customer")
    return json_response(await services.db(_latest, services.engine, session.customer_id))


# -- the officer's routes ----------------------------------------------------------------------


def _queue(engine: Engine) -> dict[str, Any]:
    return {
        "submissions": [
            {"id": row.id, "handle": row.handle, "tier": row.tier, "created_ms": row.created_ms,
             "doubts": [d for d in row.doubts.split(",") if d], "liveness": row.liveness,
             "face_distance_milli": row.face_distance_milli,
             "threshold_milli": row.threshold_milli}
            for row in store.queue(engine)
        ]
    }  # fmt: skip


async def queue(services: GatewayServices, request: Request) -> Response:
    """Submissions waiting for an officer, oldest first."""
    await authenticate_officer(services, request)
    return json_response(await services.db(_queue, services.engine))


def _data_url(raw: bytes) -> str:
    kind = (Image.open(io.BytesIO(raw)).format or "jpeg").lower()
    return f"data:image/{kind};base64," + base64.b64encode(raw).decode()


def _detail(
    services: GatewayServices, officer: Officer, submission_id: int, now_ms: int
) -> dict[str, Any]:
    with services.engine.begin() as connection:
        row = store.one(connection, submission_id)
        if row is None:
            raise GatewayProblem(404, "kyc_not_found", "no submission has this id")
        customer = connection.execute(
            sa.select(db.customers).where(db.customers.c.id == row.customer_id)
        ).one()
        record_action(
            connection, officer, "kyc_view", customer.id, detail=f"kyc {row.id}", now_ms=now_ms
        )
    images = store.open_images(services.kek, row.customer_id, row.images_sealed)
    reading = {} if row.fields_sealed is None else store.open_fields(
        services.kek, row.customer_id, row.fields_sealed
    )  # fmt: skip
    return {
        "id": row.id, "state": row.state, "challenge": row.challenge,
        "created_ms": row.created_ms, "decided_ms": row.decided_ms, "reason": row.reason,
        "doubts": [d for d in row.doubts.split(",") if d], "liveness": row.liveness,
        "face_distance_milli": row.face_distance_milli, "threshold_milli": row.threshold_milli,
        "customer": {"handle": customer.handle, "account_id": customer.account_id,
                     "name": customer.name, "birth_date": customer.birth_date,
                     "tier": customer.tier},
        "reading": reading,
        "images": {"id_front": _data_url(images.id_front), "id_back": _data_url(images.id_back),
                   "selfie_frames": [_data_url(frame) for frame in images.selfie_frames]},
    }  # fmt: skip


async def detail(services: GatewayServices, request: Request) -> Response:
    """One submission with its images, the fields read, the doubts and the face distance (the
    look is recorded)."""
    officer = await authenticate_officer(services, request)
    submission_id = request.path_params["submission_id"]
    now_ms = services.clock_ms()
    return json_response(await services.db(_detail, services, officer, submission_id, now_ms))


def _customer_row(engine: Engine, customer_id: int) -> sa.Row[Any]:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(db.customers).where(db.customers.c.id == customer_id)
        ).one()


def _in_review(engine: Engine, submission_id: int) -> sa.Row[Any]:
    with engine.connect() as connection:
        row = store.one(connection, submission_id)
    if row is None:
        raise GatewayProblem(404, "kyc_not_found", "no submission has this id")
    if row.state != "review":
        raise GatewayProblem(409, "kyc_not_in_review", "this submission is not waiting for you")
    return row


def _decide(
    engine: Engine, officer: Officer, row: sa.Row[Any], state: str, reason: str, now_ms: int
) -> bool:
    """Record an officer's decision; False when another decision came first."""
    table = db.kyc_submissions
    with engine.begin() as connection:
        changed = connection.execute(
            table.update()
            .where(table.c.id == row.id, table.c.state == "review")
            .values(state=state, reason=reason, decided_by=officer.id, decided_ms=now_ms,
                    updated_ms=now_ms)
        ).rowcount  # fmt: skip
        if changed:
            action = "kyc_approve" if state == "approved" else "kyc_reject"
            record_action(
                connection, officer, action, row.customer_id, reason=reason,
                detail=f"kyc {row.id}", now_ms=now_ms,
            )  # fmt: skip
    return bool(changed)


async def _raise_to_partial(
    services: GatewayServices, officer: Officer, customer_id: int, reason: str
) -> None:
    customer = await services.db(_customer_row, services.engine, customer_id)
    if customer.tier >= int(KycTier.partial):
        return  # raised meanwhile (or higher): never lowered here
    change = TierChange(tier=int(KycTier.partial), reason=reason, documents_checked=True)
    await apply_tier_change(services, officer, customer, change)


async def decide(services: GatewayServices, request: Request) -> Response:
    """Approve (the wallet goes to partial) or reject a submission, with a reason."""
    officer = await authenticate_officer(services, request)
    body = await read_json(request, Decision, limits.wallet_body_bytes_max)
    if body.reason != body.reason.strip():
        raise GatewayProblem(400, "reason_invalid", "the reason has padding")
    row = await services.db(_in_review, services.engine, request.path_params["submission_id"])
    if body.decision == "approve":
        await _raise_to_partial(services, officer, row.customer_id, body.reason)
    state = "approved" if body.decision == "approve" else "rejected"
    now_ms = services.clock_ms()
    if not await services.db(_decide, services.engine, officer, row, state, body.reason, now_ms):
        raise GatewayProblem(409, "kyc_not_in_review", "this submission is not waiting for you")
    return json_response({"id": row.id, "state": state})


# -- the worker --------------------------------------------------------------------------------


def _system_officer(services: GatewayServices) -> Officer:
    engine = services.engine
    officers.ensure_officer(engine, SYSTEM_OFFICER, services.clock_ms(), services.random_bytes)
    with engine.connect() as connection:
        officer_id = connection.execute(
            sa.select(db.officers.c.id).where(db.officers.c.name == SYSTEM_OFFICER)
        ).scalar_one()
    return Officer(officer_id, SYSTEM_OFFICER)


def _check(services: GatewayServices, row: sa.Row[Any]) -> None:
    """Run the checks of one submission and store their outcome (blocking)."""
    customer = _customer_row(services.engine, row.customer_id)
    images = store.open_images(services.kek, row.customer_id, row.images_sealed)
    applicant = pipeline.Applicant(customer.name, customer.birth_date)
    config = services.config.kyc
    now_ms = services.clock_ms()
    today = datetime.datetime.fromtimestamp(now_ms / 1000, _PHNOM_PENH).date()
    try:
        outcome = pipeline.run_checks(
            images, applicant, liveness.Challenge(row.challenge), config.face_distance_max, today
        )
    except Exception as error:  # one bad submission must not stop the others: an officer looks
        log.error("kyc checks failed", extra={"error": type(error).__name__})
        outcome = pipeline.Outcome(("checks_failed",), None, "unavailable")
    automatic = config.automatic and not outcome.doubts
    sealed = store.seal_fields(
        services.kek, row.customer_id, outcome.reading, services.random_bytes(store.NONCE_SIZE)
    )
    distance = outcome.face_distance
    store.record_checks(services.engine, row.id, {
        "state": "approving" if automatic else "review",
        "doubts": ",".join(outcome.doubts if outcome.doubts or automatic else ("automatic_off",)),
        "fields_sealed": sealed, "liveness": outcome.liveness,
        "face_distance_milli": None if distance is None else round(distance * 1000),
        "threshold_milli": round(config.face_distance_max * 1000),
    }, now_ms)  # fmt: skip


def _verified(engine: Engine, submission_id: int, officer: Officer, now_ms: int) -> None:
    table = db.kyc_submissions
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.id == submission_id, table.c.state == "approving")
            .values(state="verified", decided_by=officer.id, decided_ms=now_ms, updated_ms=now_ms)
        )


def _to_review(engine: Engine, submission_id: int, doubt: str, now_ms: int) -> None:
    table = db.kyc_submissions
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.id == submission_id, table.c.state == "approving")
            .values(state="review", doubts=doubt, updated_ms=now_ms)
        )


async def _approve_due(services: GatewayServices) -> None:
    due = await services.db(store.due_approvals, services.engine, services.clock_ms())
    if not due:
        return
    system = await services.db(_system_officer, services)
    for row in due:
        reason = f"kyc {row.id}: ID card and selfie checked automatically"
        try:
            await _raise_to_partial(services, system, row.customer_id, reason)
        except Exception as error:  # the ledger refused or is unreachable: later, then a person
            log.warning("kyc tier change failed", extra={"error": type(error).__name__})
            if row.attempts + 1 >= _TIER_ATTEMPTS:
                await services.db(
                    _to_review, services.engine, row.id, "tier_change_failed", services.clock_ms()
                )
            else:
                await services.db(
                    store.postpone, services.engine, row.id, row.attempts, services.clock_ms()
                )
            continue
        await services.db(_verified, services.engine, row.id, system, services.clock_ms())


async def _work_once(services: GatewayServices, limiter: anyio.CapacityLimiter) -> None:
    row = await services.db(store.next_to_check, services.engine)
    if row is not None:
        await anyio.to_thread.run_sync(_check, services, row, limiter=limiter)
    await _approve_due(services)


async def run_worker(services: GatewayServices) -> None:
    """Check submissions and raise tiers until cancelled."""
    wake = _event(services)
    limiter = anyio.CapacityLimiter(limits.kyc_checks_parallel_max)
    while True:
        wake.clear()
        try:
            await _work_once(services, limiter)
        except Exception as error:  # the store was unreachable a moment: try again
            log.error("kyc worker failed", extra={"error": type(error).__name__})
        pending = await services.db(store.next_to_check, services.engine)
        if pending is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), limits.kyc_worker_poll_s)


def workers(services: GatewayServices) -> list[Worker]:
    return [lambda: run_worker(services)]


def routes(services: GatewayServices) -> list[BaseRoute]:
    def route(path: str, handler: Any, method: str, body: Any | None = None) -> Route:
        return Route(path, bind(services, handler, body), methods=[method])

    one = "/v1/officer/kyc/{submission_id:int}"
    return [
        route("/v1/kyc/submissions", submit, "POST", Upload),
        route("/v1/kyc/submissions/latest", latest, "GET"),
        route("/v1/officer/kyc/queue", queue, "GET"),
        route(one, detail, "GET"),
        route(f"{one}/decision", decide, "POST", Decision),
    ]
