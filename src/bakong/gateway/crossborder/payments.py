"""A wallet paying a foreign merchant's QR code through the cross-border link (issue 20).

    quoted --pay (PIN)--> placing --hold committed--> placed --link took it--> paying
                            |                           |  |                     |
                            +--hold refused--> failed   |  +--link refused--> failed
                                                        +--link final--------+--> completed
                                                                                | failed
                                                                                | reversed

Rules:
1. Quote: the wallet sends a scanned code (and an amount in the code's currency when the code
   has none: without either, 422 `amount_required` names the code's currency and its minor
   digits). `bakong.khqr.foreign` must recognise a foreign scheme (a KHQR is paid as any
   other payment). The link looks the merchant up and quotes the KHR total at a firm rate
   until `expires_ms`, with the hold's terms (its target, the link's account; its poster, the
   link's account that posts or voids; its expiry; its reference, the end-to-end id). The quote
   is stored (`quoted`); its id here is the payment's id.
2. Pay: with the wallet's PIN and an `Idempotency-Key`, while the quote lives, one database
   transaction moves the quote to `placing` and stores the wallet's signed hold (the submission
   `foreign-hold:<payment id>`): source the wallet, target and poster from the quote, KHR, the
   quoted KHR amount, reference the end-to-end id, id `hold_id_for(wallet, end-to-end id)`.
   The ledger counts the hold against the wallet's daily limit and refuses it beyond (the
   payment ends `failed` with the ledger's code; nothing moved).
3. Once the hold commits (`placed`), the link is asked to pay (idempotent on the end-to-end
   id: every try is the same request). It answers `pending` (`paying`: the gateway asks its
   status on later rounds) or a final status that the payment takes. The link alone posts or
   voids the hold: the gateway never voids a hold the foreign side may have been paid for. A
   refusal of the request ends `failed` only once the link's status says it never took the
   payment (404); the hold then returns at its expiry, since nobody posts it.
4. No answer from the link (a timeout, the link down or killed) is never a refusal: a later
   round asks again. A restart resumes every unfinished payment from its stored state (the
   worker `run_foreign_payments`); the resubmitter sends stored bytes again.
5. A retry with the same key and quote gets the same payment (the first answer once final);
   the same key with another quote is 409 `idempotency_key_reused`; a quote paid under one key
   is 409 `quote_already_used` under another.
6. Nothing personal leaves the gateway: the link learns the payer's account id only; the hold
   carries the end-to-end id; paths carry payment ids.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import TransactionBuilder, hold, hold_id_for
from bakong.errors import QRDecodeError
from bakong.gateway import custody, db, sessions, submission
from bakong.gateway.crossborder.link import LinkClient, LinkPayment, LinkRefused, LinkUnavailable
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.service import GatewayServices, Worker
from bakong.gateway.wallets import bind, check_pin, customer_by_id
from bakong.khqr import foreign
from bakong.khqr.tags import qr_chars_max
from bakong.ledger.transaction import Transaction

__all__ = [
    "FINAL",
    "ForeignPayment",
    "drive",
    "load_payment",
    "routes",
    "sweep",
    "workers",
]

log = logging.getLogger(__name__)

QUOTED, PLACING, PLACED, PAYING = "quoted", "placing", "placed", "paying"
COMPLETED, FAILED, REVERSED = "completed", "failed", "reversed"
FINAL = (COMPLETED, FAILED, REVERSED)
_LINK_FINAL = {"completed": COMPLETED, "failed": FAILED, "reversed": REVERSED}
#: The ledger's refusal codes of a hold, as the wallet is told them.
_LEDGER_CODES = {"source_account_not_active": "account_frozen",
                 "target_account_not_active": "link_account_not_active",
                 "creator_not_active": "account_frozen"}  # fmt: skip
_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
#: The currencies of the schemes the links reach (ISO 4217 numeric of tag 53 -> alpha, and
#: the minor-unit digits the switches count in), so a page asks for an amount in the right one.
CURRENCIES = {"764": ("THB", 2), "704": ("VND", 0), "458": ("MYR", 2), "418": ("LAK", 0),
              "156": ("CNY", 2), "702": ("SGD", 2), "360": ("IDR", 2), "356": ("INR", 2),
              "840": ("USD", 2)}  # fmt: skip
_EXPONENTS = dict(CURRENCIES.values())


@dataclass(frozen=True)
class ForeignPayment:
    payment_id: str
    customer_id: int
    wallet_account: str
    quote_id: str
    scheme: str
    merchant_name: str
    city: str
    country: str
    foreign_currency: str
    foreign_amount: int
    khr_amount: int
    rate_text: str
    quote_expires_ms: int
    hold_target: str
    hold_poster: str
    hold_expires_ms: int
    end_to_end_id: str
    hold_id: bytes
    idempotency_key: str | None
    request_hash: str | None
    state: str
    reason: str | None
    created_ms: int
    finished_ms: int | None

    def view(self) -> dict[str, Any]:
        return {
            "payment_id": self.payment_id, "quote_id": self.payment_id, "state": self.state,
            "reason": self.reason, "scheme": self.scheme, "merchant_name": self.merchant_name,
            "city": self.city, "country": self.country,
            "foreign_currency": self.foreign_currency, "foreign_amount": self.foreign_amount,
            "foreign_exponent": _EXPONENTS.get(self.foreign_currency, 2),
            "khr_amount": self.khr_amount, "rate_text": self.rate_text,
            "expires_ms": self.quote_expires_ms, "end_to_end_id": self.end_to_end_id,
            "created_ms": self.created_ms, "finished_ms": self.finished_ms,
        }  # fmt: skip


def _payment(row: Any) -> ForeignPayment:
    return ForeignPayment(
        row.payment_id, int(row.customer_id), row.wallet_account, row.quote_id, row.scheme,
        row.merchant_name, row.city, row.country, row.foreign_currency, int(row.foreign_amount),
        int(row.khr_amount), row.rate_text, int(row.quote_expires_ms), row.hold_target,
        row.hold_poster, int(row.hold_expires_ms), row.end_to_end_id, bytes(row.hold_id),
        row.idempotency_key, row.request_hash, row.state, row.reason, int(row.created_ms),
        None if row.finished_ms is None else int(row.finished_ms),
    )  # fmt: skip


def load_payment(engine: Engine, payment_id: str) -> ForeignPayment | None:
    table = db.foreign_payments
    with engine.connect() as connection:
        row = connection.execute(sa.select(table).where(table.c.payment_id == payment_id)).first()
    return None if row is None else _payment(row)


def _move(engine: Engine, payment: ForeignPayment, came_from: str, state: str, now_ms: int,
          reason: str | None = None) -> bool:  # fmt: skip
    """A compare-and-set of the payment's state: True if this call moved it."""
    table = db.foreign_payments
    values: dict[str, Any] = {"state": state, "updated_ms": now_ms}
    if reason is not None:
        values["reason"] = reason
    if state in FINAL:
        values["finished_ms"] = now_ms
    with engine.begin() as connection:
        moved = connection.execute(table.update().where(
            table.c.payment_id == payment.payment_id, table.c.state == came_from,
        ).values(**values))  # fmt: skip
    return moved.rowcount == 1


def _touch(engine: Engine, payment: ForeignPayment, now_ms: int) -> None:
    table = db.foreign_payments
    with engine.begin() as connection:
        connection.execute(table.update().where(table.c.payment_id == payment.payment_id)
                           .values(updated_ms=now_ms))  # fmt: skip


def _link(services: GatewayServices) -> LinkClient:
    if services.link is None:
        raise GatewayProblem(404, "crossborder_not_configured",
                             "this bank offers no payments to foreign merchants")  # fmt: skip
    return services.link


# -- driving a payment (rules 2-4) ----------------------------------------------------------


def _hold_key(payment: ForeignPayment) -> str:
    return f"foreign-hold:{payment.payment_id}"


def _stored_hold(engine: Engine, payment: ForeignPayment) -> submission.Submission | None:
    with engine.connect() as connection:
        return submission.find_submission(connection, sessions.OFFICER, _hold_key(payment))


async def _drive_placing(services: GatewayServices, payment: ForeignPayment,
                         wait_s: float) -> None:  # fmt: skip
    stored = await services.db(_stored_hold, services.engine, payment)
    assert stored is not None, "a placing payment has its stored hold (rule 2)"
    placed = stored if stored.finished else await submission.send_signed(services, stored, wait_s)
    if not placed.finished:
        return
    now_ms = services.clock_ms()
    if placed.state is submission.State.committed:
        await services.db(_move, services.engine, payment, PLACING, PLACED, now_ms)
    else:
        code = placed.result or "rejected"
        await services.db(_move, services.engine, payment, PLACING, FAILED, now_ms,
                          _LEDGER_CODES.get(code, code))  # fmt: skip


async def _follow(services: GatewayServices, payment: ForeignPayment, came_from: str,
                  answer: LinkPayment) -> None:  # fmt: skip
    now_ms = services.clock_ms()
    if answer.end_to_end_id != payment.end_to_end_id:
        log.error("the link answered about another payment: asked again later")
        await services.db(_touch, services.engine, payment, now_ms)
        return
    state = _LINK_FINAL.get(answer.status, PAYING)
    if state == came_from:
        await services.db(_touch, services.engine, payment, now_ms)
        return
    reason = answer.reason or ("foreign_payment_reversed" if state == REVERSED else None)
    if state == FAILED and reason is None:
        reason = "foreign_payment_failed"
    await services.db(_move, services.engine, payment, came_from, state, now_ms, reason)


async def _drive_link(services: GatewayServices, payment: ForeignPayment) -> None:
    link = _link(services)
    now_ms = services.clock_ms()
    try:
        if payment.state == PLACED:
            answer = await link.pay(payment.quote_id, payment.end_to_end_id, payment.hold_id,
                                    now_ms)  # fmt: skip
        else:
            answer = await link.status(payment.end_to_end_id, now_ms)
    except LinkUnavailable:  # rule 4: the outcome is unknown, a later round asks again
        await services.db(_touch, services.engine, payment, now_ms)
        return
    except LinkRefused as error:
        await _after_refusal(services, payment, error)
        return
    await _follow(services, payment, payment.state, answer)


async def _after_refusal(services: GatewayServices, payment: ForeignPayment,
                         refused: LinkRefused) -> None:  # fmt: skip
    """Rule 3: a refused payment request fails the payment only when the link's status says
    it never took the payment (an earlier try whose answer was lost may have); a refused
    status request is asked again later."""
    now_ms = services.clock_ms()
    if payment.state == PLACED:
        try:
            answer = await _link(services).status(payment.end_to_end_id, now_ms)
        except LinkUnavailable:
            await services.db(_touch, services.engine, payment, now_ms)
        except LinkRefused as unknown:
            if unknown.http_status == 404:
                await services.db(_move, services.engine, payment, PLACED, FAILED, now_ms,
                                  refused.code)  # fmt: skip
            else:
                await services.db(_touch, services.engine, payment, now_ms)
        else:
            await _follow(services, payment, PLACED, answer)
        return
    log.error("the link refused a payment's status", extra={"code": refused.code})
    await services.db(_touch, services.engine, payment, now_ms)


async def drive(services: GatewayServices, payment_id: str, wait_s: float) -> ForeignPayment:
    """Take a payment as far as it goes now (rules 2-4), waiting up to `wait_s` per block."""
    payment = await services.db(load_payment, services.engine, payment_id)
    assert payment is not None
    for _ in range(4):  # at most one pass per state
        if payment.state == PLACING:
            await _drive_placing(services, payment, wait_s)
        elif payment.state in (PLACED, PAYING):
            await _drive_link(services, payment)
        after = await services.db(load_payment, services.engine, payment_id)
        assert after is not None
        if after.state == payment.state or after.state in FINAL:
            return after
        payment = after
    return payment


# -- the worker -------------------------------------------------------------------------------


def _unfinished(engine: Engine, updated_before_ms: int) -> list[str]:
    table = db.foreign_payments
    with engine.connect() as connection:
        return list(connection.execute(
            sa.select(table.c.payment_id)
            .where(table.c.state.in_((PLACING, PLACED, PAYING)),
                   table.c.updated_ms <= updated_before_ms)
            .order_by(table.c.id).limit(limits.foreign_payments_sweep_batch_max)
        ).scalars())  # fmt: skip


async def sweep(services: GatewayServices, wait_s: float = 0.0, *, everything: bool = False,
                ) -> int:  # fmt: skip
    """One round of the worker (rule 4): every unfinished payment not touched within a round
    (`everything`: all of them) driven on; the number looked at."""
    lag_ms = 0 if everything else int(limits.foreign_payments_sweep_s * 1000)
    due = await services.db(_unfinished, services.engine, services.clock_ms() - lag_ms)
    for payment_id in due:
        await drive(services, payment_id, wait_s)
    return len(due)


async def run_foreign_payments(services: GatewayServices) -> None:
    """`sweep` every `limits.foreign_payments_sweep_s` until cancelled (everything at start)."""
    first = True
    while True:
        try:
            await sweep(services, everything=first)
            first = False
        except Exception as error:  # the core, the link or the database is down
            log.warning("foreign payments worker: round failed",
                        extra={"error": type(error).__name__})  # fmt: skip
        await asyncio.sleep(limits.foreign_payments_sweep_s)


def workers(services: GatewayServices) -> list[Worker]:
    if services.link is None:
        return []
    return [lambda: run_foreign_payments(services)]


# -- the routes -------------------------------------------------------------------------------

Pin = Annotated[str, Meta(max_length=limits.pin_digits_max)]
PaymentId = Annotated[str, Meta(pattern=r"^fp_[0-9a-f]{24}$")]


class QuoteRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    qr: Annotated[str, Meta(min_length=1, max_length=qr_chars_max)]
    amount: Annotated[int, Meta(gt=0, le=limits.foreign_amount_max)] | None = None


class PayRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    quote_id: PaymentId
    pin: Pin
    #: The `Idempotency-Key` header's value, for callers that cannot set headers.
    idempotency_key: Annotated[str, Meta(pattern=_IDEMPOTENCY_KEY.pattern)] | None = None


def _customer(engine: Engine, customer_id: int) -> Any:
    with engine.connect() as connection:
        return customer_by_id(connection, customer_id)


def _scheme_of(qr: str, amount: int | None) -> str:
    """The foreign scheme of `qr`; 422 `amount_required` (with the code's currency and its
    minor-unit digits) when neither the code nor the request has an amount."""
    try:
        parsed = foreign.parse(qr)
    except QRDecodeError:
        raise GatewayProblem(422, "qr_invalid", "this is not a QR code the wallet reads") from None
    if parsed.scheme == "khqr":
        raise GatewayProblem(409, "not_foreign", "a KHQR code is paid as any other payment")
    if parsed.scheme == "unknown":
        raise GatewayProblem(422, "qr_not_recognised", "the wallet does not know this QR code")
    if parsed.amount is None and amount is None:
        currency, exponent = CURRENCIES.get(parsed.currency or "", ("", 2))
        raise GatewayProblem(422, "amount_required", "this code has no amount: give one",
                             {"scheme": parsed.scheme, "currency": currency,
                              "exponent": exponent})  # fmt: skip
    return parsed.scheme


def _store_quote(services: GatewayServices, customer: Any, quote: Any) -> ForeignPayment:
    now_ms = services.clock_ms()
    payment_id = "fp_" + services.random_bytes(12).hex()
    end_to_end_id = quote.hold.reference
    values = {
        "payment_id": payment_id, "customer_id": customer.id,
        "wallet_account": customer.account_id, "quote_id": quote.quote_id,
        "scheme": quote.scheme, "merchant_name": quote.merchant_name, "city": quote.city,
        "country": quote.country, "foreign_currency": quote.foreign_currency,
        "foreign_amount": quote.foreign_amount, "khr_amount": quote.khr_amount,
        "rate_text": quote.rate_text, "quote_expires_ms": quote.expires_ms,
        "hold_target": quote.hold.target, "hold_poster": quote.hold.poster,
        "hold_expires_ms": quote.hold.expires_ms, "end_to_end_id": end_to_end_id,
        "hold_id": hold_id_for(customer.account_id, end_to_end_id), "state": QUOTED,
        "created_ms": now_ms, "updated_ms": now_ms,
    }  # fmt: skip
    with services.engine.begin() as connection:
        connection.execute(db.foreign_payments.insert().values(**values))
    found = load_payment(services.engine, payment_id)
    assert found is not None
    return found


def _check_quote(quote: Any, now_ms: int) -> None:
    """A quote the gateway can act on: KHR held no longer than the ledger allows, a quote
    that lives a while but not beyond its hold."""
    lifetime_ms = quote.hold.expires_ms - now_ms
    usable = (
        now_ms < quote.expires_ms <= now_ms + limits.foreign_quote_lifetime_ms_max
        and quote.expires_ms < quote.hold.expires_ms
        and limits.hold_expiry_ms_min <= lifetime_ms <= limits.hold_expiry_ms_max
    )
    if not usable:
        log.error("the link's quote has unusable times: refused")
        raise GatewayProblem(502, "link_quote_invalid", "the link's quote cannot be used")


async def quote_foreign(services: GatewayServices, request: Request) -> Response:
    """A firm quote for a scanned foreign merchant's code: the merchant, the foreign amount,
    the KHR total, the rate and the quote's expiry (rule 1)."""
    session = await sessions.authenticate(services, request, "customer")
    body = await read_json(request, QuoteRequest, limits.foreign_payment_body_bytes_max)
    link = _link(services)
    _scheme_of(body.qr, body.amount)
    customer = await services.db(_customer, services.engine, session.customer_id)
    try:
        quote = await link.quote(body.qr, body.amount, customer.account_id, services.clock_ms())
    except LinkUnavailable as error:
        log.warning("the link gave no usable quote", extra={"code": error.code})
        raise GatewayProblem(503, "link_unavailable",
                             "the cross-border link did not answer: try again") from None
    except LinkRefused as error:
        raise GatewayProblem(422, error.code, error.message) from None
    _check_quote(quote, services.clock_ms())
    payment = await services.db(_store_quote, services, customer, quote)
    return json_response({"quote": payment.view()}, 201)


def _hold_tx(services: GatewayServices, customer: Any, payment: ForeignPayment) -> Transaction:
    command = hold(payment.hold_id, customer.account_id, payment.hold_target, "KHR",
                   payment.khr_amount, expires_ms=payment.hold_expires_ms,
                   poster=payment.hold_poster, memo="foreign payment",
                   reference=payment.end_to_end_id)  # fmt: skip
    builder = TransactionBuilder(chain_id=services.chain_id, creator=customer.account_id,
                                 created_ms=services.clock_ms(), nonce=services.nonces())
    key = custody.open_seed(services.kek, customer.account_id, customer.key_sealed)
    return builder.add(command).sign(key)


def _request_hash(body: PayRequest) -> str:
    return hashlib.sha256(body.quote_id.encode()).hexdigest()


def _start(services: GatewayServices, customer: Any, body: PayRequest, key: str,
           digest: str) -> ForeignPayment:  # fmt: skip
    """Rule 2: the payment of this key; a live quote of the wallet's becomes one, with its
    signed hold stored in the same database transaction."""
    table = db.foreign_payments
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        found = connection.execute(sa.select(table).where(
            table.c.customer_id == customer.id, table.c.idempotency_key == key)).first()
        if found is not None:
            return _payment(found)
        row = connection.execute(sa.select(table).where(
            table.c.customer_id == customer.id, table.c.payment_id == body.quote_id)).first()
        if row is None:
            raise GatewayProblem(404, "quote_not_found", "no quote of yours has this id")
        quote = _payment(row)
        if quote.state != QUOTED:
            raise GatewayProblem(409, "quote_already_used", "this quote was paid already")
        if now_ms >= quote.quote_expires_ms:
            raise GatewayProblem(410, "quote_expired", "this quote expired: scan again")
        moved = connection.execute(table.update().where(
            table.c.payment_id == quote.payment_id, table.c.state == QUOTED,
        ).values(state=PLACING, idempotency_key=key, request_hash=digest,
                 updated_ms=now_ms))  # fmt: skip
        if moved.rowcount != 1:
            raise GatewayProblem(409, "quote_already_used", "this quote was paid already")
        transaction = _hold_tx(services, customer, quote)
        hold_key = _hold_key(quote)
        submission.store_signed(connection, sessions.OFFICER, hold_key,
                                hashlib.sha256(hold_key.encode()).hexdigest(), transaction,
                                now_ms)  # fmt: skip
    started = load_payment(services.engine, body.quote_id)
    assert started is not None
    return started


def _checked_customer(engine: Engine, customer_id: int, pin: str, now_ms: int) -> Any:
    """The customer, once its PIN is right (a right one clears the count of wrong ones)."""
    customer = _customer(engine, customer_id)
    check_pin(engine, customer, pin, now_ms)
    if customer.pin_failures:
        with engine.begin() as connection:
            connection.execute(db.customers.update().where(db.customers.c.id == customer.id)
                               .values(pin_failures=0))  # fmt: skip
    return customer


_MESSAGES = {
    "insufficient_funds": "the wallet's balance is too low",
    "daily_limit_exceeded": "the wallet's daily limit is reached",
    "foreign_payment_reversed": "the payment was undone on both sides: nothing moved",
}


def _answer(payment: ForeignPayment) -> Response:
    if payment.state == COMPLETED:
        return json_response({"payment": payment.view()})
    if payment.state not in FINAL:
        return json_response({"payment": payment.view()}, 202)
    code = payment.reason or payment.state
    message = _MESSAGES.get(code, f"the payment did not go through ({code})")
    return json_response({"error": {"code": code, "message": message},
                          "payment": payment.view()}, 422)  # fmt: skip


async def pay_foreign(services: GatewayServices, request: Request) -> Response:
    """Pay a quote with the wallet's PIN; a retry with the same Idempotency-Key pays once."""
    session = await sessions.authenticate(services, request, "customer")
    body = await read_json(request, PayRequest, limits.foreign_payment_body_bytes_max)
    key = request.headers.get("idempotency-key") or body.idempotency_key or ""
    if not _IDEMPOTENCY_KEY.match(key):
        raise GatewayProblem(400, "idempotency_key_required",
                             "send an Idempotency-Key header (1-64 of A-Z a-z 0-9 _ . : -)")
    _link(services)
    customer = await services.db(_checked_customer, services.engine, session.customer_id,
                                 body.pin, services.clock_ms())  # fmt: skip
    if customer.custody != "custodial":
        raise GatewayProblem(409, "self_custody", "a self-custody wallet signs its own holds")
    digest = _request_hash(body)
    try:
        payment = await services.db(_start, services, customer, body, key, digest)
    except sa.exc.IntegrityError:  # a concurrent retry stored the key first
        payment = await services.db(_start, services, customer, body, key, digest)
    if payment.request_hash != digest:
        raise GatewayProblem(409, "idempotency_key_reused",
                             "this idempotency key was used for another request")  # fmt: skip
    if payment.state not in FINAL:
        payment = await drive(services, payment.payment_id, limits.foreign_payment_step_wait_s)
    return _answer(payment)


async def one_payment(services: GatewayServices, request: Request) -> Response:
    """One of this wallet's foreign payments (or quotes), by its id."""
    session = await sessions.authenticate(services, request, "customer")
    found = await services.db(load_payment, services.engine,
                              str(request.path_params["payment_id"])[:64])  # fmt: skip
    if found is None or found.customer_id != session.customer_id:
        raise GatewayProblem(404, "foreign_payment_not_found", "no payment of yours has this id")
    return json_response({"payment": found.view()})


def routes(services: GatewayServices) -> list[BaseRoute]:
    return [
        Route("/v1/wallet/foreign/quotes", bind(services, quote_foreign, QuoteRequest),
              methods=["POST"]),  # fmt: skip
        Route("/v1/wallet/foreign/payments", bind(services, pay_foreign, PayRequest),
              methods=["POST"]),  # fmt: skip
        Route("/v1/wallet/foreign/payments/{payment_id}", bind(services, one_payment),
              methods=["GET"]),  # fmt: skip
    ]
