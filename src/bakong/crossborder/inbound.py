"""Inbound: a visitor's wallet abroad pays a Cambodian merchant's KHQR through the link.

The foreign switch calls the link's ISO routes, each body signed by its key (the caller is
the corridor whose `switch_key` it is; every answer is signed with the link's ISO key):
- `POST /iso/lookup`: the KHQR is verified as the NBC SDK would (`bakong.khqr.verify`) and
  decoded; the merchant is the ledger account the code names, checked through its bank's
  gateway party lookup when the bank publishes a gateway (404 there: `merchant_not_found`),
  and its participant must be active. The answer carries the code's currency (KHR or USD)
  and amount (null for a static code).
- `POST /iso/pacs008`: pays the merchant (`creditor_id`) from the corridor's ledger account,
  in the code's currency, with the KHQR's md5 (`remittance`) as the transfer's reference and
  the end-to-end id as its external reference, so the merchant's till, webhooks and Open API
  see it as any KHQR payment. A pacs.008 in the corridor's own currency (a static code: the
  visitor typed a foreign amount) is converted to riel at the corridor's inbound rate (less
  the spread, rounded down); the settlement amount (what the nostro moves by) is kept for the
  reconciliation. Idempotent on `end_to_end_id`: the transfer is signed and
  stored with the id before it is sent, the same message again answers its status, the id
  with other content is 409 `end_to_end_id_reused`. The answer waits up to
  `limits.link_answer_wait_s` for the ledger (ACCC or RJCT), else ACSP (ask again).
- `GET /iso/pacs002/{e2e}`: the status. `POST /iso/camt056`: a recall. A credit to a
  merchant is final on the ledger (only the merchant can send money back), so a recall of a
  completed payment is REJECTED; of a refused one ACCEPTED; of an id never seen ACCEPTED and
  the id closed (a late pacs.008 with it is refused).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response

from bakong import khqr, limits
from bakong.client import transaction_bytes, transfer
from bakong.client.responses import ParticipantInfo
from bakong.crossborder import store
from bakong.crossborder.callers import corridor_of_switch
from bakong.crossborder.ledger import resubmit, sign
from bakong.crossborder.messages import (
    MINOR_UNITS,
    Camt029,
    Camt056,
    IsoProblem,
    Lookup,
    LookupAnswer,
    Pacs002,
    Pacs008,
    decode,
    encode,
    sign_body,
)
from bakong.crossborder.outbound import current_rate
from bakong.crossborder.quote import base_rate, inbound_rate, khr_to_pay
from bakong.crossborder.service import LinkServices
from bakong.gateway.problems import read_body
from bakong.ledger.identifiers import is_account_id, participant_of
from bakong.ledger.transaction import transaction_hash
from bakong.wire.request import sign_request

__all__ = ["iso_response", "routes_table", "sweep"]

log = logging.getLogger(__name__)

_CURRENCIES = {"116": "KHR", "840": "USD"}
#: The ledger's result codes of a failed payout, as ISO reasons.
_REASONS = {"insufficient_funds": "AM04", "account_not_found": "AC01",
            "target_account_not_found": "AC01", "target_account_not_active": "AC06",
            "source_account_not_active": "AG01", "daily_limit_exceeded": "AM02"}  # fmt: skip


def iso_response(services: LinkServices, message: Any, status: int = 200) -> Response:
    """A message (or an IsoError) signed with the link's ISO key."""
    body = encode(message)
    headers = sign_body(services.iso_key, body)
    return Response(body, status, headers, media_type="application/json")


def _minor(amount: str, currency: str) -> int | None:
    try:
        value = Decimal(amount) * 10 ** MINOR_UNITS[currency]
    except InvalidOperation:
        return None
    return int(value) if value == value.to_integral_value() and value > 0 else None


# -- lookup ------------------------------------------------------------------------------------


async def _party_known(services: LinkServices, account: str, entry: ParticipantInfo) -> bool:
    """Whether the merchant's bank knows the account (True when it cannot be asked)."""
    if not entry.gateway_url or not entry.gateway_keys:
        return True
    target = f"/v1/parties/{account}"
    try:
        async with httpx.AsyncClient(base_url=entry.gateway_url,
                                     timeout=limits.party_lookup_timeout_s) as http:  # fmt: skip
            announced = (await http.get("/v1/parties/key")).json()
            their_key = bytes.fromhex(announced["gateway_key"])
            if their_key not in entry.gateway_keys:
                return True
            headers = sign_request(services.chain_id, their_key, services.gateway_key, "GET",
                                   target, b"", services.clock_ms())  # fmt: skip
            answer = await http.get(target, headers=headers)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return True
    return answer.status_code != 404


async def _merchant(services: LinkServices, account: str | None) -> str:
    if account is None or not is_account_id(account):
        raise IsoProblem(404, "merchant_not_found", "the code names no ledger account")
    assert services.directory is not None
    entries = await services.directory.entries(services.clock_ms())
    if entries is None:
        raise IsoProblem(503, "directory_unavailable", "the ledger cannot be read: try again")
    entry = entries.get(participant_of(account))
    if entry is None or entry.status.value != "active":
        raise IsoProblem(404, "merchant_not_found", "the code's bank is not an active one")
    if not await _party_known(services, account, entry):
        raise IsoProblem(404, "merchant_not_found", "the merchant's bank has no such account")
    return account


async def lookup(services: LinkServices, request: Request) -> Response:
    body = await read_body(request, limits.iso_body_bytes_max)
    corridor_of_switch(services, request, body)
    message = decode(body, Lookup)
    verdict = khqr.verify(message.qr, services.clock_ms())
    if not verdict.valid:
        raise IsoProblem(422, "qr_invalid", f"not a valid KHQR (SDK code {verdict.error_code})")
    fields = khqr.decode(message.qr)
    account = await _merchant(services, fields["bakongAccountID"])
    currency = _CURRENCIES.get(fields["transactionCurrency"] or "")
    if currency is None:
        raise IsoProblem(422, "currency_not_served", "a KHQR is in riel or US dollars")
    amount_text = fields["transactionAmount"]
    amount = None if not amount_text else _minor(amount_text, currency)
    name = (fields["merchantName"] or account)[: limits.iso_name_chars_max]
    city = (fields["merchantCity"] or "Phnom Penh")[: limits.iso_name_chars_max]
    answer = LookupAnswer("khqr", account, name, city, "KH", currency, amount)  # type: ignore[arg-type]
    return iso_response(services, answer)


# -- pacs.008 ----------------------------------------------------------------------------------


def _status_of(row: Any) -> Pacs002:
    if row.state == "completed":
        return Pacs002(row.end_to_end_id, "ACCC", None, int(row.finished_ms))
    if row.state in ("failed", "cancelled"):
        return Pacs002(row.end_to_end_id, "RJCT", row.reason or "NARR")
    return Pacs002(row.end_to_end_id, "ACSP")


def _row(engine: Engine, end_to_end_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.select(store.inbound).where(
            store.inbound.c.end_to_end_id == end_to_end_id)).first()  # fmt: skip


def _amount(services: LinkServices, corridor: str, message: Pacs008) -> tuple[str, int]:
    """The asset and amount paid out for `message` (converted when in the foreign currency)."""
    config = services.corridor(corridor)
    if message.currency in ("KHR", "USD"):
        return message.currency, message.amount
    if message.currency != config.currency:
        raise IsoProblem(422, "currency_not_served", "this corridor pays no such currency")
    text = current_rate(services.engine, corridor, config.rate)
    khr = khr_to_pay(message.amount, inbound_rate(base_rate(text, config.exponent),
                                                  config.spread_bps))  # fmt: skip
    if khr <= 0:
        raise IsoProblem(422, "amount_too_small", "the amount is less than one riel")
    return "KHR", khr


def _store_payout(services: LinkServices, corridor: str, message: Pacs008,
                  request_hash: bytes) -> Any:  # fmt: skip
    """The row of this end-to-end id, stored with its signed transfer if it is new."""
    found = _row(services.engine, message.end_to_end_id)
    if found is not None:
        if found.state != "cancelled" and bytes(found.request_hash) != request_hash:
            raise IsoProblem(409, "end_to_end_id_reused", "this id names another payment")
        return found
    asset, amount = _amount(services, corridor, message)
    account = services.account(corridor)
    command = transfer(account, message.creditor_id, asset, amount,
                       memo=f"cross-border {corridor}", reference=message.remittance[:64],
                       external_ref=message.end_to_end_id)  # fmt: skip
    signed = sign(services, account, command)
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        connection.execute(store.inbound.insert().values(
            end_to_end_id=message.end_to_end_id, corridor=corridor, request_hash=request_hash,
            merchant_id=message.creditor_id, asset=asset, amount=amount,
            foreign_currency=message.settlement_currency or message.currency,
            foreign_amount=message.settlement_amount or message.amount,
            md5=message.remittance[:32], tx=transaction_bytes(signed),
            tx_hash=transaction_hash(signed.payload), state="submitted", created_ms=now_ms))
    return _row(services.engine, message.end_to_end_id)


async def pacs008(services: LinkServices, request: Request) -> Response:
    body = await read_body(request, limits.iso_body_bytes_max)
    corridor = corridor_of_switch(services, request, body)
    message = decode(body, Pacs008)
    if not is_account_id(message.creditor_id):
        return iso_response(services, Pacs002(message.end_to_end_id, "RJCT", "AC01"))
    request_hash = hashlib.sha256(body).digest()
    try:
        row = await services.db(_store_payout, services, corridor, message, request_hash)
    except sa.exc.IntegrityError:  # the same id stored at once by a concurrent request
        row = await services.db(_store_payout, services, corridor, message, request_hash)
    if row.state == "submitted":
        await resubmit(services, bytes(row.tx))
        deadline = asyncio.get_running_loop().time() + limits.link_answer_wait_s
        while row.state == "submitted" and asyncio.get_running_loop().time() < deadline:
            await services.wait_progress(limits.link_sweep_s)
            row = await services.db(_row, services.engine, message.end_to_end_id)
    status = _status_of(row)
    if status.status == "RJCT" and row.reason is not None:
        status = Pacs002(status.end_to_end_id, "RJCT", _REASONS.get(row.reason, row.reason))
    return iso_response(services, status)


async def status(services: LinkServices, request: Request) -> Response:
    corridor = corridor_of_switch(services, request, b"")
    row = await services.db(_row, services.engine, str(request.path_params["end_to_end_id"]))
    if row is None or row.corridor != corridor:
        raise IsoProblem(404, "payment_not_found", "no payment has this end-to-end id")
    found = _status_of(row)
    if found.status == "RJCT" and row.reason is not None:
        found = Pacs002(found.end_to_end_id, "RJCT", _REASONS.get(row.reason, row.reason))
    return iso_response(services, found)


def _close(services: LinkServices, corridor: str, end_to_end_id: str) -> Any:
    """The row of the id; an id never seen is stored `cancelled`, so it never pays."""
    found = _row(services.engine, end_to_end_id)
    if found is not None:
        return found
    placeholder = hashlib.sha256(b"closed:" + end_to_end_id.encode()).digest()
    with services.engine.begin() as connection:
        connection.execute(store.inbound.insert().values(
            end_to_end_id=end_to_end_id, corridor=corridor, request_hash=placeholder,
            merchant_id="", asset="KHR", amount=0, foreign_currency="KHR", foreign_amount=0,
            md5="", tx=b"", tx_hash=placeholder, state="cancelled", reason="CUST",
            created_ms=services.clock_ms(), finished_ms=services.clock_ms()))  # fmt: skip
    return _row(services.engine, end_to_end_id)


async def camt056(services: LinkServices, request: Request) -> Response:
    body = await read_body(request, limits.iso_body_bytes_max)
    corridor = corridor_of_switch(services, request, body)
    message = decode(body, Camt056)
    try:
        row = await services.db(_close, services, corridor, message.end_to_end_id)
    except sa.exc.IntegrityError:
        row = await services.db(_row, services.engine, message.end_to_end_id)
    if row.state in ("failed", "cancelled"):
        answer = Camt029(message.end_to_end_id, "ACCEPTED")
    elif row.state == "completed":
        answer = Camt029(message.end_to_end_id, "REJECTED", "credited to the merchant: final")
    else:
        answer = Camt029(message.end_to_end_id, "REJECTED", "still settling: ask again")
    return iso_response(services, answer)


def _submitted(engine: Engine) -> list[bytes]:
    table = store.inbound
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table.c.tx).where(table.c.state == "submitted")
                                  .limit(limits.link_sweep_batch_max)).all()  # fmt: skip
    return [bytes(row.tx) for row in rows]


async def sweep(services: LinkServices) -> int:
    """Send again every payout not yet on the ledger (a restart, a lost submission)."""
    raws = await services.db(_submitted, services.engine)
    for raw in raws:
        await resubmit(services, raw)
    return len(raws)


def routes_table() -> list[tuple[str, Any, str]]:
    return [("/iso/lookup", lookup, "POST"), ("/iso/pacs008", pacs008, "POST"),
            ("/iso/pacs002/{end_to_end_id}", status, "GET"),
            ("/iso/camt056", camt056, "POST")]  # fmt: skip
