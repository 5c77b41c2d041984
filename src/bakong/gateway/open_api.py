"""The Bakong Open API facade: NBC's merchant endpoints, answered from this gateway's store.

Mounted at `/openapi/v1`, so a merchant integration written for `https://api-bakong.nbc.gov.kh/v1`
works by changing only its base URL (`docs/open-api.md` lists where we differ and why).

Rules:
- Same envelope as NBC: `{"responseCode": 0|1, "responseMessage", "errorCode": null|int,
  "data"}`; same endpoint names, field names (`md5`, `hash`, `accountId`, `externalRef`,
  `instructionRef`) and error codes: 1 not found, 2 static QR, 3 failed, 5 missing or malformed
  fields, 6 unauthorized, 11 account not found, 12 account ID invalid. A lookup answers HTTP
  200 whether found or not, as NBC's does; a bad body is 400 and a bad token 401.
- Amounts are JSON numbers in major units here and only here: USD cents 450 are `4.5`
  (always written with a fraction, as NBC's 1.0.2 sample writes `1.0`), KHR 4400 is `4400`.
  The conversion is exact: a cent amount below 2**53 divided by 100 prints as its decimal.
  Amounts coming in (the short-hash check) are read as decimals, never as binary floats.
- Bearer tokens are issued to a merchant account (`issue_token`), shown once, stored as their
  SHA-256, and expire after `limits.open_api_token_lifetime_ms` (90 days, as NBC's). A token
  sees only transactions its merchant's account is party to: every query is filtered by that
  account, so another merchant's hash or md5 answers "not found", never "forbidden".
- Answers come from the projection (`history`, `khqr_codes`), which holds only committed,
  verified transactions; `check_bakong_account` asks the core whether an account exists.
- Bodies are bounded (`limits.open_api_body_bytes_max`, fields `open_api_field_chars_max`,
  lists `open_api_list_max`) and decoded strictly. Tokens never appear in a log or an answer
  other than the one that issues them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from bakong import limits
from bakong.client.errors import NotFound
from bakong.gateway.db import api_tokens, history, khqr_codes
from bakong.gateway.problems import GatewayProblem, json_response, read_body
from bakong.ledger.assets import Asset
from bakong.ledger.identifiers import is_account_id

if TYPE_CHECKING:
    from bakong.gateway.service import GatewayServices

__all__ = [
    "Envelope",
    "Transaction",
    "amount_number",
    "issue_token",
    "merchant_for_token",
    "minor_units",
    "routes",
]

_PREFIX = "boa_"  # recognisable in a secret scanner; never "rbk" (a relay token to clients)

MESSAGES = {
    1: "Transaction could not be found. Please check and try again.",
    2: "Sorry, the system does not support static QR code.",
    3: "Transaction failed.",
    5: "Missing required fields.",
    6: "Unauthorized, not yet requested for token or code invalid",
    11: "Account ID not found.",
    12: "Account ID is invalid.",
}
_STATUS_OF_ERROR = {1: "NOT_FOUND", 2: "STATIC_QR", 3: "FAILED"}

Field = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.open_api_field_chars_max)]
FieldList = Annotated[list[Field], msgspec.Meta(max_length=limits.open_api_list_max)]


class Envelope(msgspec.Struct, frozen=True, rename="camel"):
    """NBC's answer envelope."""

    response_code: int
    response_message: str
    error_code: int | None
    data: Any


class Transaction(msgspec.Struct, frozen=True, rename="camel"):
    """NBC's transaction object, in the production shape (API-DOC 1.0.2's fields first)."""

    hash: str
    from_account_id: str
    to_account_id: str
    currency: str
    amount: int | float
    description: str | None
    created_date_ms: int
    acknowledged_date_ms: int
    tracking_status: str | None
    receiver_bank: str | None
    receiver_bank_account: str | None
    instruction_ref: str | None
    external_ref: str | None


class Md5Body(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    md5: Field


class HashBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    hash: Field


class ShortHashBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    hash: Field
    amount: Decimal
    currency: Field


class AccountBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    account_id: Field


class ExternalRefBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    external_ref: Field


class InstructionRefBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    instruction_ref: Field


class RenewBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Field | None = None  # NBC's renewal names the e-mail; ours names the bearer token


def amount_number(asset: str, amount: int) -> int | float:
    """The Open API's number for `amount` minor units: USD 450 is 4.5, KHR 4400 is 4400."""
    exponent = Asset(asset).exponent
    return amount / 10**exponent if exponent else amount


def minor_units(currency: str, amount: Decimal) -> int | None:
    """The minor units of an Open API amount, or None if it has more decimals than the asset."""
    try:
        scaled = amount.scaleb(Asset(currency).exponent)
    except (ValueError, InvalidOperation):
        return None
    if not scaled.is_finite() or scaled != scaled.to_integral_value() or scaled <= 0:
        return None
    return int(scaled)


def _ok(data: Any, message: str = "Getting transaction successfully.") -> Envelope:
    return Envelope(0, message, None, data)


def _fail(error_code: int) -> Envelope:
    return Envelope(1, MESSAGES[error_code], error_code, None)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    connection: Connection,
    merchant_account: str,
    *,
    now_ms: int,
    random_bytes: Callable[[int], bytes],
) -> str:
    """A new Open API token for `merchant_account`; only its hash is kept."""
    raw = random_bytes(limits.open_api_token_bytes)
    token = _PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    connection.execute(
        sa.insert(api_tokens).values(
            token_hash=_token_digest(token),
            merchant_account=merchant_account,
            expires_ms=now_ms + limits.open_api_token_lifetime_ms,
            created_ms=now_ms,
        )
    )
    return token


def merchant_for_token(connection: Connection, token: str, *, now_ms: int) -> str | None:
    """The merchant account a live token belongs to, or None."""
    row = connection.execute(
        sa.select(api_tokens.c.merchant_account, api_tokens.c.expires_ms).where(
            api_tokens.c.token_hash == _token_digest(token)
        )
    ).first()
    if row is None or now_ms >= row.expires_ms:
        return None
    return str(row.merchant_account)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token.startswith(_PREFIX) else None


def _transaction(row: Row[Any]) -> Transaction:
    """NBC's object for one history row (the merchant's side of a transfer)."""
    incoming = row.direction == "in"
    source, target = (
        (row.counterparty, row.account_id) if incoming else (row.account_id, row.counterparty)
    )
    return Transaction(
        hash=bytes(row.tx_hash).hex(),
        from_account_id=source,
        to_account_id=target,
        currency=row.asset,
        amount=amount_number(row.asset, row.amount),
        description=row.memo or None,
        created_date_ms=row.time_ms,
        acknowledged_date_ms=row.time_ms,
        tracking_status=None,
        receiver_bank=target.rpartition("@")[2],
        receiver_bank_account=None,
        instruction_ref=row.reference or None,
        external_ref=row.external_ref or None,
    )


def _first(connection: Connection, merchant: str, *conditions: Any) -> Envelope:
    """The merchant's first history entry matching `conditions`, as an answer."""
    row = connection.execute(
        sa.select(history)
        .where(history.c.account_id == merchant, *conditions)
        .order_by(history.c.height, history.c.tx_index, history.c.command_index)
        .limit(1)
    ).first()
    if row is None:
        return _fail(1)
    if row.result != "ok":
        return _fail(3)
    return _ok(_transaction(row))


def by_md5(connection: Connection, merchant: str, md5: str) -> Envelope:
    """The transaction that paid the merchant's dynamic code `md5`."""
    code = connection.execute(
        sa.select(khqr_codes.c.dynamic, khqr_codes.c.paid_tx_hash).where(
            khqr_codes.c.md5 == md5.lower(), khqr_codes.c.account_id == merchant
        )
    ).first()
    if code is not None and not code.dynamic:
        return _fail(2)
    if code is not None:
        if code.paid_tx_hash is None:
            return _fail(1)
        return _first(connection, merchant, history.c.tx_hash == code.paid_tx_hash)
    # A code made outside this gateway (by the merchant's own KHQR tooling): its payment.
    return _first(
        connection, merchant, history.c.reference == md5.lower(), history.c.direction == "in"
    )


def by_hash(connection: Connection, merchant: str, hash_hex: str) -> Envelope:
    try:
        tx_hash = bytes.fromhex(hash_hex)
    except ValueError:
        return _fail(1)
    return _first(connection, merchant, history.c.tx_hash == tx_hash)


def by_short_hash(connection: Connection, merchant: str, body: ShortHashBody) -> Envelope:
    """A transaction by the first 8 hex digits of its hash, its amount and its currency."""
    if body.currency not in {asset.value for asset in Asset}:
        return _fail(5)
    amount = minor_units(body.currency, body.amount)
    prefix = body.hash.lower()
    if amount is None or len(prefix) != 8:
        return _fail(1)
    rows = connection.execute(
        sa.select(history)
        .where(
            history.c.account_id == merchant,
            history.c.asset == body.currency,
            history.c.amount == amount,
        )
        .order_by(history.c.id.desc())
        .limit(limits.open_api_short_hash_candidates_max)
    )
    for row in rows:
        if bytes(row.tx_hash).hex().startswith(prefix):
            return _ok(_transaction(row)) if row.result == "ok" else _fail(3)
    return _fail(1)


def _list_item(key: str, value: str, answer: Envelope) -> dict[str, Any]:
    status = "SUCCESS" if answer.error_code is None else _STATUS_OF_ERROR[answer.error_code]
    return {key: value, "status": status, "message": answer.response_message, "data": answer.data}


def by_list(
    connection: Connection,
    merchant: str,
    key: str,
    values: Sequence[str],
    lookup: Callable[[Connection, str, str], Envelope],
) -> Envelope:
    """The bulk checks: one item per md5 or hash, in the order asked."""
    items = [_list_item(key, value, lookup(connection, merchant, value)) for value in values]
    return _ok(items)


_Handler = Callable[["GatewayServices", str, Any], Awaitable[Envelope]]
_Lookup = Callable[[Connection, str, Any], Envelope]


def _decode(body: bytes, kind: Any) -> Any:
    try:
        return msgspec.json.decode(body, type=kind, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _endpoint(
    services: GatewayServices, kind: Any, handler: _Handler
) -> Callable[[Request], Awaitable[Response]]:
    """A POST handler: bearer token, bounded strict body, then `handler`."""

    async def endpoint(request: Request) -> Response:
        token = _bearer(request)
        now_ms = services.clock_ms()

        def merchant() -> str | None:
            with services.engine.connect() as connection:
                return merchant_for_token(connection, token, now_ms=now_ms) if token else None

        account = await run_in_threadpool(merchant)
        if account is None:
            return json_response(_fail(6), 401)
        try:
            body = _decode(await read_body(request, limits.open_api_body_bytes_max), kind)
        except GatewayProblem:
            body = None
        if body is None:
            return json_response(_fail(5), 400)
        return json_response(await handler(services, account, body))

    return endpoint


def _in_thread(lookup: _Lookup) -> _Handler:
    """A handler running `lookup` on one connection in the thread pool."""

    async def handler(services: GatewayServices, merchant: str, body: Any) -> Envelope:
        def run() -> Envelope:
            with services.engine.connect() as connection:
                return lookup(connection, merchant, body)

        return await run_in_threadpool(run)

    return handler


def _md5(connection: Connection, merchant: str, body: Md5Body | str) -> Envelope:
    # pybakong sends the md5 as a bare JSON string rather than {"md5": ...}; both are read.
    return by_md5(connection, merchant, body if isinstance(body, str) else body.md5)


def _hash(connection: Connection, merchant: str, body: HashBody | str) -> Envelope:
    return by_hash(connection, merchant, body if isinstance(body, str) else body.hash)


def _md5_list(connection: Connection, merchant: str, body: list[str]) -> Envelope:
    return by_list(connection, merchant, "md5", body, by_md5)


def _hash_list(connection: Connection, merchant: str, body: list[str]) -> Envelope:
    return by_list(connection, merchant, "hash", body, by_hash)


def _external(connection: Connection, merchant: str, body: ExternalRefBody) -> Envelope:
    return _first(connection, merchant, history.c.external_ref == body.external_ref)


def _instruction(connection: Connection, merchant: str, body: InstructionRefBody) -> Envelope:
    return _first(connection, merchant, history.c.reference == body.instruction_ref)


async def _renew(services: GatewayServices, merchant: str, _body: RenewBody) -> Envelope:
    """A new token for the bearer's merchant (NBC renews by e-mail; we have none to trust)."""

    def run() -> str:
        with services.engine.begin() as connection:
            return issue_token(
                connection, merchant, now_ms=services.clock_ms(), random_bytes=services.random_bytes
            )

    return _ok({"token": await run_in_threadpool(run)}, "Token has been issued")


async def _check_account(services: GatewayServices, _merchant: str, body: AccountBody) -> Envelope:
    """Whether an account exists on the ledger, at any bank (NBC's check_bakong_account)."""
    if not is_account_id(body.account_id):
        return _fail(12)
    try:
        await services.core.account(body.account_id)
    except NotFound:
        return _fail(11)
    return _ok(None, "Account ID exists")


def routes(services: GatewayServices) -> list[BaseRoute]:
    """The Open API's routes, under `/openapi/v1`."""
    table: list[tuple[str, Any, _Handler]] = [
        ("check_transaction_by_md5", Md5Body | str, _in_thread(_md5)),
        ("check_transaction_by_hash", HashBody | str, _in_thread(_hash)),
        ("check_transaction_by_short_hash", ShortHashBody, _in_thread(by_short_hash)),
        ("check_transaction_by_md5_list", FieldList, _in_thread(_md5_list)),
        ("check_transaction_by_hash_list", FieldList, _in_thread(_hash_list)),
        ("check_transaction_by_external_ref", ExternalRefBody, _in_thread(_external)),
        ("check_transaction_by_instruction_ref", InstructionRefBody, _in_thread(_instruction)),
        ("check_bakong_account", AccountBody, _check_account),
        ("renew_token", RenewBody, _renew),
    ]
    inner = [
        Route(
            f"/{name}",
            _endpoint(services, kind, handler),
            methods=["POST"],
            name=f"open_api_{name}",
        )
        for name, kind, handler in table
    ]
    return [Mount("/openapi/v1", routes=inner)]
