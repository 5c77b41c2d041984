"""Outbound: a Cambodian wallet pays a foreign merchant's QR through the link.

    awaiting_hold --hold right--> sending --ACCC--> posting --posted--> completed
        |   +--hold wrong--> voiding --voided--> failed          |  +--hold over--> recalling
        +--no hold in time--> failed    sending --RJCT--> voiding          |
                                        sending --hold over--> recalling --ACCEPTED--> reversed
                                                                           (or failed, if the
                                                                            switch never paid)
Rules:
1. A quote (`POST /v1/link/quotes`) is firm until `expires_ms`: the switch looked the
   merchant up, the rate is the corridor's (the store's, else the config's) plus its spread,
   the riel amount rounded up (`quote`). The corridor's caps apply to the riel amount: per
   payment, and per day (the quotes of payments not failed, that day in Phnom Penh).
2. The gateway places the hold (payer -> the corridor's account, which is also its poster,
   amount `khr_amount`, reference the end-to-end id) and asks `POST /v1/link/payments`, once
   per end-to-end id (a retry gets the same payment; the id with another quote or hold is
   409). The payment is stored before anything is sent.
3. The link sends the pacs.008 only once its stream shows that hold, right in every field
   and with at least `limits.link_hold_margin_ms` to live; a wrong hold is voided.
4. The pacs.008 is the same message on every try (its ids and time derive from the payment),
   so the switch pays it at most once. ACCC: the post is signed, stored and sent; RJCT: the
   void. No answer is never a refusal: the next round asks the status (GET pacs002), and
   sends the pacs.008 again only if the switch has never seen the id. The link never voids a
   hold the foreign side may have credited.
5. A hold the ledger expired (or a post it refused for it) while the foreign side may have
   paid goes to `recalling`: a camt.056 closes the id at the switch, reversing a credit
   (`reversed`) or ensuring a late pacs.008 never pays (`failed`, `hold_expired`). The payer
   got the riel back from the ledger's expiry, so both sides agree.
6. A restart resumes every unfinished payment from the store (`run_worker`), as does a
   request for it; the stream tells what the ledger did.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response

from bakong import khqr, limits
from bakong.client import post, transaction_bytes, void
from bakong.crossborder import store
from bakong.crossborder.callers import GatewayCallers
from bakong.crossborder.home import FAMILIES
from bakong.crossborder.ledger import resubmit, sign
from bakong.crossborder.messages import Camt056, Lookup, Pacs002, Pacs008
from bakong.crossborder.quote import base_rate, khr_to_charge, outbound_rate, rate_text
from bakong.crossborder.service import LinkServices
from bakong.crossborder.switch import SwitchRefused, SwitchUnavailable
from bakong.gateway.merchants import day_bounds_ms
from bakong.gateway.problems import GatewayProblem, json_response, read_body
from bakong.ledger.identifiers import is_account_id, participant_of
from bakong.ledger.policy import phnom_penh_day

__all__ = [
    "FINAL",
    "Payment",
    "QuoteRequest",
    "current_rate",
    "drive",
    "load_payment",
    "payment_view",
    "sweep",
]

log = logging.getLogger(__name__)

AWAITING, SENDING, POSTING, VOIDING, RECALLING = (
    "awaiting_hold", "sending", "posting", "voiding", "recalling")  # fmt: skip
COMPLETED, FAILED, REVERSED, REVIEW = "completed", "failed", "reversed", "operator_review"
FINAL = (COMPLETED, FAILED, REVERSED, REVIEW)
EPOCH_DAY = datetime.date(1970, 1, 1)
SENT = "SENT"  # foreign_status of a pacs.008 sent without an answer yet

Id = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
                         max_length=limits.iso_id_chars_max)]  # fmt: skip


class QuoteRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    qr: Annotated[str, Meta(min_length=1, max_length=khqr.tags.qr_chars_max)]
    payer: Annotated[str, Meta(max_length=limits.account_id_chars_max)]
    amount: Annotated[int, Meta(gt=0, le=limits.foreign_amount_max)] | None = None


class PaymentRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    quote_id: Id
    end_to_end_id: Id
    hold_id: Annotated[str, Meta(pattern=r"^[0-9a-f]{32}$")]


@dataclass(frozen=True)
class Payment:
    end_to_end_id: str
    quote_id: str
    corridor: str
    hold_id: bytes
    state: str
    reason: str | None
    foreign_status: str | None
    step_tx: bytes | None
    created_ms: int


# -- the store -------------------------------------------------------------------------------


def load_payment(engine: Engine, end_to_end_id: str) -> Payment | None:
    table = store.payments
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(table).where(table.c.end_to_end_id == end_to_end_id)).first()  # fmt: skip
    if row is None:
        return None
    return Payment(row.end_to_end_id, row.quote_id, row.corridor, bytes(row.hold_id), row.state,
                   row.reason, row.foreign_status,
                   None if row.step_tx is None else bytes(row.step_tx), int(row.created_ms))


def _quote_row(engine: Engine, quote_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(store.quotes).where(store.quotes.c.quote_id == quote_id)).first()  # fmt: skip


def _hold_row(engine: Engine, hold_id: bytes) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            sa.select(store.holds).where(store.holds.c.hold_id == hold_id)).first()  # fmt: skip


def _move(engine: Engine, payment: Payment, state: str, now_ms: int, **values: Any) -> bool:
    """A compare-and-set from the payment's state: True if this call moved it."""
    table = store.payments
    if state in FINAL:
        values["finished_ms"] = now_ms
    with engine.begin() as connection:
        moved = connection.execute(
            table.update().where(table.c.end_to_end_id == payment.end_to_end_id,
                                 table.c.state == payment.state)
            .values(state=state, updated_ms=now_ms, **values))  # fmt: skip
    return moved.rowcount == 1


def _set_foreign(engine: Engine, payment: Payment, status: str, now_ms: int) -> None:
    table = store.payments
    with engine.begin() as connection:
        connection.execute(table.update().where(table.c.end_to_end_id == payment.end_to_end_id)
                           .values(foreign_status=status, updated_ms=now_ms))  # fmt: skip


def current_rate(engine: Engine, corridor: str, configured: str) -> str:
    """The corridor's rate (riel per major unit): the store's, else the config's."""
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(store.rates.c.rate).where(store.rates.c.corridor == corridor)
        ).scalar_one_or_none()
    return configured if found is None else str(found)


def set_rate(engine: Engine, corridor: str, rate: str, now_ms: int) -> None:
    table = store.rates
    with engine.begin() as connection:
        updated = connection.execute(table.update().where(table.c.corridor == corridor)
                                     .values(rate=rate, updated_ms=now_ms))  # fmt: skip
        if updated.rowcount == 0:
            connection.execute(table.insert().values(corridor=corridor, rate=rate,
                                                     updated_ms=now_ms))  # fmt: skip


def _day_total(engine: Engine, corridor: str, now_ms: int) -> int:
    start, _ = day_bounds_ms(EPOCH_DAY + datetime.timedelta(days=phnom_penh_day(now_ms)))
    q, p = store.quotes, store.payments
    with engine.connect() as connection:
        total = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(q.c.khr_amount), 0))
            .select_from(p.join(q, p.c.quote_id == q.c.quote_id))
            .where(p.c.corridor == corridor, p.c.created_ms >= start, p.c.state != FAILED)
        ).scalar_one()
    return int(total)


# -- quotes (rule 1) ---------------------------------------------------------------------------


def _corridor_for(services: LinkServices, scheme: str) -> str:
    for name, corridor in services.config.corridors.items():
        if scheme in FAMILIES[corridor.family].schemes:
            return name
    raise GatewayProblem(422, "scheme_not_served", f"this link pays no {scheme} code")


def _rate(services: LinkServices, corridor_name: str) -> Fraction:
    corridor = services.corridor(corridor_name)
    text = current_rate(services.engine, corridor_name, corridor.rate)
    return outbound_rate(base_rate(text, corridor.exponent), corridor.spread_bps)


async def _look_up(services: LinkServices, corridor: str, qr: str) -> Any:
    message = Lookup("lk" + services.random_bytes(12).hex(), qr)
    try:
        return await services.switches[corridor].lookup(message)
    except SwitchUnavailable:
        raise GatewayProblem(503, "switch_unavailable",
                             "the foreign switch did not answer: try again") from None
    except SwitchRefused as refused:
        status = 404 if refused.code == "merchant_not_found" else 422
        raise GatewayProblem(status, refused.code, "the foreign switch refused the code") from None


def _store_quote(engine: Engine, values: dict[str, Any]) -> None:
    with engine.begin() as connection:
        connection.execute(store.quotes.insert().values(**values))


async def create_quote(services: LinkServices, caller: str, body: QuoteRequest) -> dict[str, Any]:
    if not is_account_id(body.payer) or participant_of(body.payer) != caller:
        raise GatewayProblem(403, "payer_not_yours", "a gateway quotes for its own wallets")
    scheme = khqr.parse(body.qr).scheme
    name = _corridor_for(services, scheme)
    corridor = services.corridor(name)
    answer = await _look_up(services, name, body.qr)
    if answer.currency != corridor.currency:
        raise GatewayProblem(502, "switch_currency_mismatch", "the switch named another currency")
    if answer.amount is not None and body.amount not in (None, answer.amount):
        raise GatewayProblem(422, "amount_fixed_by_code", "the code names its own amount")
    foreign_amount = answer.amount if answer.amount is not None else body.amount
    if foreign_amount is None:
        raise GatewayProblem(422, "amount_required", "the code has no amount: give one")
    rate = await services.db(_rate, services, name)
    khr_amount = khr_to_charge(foreign_amount, rate)
    if khr_amount > corridor.payment_khr_max:
        raise GatewayProblem(422, "over_corridor_limit", "the amount is over this corridor's cap")
    now_ms = services.clock_ms()
    today = await services.db(_day_total, services.engine, name, now_ms)
    if today + khr_amount > corridor.daily_khr_max:
        raise GatewayProblem(422, "corridor_daily_limit", "this corridor's daily cap is reached")
    quote_id = "xq" + services.random_bytes(12).hex()
    account = services.account(name)
    values = {
        "quote_id": quote_id, "corridor": name, "payer": body.payer, "scheme": scheme,
        "merchant_id": answer.merchant_id, "merchant_name": answer.merchant_name,
        "city": answer.city, "country": answer.country, "remittance": khqr.md5(body.qr),
        "foreign_currency": corridor.currency, "foreign_amount": foreign_amount,
        "khr_amount": khr_amount, "rate_num": rate.numerator, "rate_den": rate.denominator,
        "spread_bps": corridor.spread_bps, "expires_ms": now_ms + corridor.quote_ms,
        "hold_expires_ms": now_ms + corridor.hold_ms, "created_ms": now_ms,
    }  # fmt: skip
    await services.db(_store_quote, services.engine, values)
    return {
        "quote_id": quote_id, "scheme": scheme, "merchant_name": answer.merchant_name,
        "city": answer.city, "country": answer.country, "foreign_currency": corridor.currency,
        "foreign_amount": foreign_amount, "khr_amount": khr_amount,
        "rate_text": rate_text(corridor.currency, corridor.exponent, rate),
        "rate_num": rate.numerator, "rate_den": rate.denominator,
        "spread_bps": corridor.spread_bps, "expires_ms": values["expires_ms"],
        "hold": {"target": account, "poster": account, "expires_ms": values["hold_expires_ms"],
                 "reference": quote_id},
    }  # fmt: skip


# -- payments (rules 2-6) ----------------------------------------------------------------------


def payment_view(services: LinkServices, payment: Payment) -> dict[str, Any]:
    quote = _quote_row(services.engine, payment.quote_id)
    corridor = services.corridor(payment.corridor)
    rate = Fraction(int(quote.rate_num), int(quote.rate_den))
    status = payment.state if payment.state in (COMPLETED, FAILED, REVERSED) else "pending"
    return {
        "end_to_end_id": payment.end_to_end_id, "status": status, "reason": payment.reason,
        "foreign_currency": quote.foreign_currency, "foreign_amount": int(quote.foreign_amount),
        "khr_amount": int(quote.khr_amount),
        "rate_text": rate_text(corridor.currency, corridor.exponent, rate),
    }  # fmt: skip


def _create_payment(services: LinkServices, caller: str, body: PaymentRequest) -> Payment:
    now_ms = services.clock_ms()
    hold_id = bytes.fromhex(body.hold_id)
    found = load_payment(services.engine, body.end_to_end_id)
    if found is not None:
        if (found.quote_id, found.hold_id) != (body.quote_id, hold_id):
            raise GatewayProblem(409, "end_to_end_id_reused", "this id names another payment")
        return found
    quote = _quote_row(services.engine, body.quote_id)
    if quote is None or participant_of(quote.payer) != caller:
        raise GatewayProblem(404, "quote_not_found", "no quote of yours has this id")
    if now_ms > int(quote.expires_ms):
        raise GatewayProblem(422, "quote_expired", "the quote has expired: ask for another")
    with services.engine.begin() as connection:
        used = connection.execute(sa.select(store.payments.c.end_to_end_id).where(
            store.payments.c.quote_id == body.quote_id)).first()  # fmt: skip
        if used is not None:
            raise GatewayProblem(409, "quote_used", "the quote pays another end-to-end id")
        connection.execute(store.payments.insert().values(
            end_to_end_id=body.end_to_end_id, quote_id=body.quote_id, corridor=quote.corridor,
            hold_id=hold_id, state=AWAITING, created_ms=now_ms, updated_ms=now_ms))  # fmt: skip
    payment = load_payment(services.engine, body.end_to_end_id)
    assert payment is not None
    return payment


def _hold_problem(services: LinkServices, payment: Payment, quote: Any, hold: Any) -> str | None:
    """Why the hold cannot back this payment (rule 3), or None if it can."""
    account = services.account(payment.corridor)
    if (hold.target, hold.poster, hold.asset) != (account, account, "KHR"):
        return "hold_wrong_target"
    if int(hold.amount) != int(quote.khr_amount):
        return "hold_wrong_amount"
    if hold.reference not in (payment.end_to_end_id, payment.quote_id):
        return "hold_wrong_reference"
    if hold.source != quote.payer:
        return "hold_wrong_payer"
    if int(hold.expires_ms) - services.clock_ms() < services.hold_margin_ms:
        return "hold_expires_too_soon"
    return None


def _to_step(services: LinkServices, payment: Payment, state: str, step: Any,
             **values: Any) -> None:  # fmt: skip
    """Move on and store the signed post or void the new state sends, in one transaction."""
    raw = sign(services, services.account(payment.corridor), step)
    _move(services.engine, payment, state, services.clock_ms(),
          step_tx=transaction_bytes(raw), **values)  # fmt: skip


async def _drive_awaiting(services: LinkServices, payment: Payment) -> None:
    quote = await services.db(_quote_row, services.engine, payment.quote_id)
    hold = await services.db(_hold_row, services.engine, payment.hold_id)
    now_ms = services.clock_ms()
    if hold is None:
        if now_ms > int(quote.hold_expires_ms) + limits.link_hold_grace_ms:
            await services.db(_move, services.engine, payment, FAILED, now_ms,
                              reason="hold_not_seen")  # fmt: skip
        return
    if hold.status != "pending":
        await services.db(_move, services.engine, payment, FAILED, now_ms,
                          reason=f"hold_{hold.status}")  # fmt: skip
        return
    problem = _hold_problem(services, payment, quote, hold)
    if problem is not None:
        await services.db(_to_step, services, payment, VOIDING, void(payment.hold_id),
                          reason=problem)  # fmt: skip
        return
    await services.db(_move, services.engine, payment, SENDING, now_ms)


def _pacs008(services: LinkServices, payment: Payment, quote: Any) -> Pacs008:
    msg_id = "p8" + hashlib.sha256(payment.end_to_end_id.encode()).hexdigest()[:30]
    return Pacs008(
        msg_id=msg_id, end_to_end_id=payment.end_to_end_id, created_ms=payment.created_ms,
        debtor_agent=services.participant, debtor_name=services.config.link.name,
        creditor_id=quote.merchant_id, currency=quote.foreign_currency,
        amount=int(quote.foreign_amount), remittance=quote.remittance,
    )  # fmt: skip


async def _foreign_word(services: LinkServices, payment: Payment) -> Pacs002 | None:
    """The switch's status of the payment (rule 4), the pacs.008 sent when it has none."""
    switch = services.switches[payment.corridor]
    if payment.foreign_status is not None:
        found = await switch.status(payment.end_to_end_id)
        if found is not None:
            return found
    quote = await services.db(_quote_row, services.engine, payment.quote_id)
    if payment.foreign_status is None:
        await services.db(_set_foreign, services.engine, payment, SENT, services.clock_ms())
    return await switch.pacs008(_pacs008(services, payment, quote))


async def _drive_sending(services: LinkServices, payment: Payment) -> None:
    hold = await services.db(_hold_row, services.engine, payment.hold_id)
    if hold.status != "pending":  # the ledger expired it: the foreign side may have paid
        await services.db(_move, services.engine, payment, RECALLING, services.clock_ms(),
                          reason="hold_expired")  # fmt: skip
        return
    try:
        answer = await _foreign_word(services, payment)
    except SwitchRefused as refused:
        if isinstance(refused, SwitchUnavailable):
            return  # rule 4: ask again next round
        log.warning("the switch refused a pacs.008", extra={"code": refused.code})
        if refused.http_status == 409:  # another payment under this id there: a person looks
            await services.db(_move, services.engine, payment, REVIEW, services.clock_ms(),
                              reason="end_to_end_id_reused")  # fmt: skip
            return
        # A refused message was not taken (a bad signature or too many: ask again later).
        answer = None if refused.http_status in (401, 429) else Pacs002(
            payment.end_to_end_id, "RJCT", refused.code[:140])  # fmt: skip
    if answer is None:
        return
    if answer.status == "ACCC":
        await services.db(_to_step, services, payment, POSTING,
                          post(payment.hold_id, int(hold.amount)), foreign_status="ACCC")
    elif answer.status == "RJCT":
        reason = f"foreign_rejected_{(answer.reason or 'narr').lower()}"[:64]
        await services.db(_to_step, services, payment, VOIDING, void(payment.hold_id),
                          foreign_status="RJCT", reason=reason)  # fmt: skip
    else:
        await services.db(_set_foreign, services.engine, payment, "ACSP", services.clock_ms())


async def _drive_step(services: LinkServices, payment: Payment) -> None:
    hold = await services.db(_hold_row, services.engine, payment.hold_id)
    now_ms = services.clock_ms()
    status = hold.status
    if payment.state == POSTING:
        if status == "posted":
            await services.db(_move, services.engine, payment, COMPLETED, now_ms)
            return
        if status != "pending":
            await services.db(_move, services.engine, payment, RECALLING, now_ms,
                              reason="hold_expired")  # fmt: skip
            return
    else:
        if status in ("voided", "expired"):
            await services.db(_move, services.engine, payment, FAILED, now_ms)
            return
        if status == "posted":
            log.error("a hold being voided was posted: left for an operator")
            await services.db(_move, services.engine, payment, REVIEW, now_ms,
                              reason="hold_posted_while_voiding")  # fmt: skip
            return
    assert payment.step_tx is not None
    await resubmit(services, payment.step_tx)


async def _drive_recalling(services: LinkServices, payment: Payment) -> None:
    msg_id = "c56" + hashlib.sha256(payment.end_to_end_id.encode()).hexdigest()[:29]
    switch = services.switches[payment.corridor]
    try:
        answer = await switch.camt056(Camt056(msg_id, payment.end_to_end_id, "hold_expired"))
    except SwitchUnavailable:
        return
    except SwitchRefused as refused:
        log.warning("the switch refused a recall", extra={"code": refused.code})
        return
    now_ms = services.clock_ms()
    if answer.status == "ACCEPTED":
        credited = payment.foreign_status == "ACCC"
        await services.db(_move, services.engine, payment, REVERSED if credited else FAILED,
                          now_ms, reason="hold_expired")  # fmt: skip
        return
    status = await switch.status(payment.end_to_end_id)
    if status is not None and status.status == "RJCT":
        await services.db(_move, services.engine, payment, FAILED, now_ms, reason="hold_expired")
    else:
        log.error("a recall was refused: left for an operator", extra={"code": answer.reason})
        await services.db(_move, services.engine, payment, REVIEW, now_ms,
                          reason="recall_rejected")  # fmt: skip


_DRIVERS = {AWAITING: _drive_awaiting, SENDING: _drive_sending, POSTING: _drive_step,
            VOIDING: _drive_step, RECALLING: _drive_recalling}  # fmt: skip


async def drive(services: LinkServices, end_to_end_id: str) -> Payment | None:
    """One step of the payment's state machine (none if it is final); the payment after."""
    async with services.lock("out:" + end_to_end_id):
        payment = await services.db(load_payment, services.engine, end_to_end_id)
        if payment is None or payment.state in FINAL:
            return payment
        await _DRIVERS[payment.state](services, payment)
        return await services.db(load_payment, services.engine, end_to_end_id)


async def drive_until(services: LinkServices, end_to_end_id: str, wait_s: float) -> Payment:
    """Drive the payment until it is final, stands still, or `wait_s` has passed."""
    loop_time = asyncio.get_running_loop().time
    deadline = loop_time() + wait_s
    payment = await drive(services, end_to_end_id)
    assert payment is not None
    while payment.state not in FINAL and loop_time() < deadline:
        before = payment
        await services.wait_progress(min(limits.link_sweep_s, max(0.0, deadline - loop_time())))
        payment = await drive(services, end_to_end_id)
        assert payment is not None
        if payment == before and payment.state == SENDING and payment.foreign_status == SENT:
            break  # no answer from abroad: the worker keeps asking
    return payment


def _unfinished(engine: Engine) -> list[str]:
    table = store.payments
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.end_to_end_id).where(table.c.state.not_in(FINAL))
            .order_by(table.c.updated_ms).limit(limits.link_sweep_batch_max)).all()  # fmt: skip
    return [row.end_to_end_id for row in rows]


async def sweep(services: LinkServices) -> int:
    """Drive every unfinished payment one step (rule 6); how many were driven."""
    ids = await services.db(_unfinished, services.engine)
    for end_to_end_id in ids:
        try:
            await drive(services, end_to_end_id)
        except Exception:  # one payment's trouble must not stop the others
            log.exception("driving an outbound payment failed")
    return len(ids)


# -- the routes --------------------------------------------------------------------------------


async def quote_route(services: LinkServices, callers: GatewayCallers,
                      request: Request) -> Response:  # fmt: skip
    """A firm quote for paying a foreign QR code (rule 1)."""
    body = await read_body(request, limits.link_request_body_bytes_max)
    caller = await callers.participant(request, body)
    parsed = _decode(body, QuoteRequest)
    return json_response(await create_quote(services, caller, parsed), 201)


async def pay_route(services: LinkServices, callers: GatewayCallers,
                    request: Request) -> Response:  # fmt: skip
    """Pay a quote whose hold the gateway placed (rules 2-5); idempotent on the id."""
    body = await read_body(request, limits.link_request_body_bytes_max)
    caller = await callers.participant(request, body)
    parsed = _decode(body, PaymentRequest)
    payment = await services.db(_create_payment, services, caller, parsed)
    payment = await drive_until(services, payment.end_to_end_id, limits.link_answer_wait_s)
    view = await services.db(payment_view, services, payment)
    return json_response(view, 200 if view["status"] != "pending" else 202)


async def status_route(services: LinkServices, callers: GatewayCallers,
                       request: Request) -> Response:  # fmt: skip
    caller = await callers.participant(request, b"")
    end_to_end_id = str(request.path_params["end_to_end_id"])[: limits.iso_id_chars_max + 1]
    payment = await services.db(load_payment, services.engine, end_to_end_id)
    quote = None if payment is None else await services.db(
        _quote_row, services.engine, payment.quote_id)  # fmt: skip
    if payment is None or quote is None or participant_of(quote.payer) != caller:
        raise GatewayProblem(404, "payment_not_found", "no payment of yours has this id")
    return json_response(await services.db(payment_view, services, payment))


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as error:
        raise GatewayProblem(400, "bad_request", str(error)[:200]) from None
    except msgspec.DecodeError:
        raise GatewayProblem(400, "bad_request", "the body is not JSON") from None
