"""Payments from a customer's wallet: preview (who is paid), pay, relay, scan a QR image.

Rules:
- A payee is given as exactly one of: an account ID (`name@participant`), a phone number
  (resolved through the ledger's alias directory, `HMAC(alias_key, phone)`, at any bank), or
  a KHQR string (its tag 29/30 account; its amount and currency when it carries them, and its
  md5 as the transfer's `reference`). A scanned image is turned into the KHQR string first
  (`POST /v1/payments/scan`).
- The preview shows the payee's masked name as the payee's bank returns it (`parties`), so
  the customer confirms the right person before paying.
- Money moves only through `submission`: the request is stored under its idempotency key
  before anything is signed, the signed bytes before they are sent; a retry with the same
  key gets the first answer and never pays twice. The request hash covers the request as
  sent (payee as given, amount, asset, memo), so a retry is recognised before the payee is
  resolved again: a retried KHQR payment is not refused as "already paid" by itself.
- A KHQR that is expired, already paid or for another amount is refused before signing
  (`merchants.payment_refusal`).
- Refusals a person understands, each with its code: `insufficient_funds`,
  `daily_limit_exceeded` (with the day's limit and what remains today), `recipient_not_found`,
  `account_frozen`, `khqr_expired`, `khqr_paid`. A payment still on its way answers 202 with
  its state; `GET /v1/payments/{idempotency_key}` tells where it stands.
- Custodial wallets are signed here after the session authenticated the customer; a
  self-custody wallet submits its own signed transaction (`POST /v1/payments/signed`).
- A payment may carry the customer's `pin` (the wallet pages always send it): it is checked
  before anything else, under the wallet's lockout, with the same answers as a login
  (`wallets.check_pin`: `login_failed` with `attempts_left`, `pin_locked`). It is not part
  of the request hash: a retry is the same payment, checked again.
- A phone that has no wallet at any bank is paid all the same: the money waits in a
  claimable hold (`claims`) and the answer carries the claim and its state. Such a payment
  may carry a `claim_secret` for a payout at a cash agent. A retry finds the claim, even
  after the payee has registered.
"""

from __future__ import annotations

import decimal
import hashlib
import io
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import PIL.Image
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import NotFound, TransactionBuilder, alias_hash, transfer
from bakong.errors import DecodeError
from bakong.gateway import claims, custody, db, merchants, parties, sessions, submission
from bakong.gateway.problems import GatewayProblem, json_response, read_body, read_json
from bakong.gateway.service import GatewayServices
from bakong.gateway.wallets import PhoneNumber, bind, check_pin, customer_by_id
from bakong.khqr import decode, md5, verify
from bakong.khqr import tags as khqr_tags
from bakong.khqr.codes import NAMES
from bakong.ledger.assets import Asset
from bakong.ledger.commands import PlaceHold, Transfer
from bakong.ledger.identifiers import is_account_id
from bakong.ledger.policy import DEFAULT_POLICY, daily_limit, phnom_penh_day
from bakong.ledger.records import KycTier
from bakong.ledger.transaction import Transaction, decode_transaction
from bakong.qrimage.scan import scan_image

__all__ = ["routes"]

AccountText = Annotated[str, Meta(max_length=limits.account_id_chars_max)]
AssetText = Annotated[str, Meta(pattern=r"^(KHR|USD)$")]
Amount = Annotated[int, Meta(gt=0, le=limits.amount_max)]
IdempotencyKey = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class PayeeSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    account: AccountText | None = None
    phone: PhoneNumber | None = None
    khqr: Annotated[str, Meta(max_length=khqr_tags.qr_chars_max)] | None = None


class Preview(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    to: PayeeSpec
    amount: Amount | None = None  # None: the KHQR's own amount
    asset: AssetText | None = None


class PaymentRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    idempotency_key: IdempotencyKey
    to: PayeeSpec
    amount: Amount | None = None
    asset: AssetText | None = None
    memo: Annotated[str, Meta(max_length=limits.memo_chars_max)] = ""
    pin: Annotated[str, Meta(max_length=limits.pin_digits_max)] | None = None
    claim_secret: claims.Secret | None = None  # for a phone with no wallet (`claims`)


class SignedPayment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    idempotency_key: IdempotencyKey
    transaction: Annotated[str, Meta(max_length=2 * limits.tx_bytes_max)]  # hex


_KHQR_EXPIRED = next(code for code, name in NAMES.items() if name == "KHQR_EXPIRED")


@dataclass(frozen=True)
class Payee:
    account_id: str
    asset: Asset
    amount: int
    reference: str  # the KHQR's md5, or ""
    qr: str | None


def _minor_units(text: str, asset: Asset) -> int:
    try:
        units = decimal.Decimal(text).scaleb(asset.exponent)
    except decimal.InvalidOperation:
        raise GatewayProblem(400, "khqr_invalid", "the KHQR amount is not a number") from None
    if units != units.to_integral_value() or units <= 0:
        raise GatewayProblem(400, "khqr_invalid", "the KHQR amount is not in minor units")
    return int(units)


def _from_khqr(qr: str, amount: int | None, asset: str | None, now_ms: int) -> Payee:
    verdict = verify(qr, now_ms=now_ms)
    if not verdict.valid:
        code = "khqr_expired" if verdict.error_code == _KHQR_EXPIRED else "khqr_invalid"
        raise GatewayProblem(400, code, verdict.error_message or "this is not a valid KHQR")
    fields = decode(qr)
    currency = fields["transactionCurrency"]
    qr_asset = Asset.USD if currency == str(khqr_tags.USD) else Asset.KHR
    if asset is not None and asset != qr_asset.value:
        raise GatewayProblem(400, "khqr_amount_mismatch", "the KHQR is for another currency")
    text = fields["transactionAmount"]
    qr_amount = None if text is None else _minor_units(text, qr_asset)
    if qr_amount is not None and amount is not None and amount != qr_amount:
        raise GatewayProblem(400, "khqr_amount_mismatch", "the KHQR is for another amount")
    paid = qr_amount if qr_amount is not None else amount
    account = fields["bakongAccountID"]
    if paid is None or account is None or not is_account_id(account):
        raise GatewayProblem(400, "amount_required", "give the amount this KHQR leaves open")
    return Payee(account, qr_asset, paid, md5(qr), qr)


async def resolve(
    services: GatewayServices, to: PayeeSpec, amount: int | None, asset: str | None
) -> Payee:
    """The account, asset, amount and reference a payment request names."""
    given = [value for value in (to.account, to.phone, to.khqr) if value is not None]
    if len(given) != 1:
        raise GatewayProblem(400, "bad_request", "give exactly one of account, phone and khqr")
    if to.khqr is not None:
        return _from_khqr(to.khqr, amount, asset, services.clock_ms())
    if amount is None or asset is None:
        raise GatewayProblem(400, "amount_required", "give the amount and the asset")
    account = to.account
    if to.phone is not None:
        try:
            account = (
                await services.core.alias(alias_hash(services.alias_key, to.phone))
            ).account_id
        except NotFound:
            raise GatewayProblem(
                404, "recipient_not_found", "no wallet at any bank has this phone number",
                {"claimable": True},  # paying it anyway makes a claim (`claims`)
            ) from None
    if account is None or not is_account_id(account):
        raise GatewayProblem(400, "recipient_invalid", "the account ID is not name@participant")
    return Payee(account, Asset(asset), amount, "", None)


async def preview(services: GatewayServices, request: Request) -> Response:
    """Who will be paid: the payee's account and masked name, before the customer confirms."""
    await sessions.authenticate(services, request, "customer")
    body = await read_json(request, Preview, limits.wallet_body_bytes_max)
    payee = await resolve(services, body.to, body.amount, body.asset)
    name = await parties.display_name_of(services, payee.account_id)
    return json_response(
        {
            "payee": {"account_id": payee.account_id, "display_name": name},
            "amount": payee.amount,
            "asset": payee.asset.value,
            "reference": payee.reference,
        }
    )


# -- paying -----------------------------------------------------------------------------------


def _request_hash(body: PaymentRequest) -> str:
    fields = [body.to.account, body.to.phone, body.to.khqr, body.amount, body.asset, body.memo]
    if body.claim_secret is not None:
        fields.append(body.claim_secret)
    return hashlib.sha256(msgspec.msgpack.encode(fields)).hexdigest()


#: The session of a token digest, its customer, and the state of the customer's submission
#: under an idempotency key, if any: everything a payment needs to know first, in one query.
_PAYER = (
    sa.select(
        *sessions.SESSION_COLUMNS, db.customers,
        db.submissions.c.state.label("submission_state"),
    )
    .select_from(
        db.sessions.join(db.customers, db.customers.c.id == db.sessions.c.customer_id).outerjoin(
            db.submissions,
            sa.and_(
                db.submissions.c.customer_id == db.sessions.c.customer_id,
                db.submissions.c.idempotency_key == sa.bindparam("b_key"),
            ),
        )
    )
    .where(db.sessions.c.token_hash == sa.bindparam("b_digest"))
)  # fmt: skip


def _payer(
    engine: Engine, token: str, key: str, now_ms: int
) -> tuple[sa.Row[Any], submission.State | None]:
    """The customer whose live session `token` is (else 401), and the state of a payment it
    already made with `key`."""
    digest = sessions.token_digest(token)
    with engine.connect() as connection:
        row = connection.execute(_PAYER, {"b_digest": digest, "b_key": key}).first()
    session = sessions.live_session(row, digest, now_ms)
    if row is None or session is None or session.role != "customer":
        raise sessions.unauthenticated()
    state = row.submission_state
    return row, None if state is None else submission.State(state)


def _refusal(engine: Engine, payee: Payee, now_ms: int) -> None:
    assert payee.qr is not None
    with engine.connect() as connection:
        refused = merchants.payment_refusal(
            connection, payee.qr, payee.reference, asset=payee.asset.value,
            amount=payee.amount, now_ms=now_ms,
        )  # fmt: skip
    if refused is not None:
        raise GatewayProblem(409, refused, _KHQR_MESSAGES.get(refused, "this KHQR cannot be paid"))


_KHQR_MESSAGES = {
    "khqr_paid": "this KHQR was already paid",
    "khqr_expired": "this KHQR has expired: ask for a new one",
    "khqr_amount_mismatch": "the amount or currency differs from the KHQR's",
}


def _signer(
    services: GatewayServices, customer: sa.Row[Any], payee: Payee, memo: str
) -> submission.Signer:
    def sign(created_ms: int, nonce: int) -> Transaction:
        key = custody.open_seed(services.kek, customer.account_id, customer.key_sealed)
        builder = TransactionBuilder(
            chain_id=services.chain_id, creator=customer.account_id,
            created_ms=created_ms, nonce=nonce,
        ).add(transfer(
            customer.account_id, payee.account_id, payee.asset, payee.amount,
            memo=memo, reference=payee.reference,
        ))  # fmt: skip
        return builder.sign(key)

    return sign


def _payer_pin(engine: Engine, customer: sa.Row[Any], pin: str, now_ms: int) -> None:
    """The PIN a payment carries, checked as a login's is; a right one clears the count."""
    check_pin(engine, customer, pin, now_ms)
    if customer.pin_failures:
        table = db.customers
        with engine.begin() as connection:
            connection.execute(
                table.update().where(table.c.id == customer.id).values(pin_failures=0)
            )


def _customer(engine: Engine, customer_id: int) -> sa.Row[Any]:
    with engine.connect() as connection:
        return customer_by_id(connection, customer_id)


def _not_signing(created_ms: int, nonce: int) -> Transaction:
    raise AssertionError("a submission already signed is never signed again")


async def pay(services: GatewayServices, request: Request) -> Response:
    """Pay an account, a phone number or a KHQR; a retry with the same key pays once."""
    token = sessions.bearer_token(request.headers.get("authorization"))
    if token is None:
        raise sessions.unauthenticated()
    # The body is read before the session is looked up, so that one query finds the session,
    # the payer and the key's submission; a bad body is still refused after a bad token.
    try:
        body = await read_json(request, PaymentRequest, limits.wallet_body_bytes_max)
    except GatewayProblem as problem:
        await services.db(_payer, services.engine, token, "", services.clock_ms())
        raise problem from None
    customer, state = await services.db(
        _payer, services.engine, token, body.idempotency_key, services.clock_ms()
    )
    if customer.custody != "custodial":
        raise GatewayProblem(409, "self_custody", "sign it yourself: POST /v1/payments/signed")
    if body.pin is not None:
        await services.db(_payer_pin, services.engine, customer, body.pin, services.clock_ms())
    request_hash = _request_hash(body)
    sign: submission.Signer = _not_signing
    if state in (None, submission.State.received):
        try:
            payee = await resolve(services, body.to, body.amount, body.asset)
        except GatewayProblem as problem:
            if problem.code != "recipient_not_found" or body.to.phone is None:
                raise
            return await _pay_claim(services, customer, body, request_hash)
        if payee.qr is not None:  # only a KHQR can be refused before signing
            await services.db(_refusal, services.engine, payee, services.clock_ms())
        sign = _signer(services, customer, payee, body.memo)
    submitted = await submission.submit(
        services, customer.id, body.idempotency_key, request_hash, sign, known_new=state is None
    )
    claim = None  # a retry's payment may be a claim's hold
    if sign is _not_signing:
        claim = await services.db(
            claims.claim_for_payment, services.engine, customer.id, body.idempotency_key
        )
    return await _answer(services, customer, submitted, claim)


async def _pay_claim(
    services: GatewayServices, customer: sa.Row[Any], body: PaymentRequest, request_hash: str
) -> Response:
    """A phone with no wallet at any bank: the money waits for its claim (`claims`)."""
    assert body.to.phone is not None and body.amount is not None and body.asset is not None
    outgoing = claims.Outgoing(
        body.to.phone, Asset(body.asset), body.amount, body.memo, body.claim_secret
    )
    sent, claim = await claims.send(
        services, customer, body.idempotency_key, request_hash, outgoing
    )
    return await _answer(services, customer, sent, claim)


async def pay_signed(services: GatewayServices, request: Request) -> Response:
    """A self-custody wallet's own signed transaction, relayed once per idempotency key."""
    session = await sessions.authenticate(services, request, "customer")
    body = await read_json(request, SignedPayment, limits.wallet_body_bytes_max)
    customer = await services.db(_customer, services.engine, session.customer_id)
    try:
        transaction = decode_transaction(bytes.fromhex(body.transaction))
    except (ValueError, DecodeError):
        raise GatewayProblem(400, "bad_request", "the transaction is not canonical hex") from None
    problem = custody.relay_problem(transaction, customer.account_id, customer.public_key)
    if problem is not None:
        raise GatewayProblem(403, "not_your_transaction", problem)
    request_hash = hashlib.sha256(body.transaction.encode()).hexdigest()
    submitted = await submission.submit(
        services, customer.id, body.idempotency_key, request_hash, lambda _t, _n: transaction
    )
    return await _answer(services, customer, submitted)


async def payment_status(services: GatewayServices, request: Request) -> Response:
    """Where a payment stands, by the idempotency key it was made with."""
    session = await sessions.authenticate(services, request, "customer")
    key = request.path_params["idempotency_key"]

    def load() -> submission.Submission | None:
        table = db.submissions
        with services.engine.connect() as connection:
            found = connection.execute(
                sa.select(table.c.id).where(
                    table.c.customer_id == session.customer_id, table.c.idempotency_key == key
                )
            ).scalar_one_or_none()
        return None if found is None else submission.load_submission(services.engine, found)

    found = await services.db(load)
    if found is None:
        raise GatewayProblem(404, "payment_not_found", "no payment has this idempotency key")
    customer = await services.db(_customer, services.engine, session.customer_id)
    claim = await services.db(claims.claim_for_payment, services.engine, customer.id, key)
    return await _answer(services, customer, found, claim)


# -- answers a person understands ---------------------------------------------------------------

_MESSAGES = {
    "insufficient_funds": "there is not enough money in the wallet",
    "target_account_not_found": "no wallet has this account ID",
    "account_not_found": "no wallet has this account ID",
    "source_account_not_active": "your wallet is frozen: contact the bank",
    "creator_not_active": "your wallet is frozen: contact the bank",
    "target_account_not_active": "the payee's wallet is frozen or closed",
    "balance_cap_exceeded": "the payee's wallet cannot hold that much",
}
_CODES = {
    "target_account_not_found": "recipient_not_found",
    "account_not_found": "recipient_not_found",
    "source_account_not_active": "account_frozen",
    "creator_not_active": "account_frozen",  # the payer signs its own transfer: checked first
    "target_account_not_active": "recipient_frozen",
}


def _spent_today(engine: Engine, account_id: str, asset: str, now_ms: int) -> int:
    table = db.history
    day = phnom_penh_day(now_ms)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.amount, table.c.time_ms).where(
                table.c.account_id == account_id, table.c.direction == "out",
                table.c.asset == asset, table.c.result == "ok",
                table.c.time_ms > now_ms - 2 * 86_400_000,
                # A claim's post: the ledger counted its hold, on the day it was placed.
                ~table.c.reference.startswith(claims.REFERENCE_PREFIX),
            )
        ).all()  # fmt: skip
        held = claims.held_today(connection, account_id, asset, now_ms)
    return held + sum(int(row.amount) for row in rows if phnom_penh_day(row.time_ms) == day)


async def _limit_details(
    services: GatewayServices, customer: sa.Row[Any], asset: str
) -> dict[str, Any]:
    policy = services.genesis.limits or DEFAULT_POLICY
    index = Asset(asset).index
    limit = daily_limit(policy, services.participant, KycTier(customer.tier), index)
    spent = await services.db(
        _spent_today, services.engine, customer.account_id, asset, services.clock_ms()
    )
    remaining = max(0, limit - spent)
    message = f"daily limit reached: {limit} {asset} a day, {remaining} {asset} remain today"
    return {"message": message, "limit": limit, "remaining": remaining, "asset": asset}


async def _answer(
    services: GatewayServices, customer: sa.Row[Any], found: submission.Submission,
    claim: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    view = found.view()
    if claim is not None:
        view = {**view, "claim": claim}
    if found.state is submission.State.committed:
        return json_response(view)
    if found.state is not submission.State.rejected:
        return json_response(view, 202)
    result = found.result or "rejected"
    error: dict[str, Any] = {
        "code": _CODES.get(result, result),
        "message": _MESSAGES.get(result, f"the ledger refused the payment: {result}"),
    }
    if result == "daily_limit_exceeded":
        asset = _asset_of(found)
        error.update(await _limit_details(services, customer, asset))
    return json_response({"error": error, "payment": view}, 422)


def _asset_of(found: submission.Submission) -> str:
    assert found.signed_tx is not None
    command = decode_transaction(found.signed_tx).payload.commands[0]
    assert isinstance(command, Transfer | PlaceHold), "a transfer, or a claim's hold"
    return command.asset.value


# -- scanning --------------------------------------------------------------------------------


async def scan(services: GatewayServices, request: Request) -> Response:
    """The KHQR string in an uploaded photo or screenshot (PNG or JPEG body)."""
    await sessions.authenticate(services, request, "customer")
    image = await read_body(request, limits.qr_upload_bytes_max)

    def read() -> list[str]:
        with PIL.Image.open(io.BytesIO(image)) as opened:
            return scan_image(opened)

    try:
        found = await services.db(read)
    except (PIL.UnidentifiedImageError, OSError, ValueError):
        raise GatewayProblem(400, "image_invalid", "the body is not a readable image") from None
    if not found:
        raise GatewayProblem(422, "qr_not_found", "no QR code was found in the image")
    return json_response({"khqr": found[0]})


def routes(services: GatewayServices) -> list[BaseRoute]:
    return [
        Route("/v1/payments/preview", bind(services, preview, Preview), methods=["POST"]),
        Route("/v1/payments", bind(services, pay, PaymentRequest), methods=["POST"]),
        Route("/v1/payments/signed", bind(services, pay_signed, SignedPayment), methods=["POST"]),
        Route("/v1/payments/scan", bind(services, scan), methods=["POST"]),
        Route("/v1/payments/{idempotency_key}", bind(services, payment_status), methods=["GET"]),
    ]
