"""A wallet at the foreign switch pays a Cambodian KHQR through the link (the inbound corridor,
seen from abroad): lookup, then pacs.008 to the link, signed, answers verified.

1. `POST <link>/iso/lookup` names the merchant, the code's currency (KHR or USD) and amount.
2. The amount is the code's, or the one the wallet typed for a static code (never both unless
   equal). The wallet pays it converted at the family's rate, rounded up (`local_amount`); that
   money leaves the wallet for suspense as the payment is stored (`books`, rule 5).
3. `POST <link>/iso/pacs008` with a fresh end-to-end id, the KHQR's md5 as remittance and the
   local amount as the settlement amount. `ACCC` moves the money on to the link's nostro,
   `RJCT` gives it back. No answer (a timeout, a dead link) or `ACSP`: the status is asked once
   at `GET <link>/iso/pacs002/{e2e}`; still unknown, the payment stays pending and
   `refresh` asks again later. Money is never given back while the link may have paid.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Annotated, Any

import anyio.to_thread
import httpx
import msgspec
from msgspec import Meta
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.crossborder.messages import (
    IsoError,
    IsoProblem,
    Lookup,
    LookupAnswer,
    Pacs002,
    Pacs008,
    decode,
    encode,
    get_signed_bytes,
    sign_body,
    verify_body,
)
from bakong.foreignsim import books
from bakong.foreignsim.books import SwitchProblem
from bakong.foreignsim.families import local_amount
from bakong.foreignsim.home import SimHome
from bakong.khqr.tags import qr_chars_max

__all__ = ["PayKhqr", "pay_khqr", "refresh"]


class PayKhqr(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    qr: Annotated[str, Meta(min_length=1, max_length=qr_chars_max)]
    amount: Annotated[int, Meta(gt=0, le=limits.iso_amount_max)] | None = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _new_id(switch: str) -> str:
    return f"{switch}{_now_ms()}{secrets.token_hex(6)}"[: limits.iso_id_chars_max]


async def _exchange(
    home: SimHome, method: str, path: str, message: msgspec.Struct | None, answer: type[Any]
) -> Any:
    """Send one signed request to the link and return its verified, decoded answer. An error
    answer raises SwitchProblem `link_refused`, none `link_unreachable`, a 5xx `link_failed`."""
    body = b"" if message is None else encode(message)
    signed = get_signed_bytes(path) if message is None else body
    headers = {**sign_body(home.key, signed), "content-type": "application/json"}
    url = home.config.switch.link_url + path
    try:
        async with httpx.AsyncClient(timeout=limits.foreignsim_link_timeout_s) as client:
            response = await client.request(method, url, content=body or None, headers=headers)
    except httpx.HTTPError:
        raise SwitchProblem(504, "link_unreachable", "the link did not answer in time") from None
    if response.status_code >= 500:  # it may have done it: never read as a refusal
        raise SwitchProblem(502, "link_failed", f"the link answered {response.status_code}")
    try:
        verify_body([home.link_key], response.headers, response.content)
        if response.status_code >= 400:
            error = decode(response.content, IsoError)
            raise SwitchProblem(502, "link_refused", f"{error.code}: {error.message}")
        return decode(response.content, answer)
    except IsoProblem as problem:
        raise SwitchProblem(502, "link_answer_unusable", problem.code) from None


async def pay_khqr(home: SimHome, engine: Engine, wallet: str, body: PayKhqr) -> dict[str, Any]:
    """Steps 1-3 for `wallet`; the payment's view with the merchant's name."""
    family = home.family
    found: LookupAnswer = await _exchange(
        home, "POST", "/iso/lookup", Lookup(_new_id(family.switch), body.qr), LookupAnswer
    )
    if found.amount is not None and body.amount is not None and found.amount != body.amount:
        raise SwitchProblem(400, "amount_mismatch", "the code carries another amount")
    amount = found.amount or body.amount
    if amount is None:
        raise SwitchProblem(400, "amount_required", "the code has no amount: send one")
    if found.currency not in ("KHR", "USD"):
        raise SwitchProblem(422, "currency_not_payable", "the link answered another currency")
    local = local_amount(family, found.currency, amount)
    e2e = _new_id(family.switch)
    remittance = hashlib.md5(body.qr.encode()).hexdigest()
    stored = await anyio.to_thread.run_sync(
        lambda: books.start_outbound(
            engine,
            e2e,
            wallet,
            found.merchant_id,
            found.currency,
            amount,
            local,
            remittance,
            _now_ms(),
        )
    )
    message = Pacs008(
        _new_id(family.switch),
        e2e,
        _now_ms(),
        family.switch,
        f"{family.switch.upper()} wallet",
        found.merchant_id,
        found.currency,
        amount,
        remittance,
        family.currency,
        local,
    )
    try:
        answer: Pacs002 = await _exchange(home, "POST", "/iso/pacs008", message, Pacs002)
    except SwitchProblem as problem:
        if problem.code == "link_refused":  # the link refused the message itself: nothing paid
            answer = Pacs002(e2e, "RJCT", problem.message[:140], None)
        else:
            answer = Pacs002(e2e, "ACSP", None, None)
    if answer.status == "ACSP":
        return {
            **(await refresh(home, engine, e2e) or stored).view(),
            "merchant_name": found.merchant_name,
        }
    finished = await anyio.to_thread.run_sync(
        lambda: books.finish_outbound(engine, e2e, answer, _now_ms())
    )
    return {**finished.view(), "merchant_name": found.merchant_name}


async def refresh(home: SimHome, engine: Engine, e2e: str) -> books.Payment | None:
    """A payment; one still pending outbound is asked about at the link first."""
    found = await anyio.to_thread.run_sync(lambda: books.payment(engine, e2e))
    if found is None or found.direction != "out" or found.status != books.ACSP:
        return found
    try:
        answer: Pacs002 = await _exchange(home, "GET", f"/iso/pacs002/{e2e}", None, Pacs002)
    except SwitchProblem:
        return found  # unknown or unreachable: pending, never refunded on a guess
    return await anyio.to_thread.run_sync(
        lambda: books.finish_outbound(engine, e2e, answer, _now_ms())
    )
