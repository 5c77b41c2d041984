"""Merchants: their KHQR codes, which codes are paid, and the till's routes.

A merchant is a ledger account of kind `merchant` at this bank, with a row in `merchants` giving
the KHQR tag 30 fields (merchant ID, acquiring bank). Its codes are made by `bakong.khqr`
exactly as NBC's SDK makes them, and each is kept in `khqr_codes` under its md5, which is what a
payer's gateway writes into the transfer's `reference`.

Rules:
- A static code carries no amount and no expiry; it can be paid any number of times, and the
  Open API answers "static QR" for its md5 (NBC's errorCode 2).
- A dynamic code carries an amount, a bill number drawn at random (unique per code) and an
  expiry between `limits.khqr_expiry_ms_min` and `limits.khqr_expiry_ms_max` (NBC: at most
  10 minutes). It is paid at most once and never after its expiry: a gateway refuses to pay an
  expired or paid code it knows (`payment_refusal`), and the projection marks a code paid on
  the first committed transfer to its account with its md5 as reference, the same asset and
  amount, and a block time not past the expiry (`projection.mark_khqr_paid`). A later
  transfer that names the same md5 (another bank's customer paying a screenshot) is an
  ordinary payment and does not change which transaction paid the code.
- Amounts are integers in minor units; the only float made here is the KHQR amount the SDK's
  generator takes, exact for every cent amount below 2**53.
- Nothing here logs or returns a customer's personal data: a code carries the merchant's
  business name, which the merchant chose to print on its QR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.errors import QRInputError
from bakong.gateway import db, open_api, webhooks
from bakong.gateway.db import khqr_codes
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.sessions import authenticate
from bakong.khqr import Generated, Options, generate_merchant, verify
from bakong.khqr import tags as khqr_tags
from bakong.ledger.assets import Asset

if TYPE_CHECKING:
    from bakong.gateway.service import GatewayServices, Worker

__all__ = [
    "Merchant",
    "bill_number",
    "code_refusal",
    "dynamic_code",
    "expiry_ms",
    "khqr_amount",
    "payment_refusal",
    "register_merchant",
    "routes",
    "static_code",
    "workers",
    "store_code",
]

_EXPIRED_CODE = 46  # the SDK's KHQR_EXPIRED verdict


class Merchant(msgspec.Struct, frozen=True, kw_only=True):
    """What a merchant's KHQR carries: tag 30's account, merchant ID, acquiring bank; 59, 60."""

    account_id: str
    name: str
    city: str | None
    merchant_id: str
    acquiring_bank: str


def khqr_amount(asset: Asset, amount: int) -> float:
    """The number the KHQR generator takes for `amount` minor units (450 USD cents: 4.5)."""
    assert amount > 0, "a KHQR amount is positive"
    minor_per_major: int = 10**asset.exponent
    return amount / minor_per_major


def _currency(asset: Asset) -> int:
    return khqr_tags.KHR if asset is Asset.KHR else khqr_tags.USD


def static_code(merchant: Merchant, asset: Asset, *, now_ms: int) -> Generated:
    """The merchant's static KHQR in `asset`: the payer types the amount."""
    return generate_merchant(
        merchant.account_id,
        merchant.name,
        merchant.city,
        merchant.merchant_id,
        merchant.acquiring_bank,
        Options(currency=_currency(asset)),
        now_ms=now_ms,
    )


def dynamic_code(
    merchant: Merchant,
    asset: Asset,
    amount: int,
    *,
    bill: str,
    expires_ms: int,
    now_ms: int,
) -> Generated:
    """A one-time KHQR for `amount` minor units of `asset`, with bill number and expiry."""
    options = Options(
        currency=_currency(asset),
        amount=khqr_amount(asset, amount),
        bill_number=bill,
        expiration_timestamp=expires_ms,
    )
    return generate_merchant(
        merchant.account_id,
        merchant.name,
        merchant.city,
        merchant.merchant_id,
        merchant.acquiring_bank,
        options,
        now_ms=now_ms,
    )


def bill_number(random: bytes) -> str:
    """A bill number from `limits.bill_number_bytes` random bytes: unique per code in practice."""
    assert len(random) == limits.bill_number_bytes, "a bill number takes bill_number_bytes"
    return random.hex()


def expiry_ms(now_ms: int, lifetime_ms: int | None) -> int:
    """When a dynamic code made at `now_ms` expires; the lifetime must be within the limits."""
    lifetime = limits.khqr_expiry_ms_default if lifetime_ms is None else lifetime_ms
    if not limits.khqr_expiry_ms_min <= lifetime <= limits.khqr_expiry_ms_max:
        raise GatewayProblem(400, "bad_request", "a dynamic KHQR lives 30 s to 10 minutes")
    return now_ms + lifetime


class _Code(msgspec.Struct, frozen=True):
    dynamic: bool
    asset: str
    amount: int | None
    expires_ms: int | None
    paid: bool


def code_refusal(code: _Code, *, asset: str, amount: int, now_ms: int) -> str | None:
    """Why a payment of `amount` `asset` to this known code is refused, or None if it may go.

    The codes are the wallet API's: `khqr_paid`, `khqr_expired`, `khqr_amount_mismatch`.
    """
    if not code.dynamic:
        return None if asset == code.asset else "khqr_amount_mismatch"
    if code.paid:
        return "khqr_paid"
    if code.expires_ms is not None and now_ms > code.expires_ms:
        return "khqr_expired"
    if asset != code.asset or amount != code.amount:
        return "khqr_amount_mismatch"
    return None


def payment_refusal(
    connection: Connection, qr: str, md5: str, *, asset: str, amount: int, now_ms: int
) -> str | None:
    """Why paying scanned KHQR `qr` (md5 `md5`) is refused, or None.

    Any dynamic code past the expiry in its tag 99 is refused, whoever made it; a code this
    gateway made is also refused once paid, and when the amount or asset differs.
    """
    if verify(qr, now_ms=now_ms).error_code == _EXPIRED_CODE:
        return "khqr_expired"
    codes = khqr_codes
    row = connection.execute(
        sa.select(
            codes.c.dynamic, codes.c.asset, codes.c.amount, codes.c.expires_ms, codes.c.paid_tx_hash
        ).where(codes.c.md5 == md5)
    ).first()
    if row is None:
        return None
    code = _Code(
        bool(row.dynamic), row.asset, row.amount, row.expires_ms, row.paid_tx_hash is not None
    )
    return code_refusal(code, asset=asset, amount=amount, now_ms=now_ms)


def store_code(
    connection: Connection,
    generated: Generated,
    *,
    account_id: str,
    asset: Asset,
    amount: int | None,
    bill: str | None,
    expires_ms: int | None,
    now_ms: int,
) -> None:
    """Keep a code the merchant made, under its md5."""
    connection.execute(
        sa.insert(khqr_codes).values(
            md5=generated.md5,
            account_id=account_id,
            qr=generated.qr,
            dynamic=int(amount is not None),
            amount=amount,
            asset=asset.value,
            bill_number=bill,
            expires_ms=expires_ms,
            paid_tx_hash=None,
            created_ms=now_ms,
        )
    )


# -- the merchant's till: routes ------------------------------------------------------------


def register_merchant(
    connection: Connection,
    account_id: str,
    *,
    merchant_id: str,
    acquiring_bank: str,
    city: str | None = None,
) -> None:
    """Make a local account a merchant with KHQR tag 30's merchant ID and acquiring bank, and
    the city its codes print (tag 60; None prints the KHQR default, Phnom Penh)."""
    connection.execute(
        sa.insert(db.merchants).values(
            account_id=account_id,
            merchant_id=merchant_id,
            acquiring_bank=acquiring_bank,
            webhook_url=None,
            webhook_secret=None,
            city=city,
        )
    )


Amount = Annotated[int, msgspec.Meta(gt=0, le=limits.amount_max)]


class CodeRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A code for the till: static without an amount, dynamic with one."""

    asset: Asset
    amount: Amount | None = None
    expires_in_ms: (
        Annotated[int, msgspec.Meta(ge=limits.khqr_expiry_ms_min, le=limits.khqr_expiry_ms_max)]
        | None
    ) = None


class CodeAnswer(msgspec.Struct, frozen=True):
    qr: str
    md5: str
    asset: str
    amount: int | None
    bill_number: str | None
    expires_ms: int | None


class WebhookRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(max_length=limits.webhook_url_chars_max, pattern="^https?://")]


def _merchant_of(connection: Connection, customer_id: int) -> Merchant:
    row = connection.execute(
        sa.select(db.customers.c.account_id, db.customers.c.name, db.merchants)
        .join(db.merchants, db.merchants.c.account_id == db.customers.c.account_id)
        .where(db.customers.c.id == customer_id)
    ).first()
    if row is None:
        raise GatewayProblem(403, "not_a_merchant", "this account is not a merchant")
    # The business name is printed on the code: KHQR keeps the first 25 characters.
    name = row.name[: khqr_tags.merchant_name_chars_max]
    return Merchant(
        account_id=row.account_id,
        name=name,
        city=row.city,
        merchant_id=row.merchant_id,
        acquiring_bank=row.acquiring_bank,
    )


def _create_code(services: GatewayServices, customer_id: int, body: CodeRequest) -> CodeAnswer:
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        merchant = _merchant_of(connection, customer_id)
        bill = expires = None
        if body.amount is None:
            code = static_code(merchant, body.asset, now_ms=now_ms)
        else:
            bill = bill_number(services.random_bytes(limits.bill_number_bytes))
            expires = expiry_ms(now_ms, body.expires_in_ms)
            try:
                code = dynamic_code(
                    merchant, body.asset, body.amount, bill=bill, expires_ms=expires, now_ms=now_ms
                )
            except QRInputError as error:  # e.g. an amount longer than KHQR's 13 characters
                raise GatewayProblem(400, "bad_request", error.message) from None
        stored = connection.execute(
            sa.select(khqr_codes.c.md5).where(khqr_codes.c.md5 == code.md5)
        ).first()
        if stored is None:  # a static code made twice is the same string
            store_code(
                connection,
                code,
                account_id=merchant.account_id,
                asset=body.asset,
                amount=body.amount,
                bill=bill,
                expires_ms=expires,
                now_ms=now_ms,
            )
    return CodeAnswer(code.qr, code.md5, body.asset.value, body.amount, bill, expires)


def _payments(services: GatewayServices, customer_id: int, limit: int) -> list[dict[str, Any]]:
    with services.engine.connect() as connection:
        merchant = _merchant_of(connection, customer_id)
        h = db.history
        rows = connection.execute(
            sa.select(h)
            .where(h.c.account_id == merchant.account_id, h.c.direction == "in")
            .order_by(h.c.id.desc())
            .limit(limit)
        )
        return [
            {
                "hash": bytes(r.tx_hash).hex(),
                "height": r.height,
                "from": r.counterparty,
                "asset": r.asset,
                "amount": r.amount,
                "reference": r.reference,
                "result": r.result,
                "time_ms": r.time_ms,
            }
            for r in rows
        ]


def _set_webhook(services: GatewayServices, customer_id: int, url: str) -> str:
    secret = services.random_bytes(limits.webhook_secret_bytes).hex()
    with services.engine.begin() as connection:
        merchant = _merchant_of(connection, customer_id)
        connection.execute(
            sa.update(db.merchants)
            .where(db.merchants.c.account_id == merchant.account_id)
            .values(webhook_url=url, webhook_secret=secret)
        )
    return secret


def _limit(request: Request) -> int:
    text = request.query_params.get("limit", str(limits.merchant_payments_page_max))
    if not text.isdigit() or not 0 < int(text) <= limits.merchant_payments_page_max:
        raise GatewayProblem(400, "bad_request", "limit is 1 to merchant_payments_page_max")
    return int(text)


def workers(services: GatewayServices) -> list[Worker]:
    """The webhook sender, started with the app."""
    return [lambda: webhooks.run_worker(services.engine, services.clock_ms)]


def routes(services: GatewayServices) -> list[BaseRoute]:
    """The till's routes; also installs the projection hook that queues webhooks."""
    services.hooks.payment_applied.append(webhooks.on_payment_applied)

    async def create_code(request: Request) -> Response:
        session = await authenticate(services, request, "merchant")
        body = await read_json(request, CodeRequest, limits.merchant_body_bytes_max)
        return json_response(await services.db(_create_code, services, session.customer_id, body))

    async def payments(request: Request) -> Response:
        session = await authenticate(services, request, "merchant")
        rows = await services.db(_payments, services, session.customer_id, _limit(request))
        return json_response({"payments": rows})

    async def set_webhook(request: Request) -> Response:
        session = await authenticate(services, request, "merchant")
        body = await read_json(request, WebhookRequest, limits.merchant_body_bytes_max)
        secret = await services.db(_set_webhook, services, session.customer_id, body.url)
        return json_response({"secret": secret})  # shown once, to the merchant

    async def deliveries(request: Request) -> Response:
        session = await authenticate(services, request, "merchant")

        def read() -> list[webhooks.Delivery]:
            with services.engine.connect() as connection:
                account = _merchant_of(connection, session.customer_id).account_id
                return webhooks.delivery_log(connection, account, _limit(request))

        return json_response({"deliveries": await services.db(read)})

    async def open_api_token(request: Request) -> Response:
        session = await authenticate(services, request, "merchant")

        def issue() -> str:
            with services.engine.begin() as connection:
                account = _merchant_of(connection, session.customer_id).account_id
                return open_api.issue_token(
                    connection,
                    account,
                    now_ms=services.clock_ms(),
                    random_bytes=services.random_bytes,
                )

        return json_response({"token": await services.db(issue)})

    return [
        Route("/v1/merchant/codes", create_code, methods=["POST"]),
        Route("/v1/merchant/payments", payments, methods=["GET"]),
        Route("/v1/merchant/webhook", set_webhook, methods=["PUT"]),
        Route("/v1/merchant/webhook/deliveries", deliveries, methods=["GET"]),
        Route("/v1/merchant/open-api-tokens", open_api_token, methods=["POST"]),
    ]
