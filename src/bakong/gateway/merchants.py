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
- The till (issue 16) also reads: the merchant's own profile (`GET /v1/merchant`), where one
  of its codes stands (`GET /v1/merchant/codes/{md5}`: paid, by which bank's customer), a
  day's sales with totals per currency (`GET /v1/merchant/sales?date=`: the calendar day in
  Asia/Phnom_Penh, as the ledger's daily limits count days; the totals count every payment,
  the list is bounded by `limits.merchant_sales_page_max`), and its static code as a printable
  card (`GET /v1/merchant/card.png`, `card.pdf`: `store_card`). A merchant's session reaches
  only its own account's rows: the account comes from the session, never from the request.
- Nothing here logs or returns a customer's personal data: a code carries the merchant's
  business name, which the merchant chose to print on its QR; a payer is shown by account ID
  and bank, as the ledger shows them.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.errors import QRInputError
from bakong.gateway import db, open_api, store_card, webhooks
from bakong.gateway.db import khqr_codes
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.sessions import authenticate
from bakong.khqr import Generated, Options, generate_merchant, verify
from bakong.khqr import tags as khqr_tags
from bakong.ledger.assets import Asset
from bakong.ledger.identifiers import participant_of
from bakong.qrimage.render import render_svg

if TYPE_CHECKING:
    from bakong.gateway.service import GatewayServices, Worker

__all__ = [
    "Merchant",
    "bank_name",
    "bill_number",
    "day_bounds_ms",
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
PHNOM_PENH = zoneinfo.ZoneInfo("Asia/Phnom_Penh")
_MD5 = re.compile(r"[0-9a-f]{32}")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


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
    name_km: str | None = None,
) -> None:
    """Make a local account a merchant with KHQR tag 30's merchant ID and acquiring bank, the
    city its codes print (tag 60; None prints the KHQR default, Phnom Penh) and its name in
    Khmer for the store card (None: the card shows the Latin name only). It gets the next
    numeric short code, which feature phones pay it by (`bakong.gateway.ussd`)."""
    highest = connection.execute(sa.select(sa.func.max(db.merchants.c.short_code))).scalar()
    connection.execute(
        sa.insert(db.merchants).values(
            short_code=max(limits.merchant_short_code_first, (highest or 0) + 1),
            account_id=account_id,
            merchant_id=merchant_id,
            acquiring_bank=acquiring_bank,
            webhook_url=None,
            webhook_secret=None,
            city=city,
            name_km=name_km,
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
    image: Annotated[str, msgspec.Meta(pattern=r"^svg$")] | None = None  # the code drawn too


class CodeAnswer(msgspec.Struct, frozen=True, omit_defaults=True):
    qr: str
    md5: str
    asset: str
    amount: int | None
    bill_number: str | None
    expires_ms: int | None
    svg: str | None = None  # the KHQR card (`bakong.qrimage`), when the request asked for it


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


# -- the till: profile, a code's state, the day's sales, the store card -----------------------


def bank_name(services: GatewayServices, account_id: str) -> str:
    """The name of the bank that holds `account_id` (its participant code if the genesis does
    not name it: a participant admitted later)."""
    code = participant_of(account_id)
    names = {participant.code: participant.name for participant in services.genesis.participants}
    return names.get(code, code.upper())


def day_bounds_ms(day: datetime.date) -> tuple[int, int]:
    """The first millisecond of `day` in Asia/Phnom_Penh and of the day after."""
    start = datetime.datetime.combine(day, datetime.time(), PHNOM_PENH)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), PHNOM_PENH)
    one_ms = datetime.timedelta(milliseconds=1)
    return (start - _EPOCH) // one_ms, (end - _EPOCH) // one_ms


def _profile(services: GatewayServices, customer_id: int) -> dict[str, Any]:
    with services.engine.connect() as connection:
        merchant = _merchant_of(connection, customer_id)
        name_km, short_code = connection.execute(
            sa.select(db.merchants.c.name_km, db.merchants.c.short_code).where(
                db.merchants.c.account_id == merchant.account_id
            )
        ).one()
    return {
        "account_id": merchant.account_id, "name": merchant.name, "name_km": name_km,
        "merchant_id": merchant.merchant_id, "acquiring_bank": merchant.acquiring_bank,
        "city": merchant.city, "short_code": short_code,
    }  # fmt: skip


def _payer(services: GatewayServices, account_id: str | None) -> dict[str, Any]:
    if account_id is None:
        return {"from": None, "from_bank": None}
    return {"from": account_id, "from_bank": bank_name(services, account_id)}


def _code_state(services: GatewayServices, customer_id: int, md5: str) -> dict[str, Any]:
    codes, h = khqr_codes, db.history
    with services.engine.connect() as connection:
        merchant = _merchant_of(connection, customer_id)
        row = connection.execute(
            sa.select(codes).where(codes.c.md5 == md5, codes.c.account_id == merchant.account_id)
        ).first()
        if row is None:  # or another merchant's: the same answer
            raise GatewayProblem(404, "code_not_found", "this till made no code with this md5")
        payer = None
        if row.paid_tx_hash is not None:
            payer = connection.execute(
                sa.select(h.c.counterparty).where(
                    h.c.tx_hash == row.paid_tx_hash, h.c.account_id == merchant.account_id
                )
            ).scalar()
    paid = row.paid_tx_hash is not None
    return {
        "md5": row.md5, "asset": row.asset, "amount": row.amount, "dynamic": bool(row.dynamic),
        "bill_number": row.bill_number, "expires_ms": row.expires_ms, "paid": paid,
        "tx_hash": bytes(row.paid_tx_hash).hex() if paid else None, **_payer(services, payer),
    }  # fmt: skip


class SalesQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    date: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] | None = None


def sales_day(query: SalesQuery, now_ms: int) -> datetime.date:
    """The day asked for, or today in Asia/Phnom_Penh."""
    if query.date is None:
        return datetime.datetime.fromtimestamp(now_ms // 1000, PHNOM_PENH).date()
    try:
        return datetime.date.fromisoformat(query.date)
    except ValueError:
        raise GatewayProblem(400, "bad_request", "date is a calendar day, YYYY-MM-DD") from None


def _sales(services: GatewayServices, customer_id: int, day: datetime.date) -> dict[str, Any]:
    start_ms, end_ms = day_bounds_ms(day)
    h = db.history
    with services.engine.connect() as connection:
        account_id = _merchant_of(connection, customer_id).account_id
        where = (
            h.c.account_id == account_id, h.c.direction == "in", h.c.result == "ok",
            h.c.time_ms >= start_ms, h.c.time_ms < end_ms,
        )  # fmt: skip
        sums = connection.execute(
            sa.select(h.c.asset, sa.func.sum(h.c.amount), sa.func.count())
            .where(*where)
            .group_by(h.c.asset)
        ).all()
        rows = connection.execute(
            sa.select(h).where(*where).order_by(h.c.id.desc()).limit(limits.merchant_sales_page_max)
        ).all()
    totals = {asset.value: {"amount": 0, "count": 0} for asset in (Asset.KHR, Asset.USD)}
    for asset, amount, count in sums:  # PostgreSQL sums a BIGINT as NUMERIC: back to int
        totals[asset] = {"amount": int(amount), "count": int(count)}
    payments = [
        {"tx_hash": bytes(r.tx_hash).hex(), "asset": r.asset, "amount": r.amount,
         "reference": r.reference, "time_ms": r.time_ms, **_payer(services, r.counterparty)}
        for r in rows
    ]  # fmt: skip
    complete = sum(total["count"] for total in totals.values()) == len(payments)
    return {"date": day.isoformat(), "timezone": "Asia/Phnom_Penh", "totals": totals,
            "payments": payments, "complete": complete}  # fmt: skip


def _store_card(services: GatewayServices, customer_id: int, asset: Asset) -> store_card.StoreCard:
    code = _create_code(services, customer_id, CodeRequest(asset=asset))
    profile = _profile(services, customer_id)
    return store_card.StoreCard(
        qr=code.qr, name=profile["name"], name_km=profile["name_km"],
        bank=profile["acquiring_bank"], account_id=profile["account_id"],
    )  # fmt: skip


class CardQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    asset: Asset = Asset.KHR


def _query(request: Request, kind: type[msgspec.Struct]) -> Any:
    try:
        return msgspec.convert(dict(request.query_params), kind, strict=False)
    except msgspec.ValidationError as error:
        raise GatewayProblem(400, "bad_request", str(error)) from None


def workers(services: GatewayServices) -> list[Worker]:
    """The webhook sender, started with the app."""
    return [lambda: webhooks.run_worker(services.engine, services.clock_ms)]


def _till_routes(services: GatewayServices) -> list[BaseRoute]:
    """What the till's page reads: the profile, a code's state, the sales, the store card."""

    async def profile(request: Request) -> Response:
        """The till's merchant: its names, account, merchant ID, bank and city."""
        session = await authenticate(services, request, "merchant")
        return json_response(await services.db(_profile, services, session.customer_id))

    async def code_state(request: Request) -> Response:
        """Where one of the till's codes stands: paid or not, and by which bank's customer."""
        session = await authenticate(services, request, "merchant")
        md5 = request.path_params["md5"]
        if not _MD5.fullmatch(md5):
            raise GatewayProblem(404, "code_not_found", "this till made no code with this md5")
        return json_response(await services.db(_code_state, services, session.customer_id, md5))

    async def sales(request: Request) -> Response:
        """A day's sales (today by default, in Asia/Phnom_Penh) with totals per currency."""
        session = await authenticate(services, request, "merchant")
        day = sales_day(_query(request, SalesQuery), services.clock_ms())
        return json_response(await services.db(_sales, services, session.customer_id, day))

    def card(kind: str, render: Any, media_type: str) -> Any:
        async def endpoint(request: Request) -> Response:
            session = await authenticate(services, request, "merchant")
            query = _query(request, CardQuery)
            made = await services.db(_store_card, services, session.customer_id, query.asset)
            headers = {
                "content-disposition": f'attachment; filename="khqr-store-card.{kind}"',
                "cache-control": "no-store",
            }
            return Response(await services.db(render, made), media_type=media_type, headers=headers)

        endpoint.__doc__ = f"The merchant's static KHQR as a printable card ({kind.upper()})."
        endpoint.__name__ = f"card_{kind}"
        return endpoint

    return [
        Route("/v1/merchant", profile, methods=["GET"]),
        Route("/v1/merchant/codes/{md5}", code_state, methods=["GET"]),
        Route("/v1/merchant/sales", sales, methods=["GET"]),
        Route(
            "/v1/merchant/card.png",
            card("png", store_card.render_png, "image/png"),
            methods=["GET"],
        ),
        Route(
            "/v1/merchant/card.pdf",
            card("pdf", store_card.render_pdf, "application/pdf"),
            methods=["GET"],
        ),
    ]


def routes(services: GatewayServices) -> list[BaseRoute]:
    """The till's routes; also installs the projection hook that queues webhooks."""
    services.hooks.payments_applied.append(webhooks.on_payments_applied)

    async def create_code(request: Request) -> Response:
        session = await authenticate(services, request, "merchant")
        body = await read_json(request, CodeRequest, limits.merchant_body_bytes_max)
        answer = await services.db(_create_code, services, session.customer_id, body)
        if body.image == "svg":  # the till's page shows a code it cannot draw itself
            answer = msgspec.structs.replace(answer, svg=await services.db(render_svg, answer.qr))
        return json_response(answer)

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
        *_till_routes(services),
        Route("/v1/merchant/payments", payments, methods=["GET"]),
        Route("/v1/merchant/webhook", set_webhook, methods=["PUT"]),
        Route("/v1/merchant/webhook/deliveries", deliveries, methods=["GET"]),
        Route("/v1/merchant/open-api-tokens", open_api_token, methods=["POST"]),
    ]
