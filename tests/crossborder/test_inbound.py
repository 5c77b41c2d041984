"""Inbound through the link: a foreign switch looks a KHQR up and pays it; the merchant is
paid once from the corridor's account, with the code's md5 as the reference."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import sqlalchemy as sa

from bakong import khqr
from bakong.crossborder import store
from bakong.crossborder.messages import (
    Camt029,
    Camt056,
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
from bakong.ledger.assets import Asset
from bakong.sandbox import sandbox_key
from tests.crossborder.conftest import LINK, MERCHANT, THAI, RunningLink, clock_ms

SWITCH_KEY = sandbox_key("switch/thai")
LINK_ISO = sandbox_key(f"{LINK}/iso").public_key


def merchant_qr(amount: float | None) -> khqr.Generated:
    options = khqr.Options(amount=amount, expiration_timestamp=clock_ms() + 600_000
                           if amount is not None else None)
    return khqr.generate_merchant(MERCHANT, "Dara Coffee", "Phnom Penh", "M001", "ABA Bank",
                                  options, now_ms=clock_ms())


def send(link: RunningLink, method: str, path: str, message: Any = None,
         key: Any = SWITCH_KEY) -> httpx.Response:
    body = b"" if message is None else encode(message)
    signed = get_signed_bytes(path) if method == "GET" else body
    with httpx.Client(base_url=link.url, timeout=30) as http:
        answer = http.request(method, path, content=body or None, headers=sign_body(key, signed))
    verify_body([LINK_ISO], answer.headers, answer.content)  # every answer is signed
    return answer


def fund_link(link: RunningLink, amount: int) -> None:
    link.wait_until(lambda: link.core.sandbox.account(THAI) is not None)
    sandbox = link.core.sandbox
    link.core.commit(f"settlement@{LINK}",
                     [sandbox.transfer(f"settlement@{LINK}", THAI, Asset.KHR, amount)])


def pacs008(e2e: str, currency: str, amount: int, md5: str) -> Pacs008:
    return Pacs008(f"m-{e2e}", e2e, clock_ms(), "thaisw", "THAI wallet", MERCHANT,
                   currency, amount, md5)  # type: ignore[arg-type]


def test_a_visitor_pays_a_khqr_with_its_amount(link: RunningLink) -> None:
    fund_link(link, 1_000_000)
    code = merchant_qr(25_000)
    found = decode(send(link, "POST", "/iso/lookup", Lookup("l1", code.qr)).content, LookupAnswer)
    assert (found.merchant_id, found.currency, found.amount) == (MERCHANT, "KHR", 25_000)
    assert found.merchant_name == "Dara Coffee" and found.country == "KH"
    message = pacs008("in-1", "KHR", 25_000, code.md5)
    answer = decode(send(link, "POST", "/iso/pacs008", message).content, Pacs002)
    assert answer.status == "ACCC"
    assert link.balance(MERCHANT) == 25_000
    again = decode(send(link, "POST", "/iso/pacs008", message).content, Pacs002)
    assert again.status == "ACCC" and link.balance(MERCHANT) == 25_000  # paid once
    other = msgspec.structs.replace(message, amount=1)
    assert send(link, "POST", "/iso/pacs008", other).status_code == 409
    status = decode(send(link, "GET", "/iso/pacs002/in-1").content, Pacs002)
    assert status.status == "ACCC"
    recall = decode(send(link, "POST", "/iso/camt056", Camt056("r1", "in-1", "CUST")).content,
                    Camt029)
    assert recall.status == "REJECTED"  # a merchant's credit is final on the ledger
    assert _reference_of_last_payout(link) == code.md5  # what the merchant's till matches


def _reference_of_last_payout(link: RunningLink) -> str:
    with link.services.engine.connect() as connection:
        row = connection.execute(sa.select(store.entries).where(
            store.entries.c.account_id == THAI, store.entries.c.amount < 0)
            .order_by(store.entries.c.id.desc())).first()
    assert row is not None and row.external_ref == "in-1"
    return str(row.reference)


def test_a_static_code_paid_in_baht_is_converted(link: RunningLink) -> None:
    fund_link(link, 1_000_000)
    code = merchant_qr(None)
    found = decode(send(link, "POST", "/iso/lookup", Lookup("l2", code.qr)).content, LookupAnswer)
    assert found.amount is None
    answer = decode(send(link, "POST", "/iso/pacs008",
                         pacs008("in-2", "THB", 10_000, code.md5)).content, Pacs002)
    assert answer.status == "ACCC"
    assert link.balance(MERCHANT) == 11_706  # 100 THB at 118.25 less 1 %, rounded down


def test_a_payout_the_link_cannot_fund_is_refused(link: RunningLink) -> None:
    code = merchant_qr(None)
    answer = decode(send(link, "POST", "/iso/pacs008",
                         pacs008("in-3", "KHR", 5_000, code.md5)).content, Pacs002)
    assert answer.status == "RJCT" and answer.reason == "AM04"
    recall = decode(send(link, "POST", "/iso/camt056", Camt056("r3", "in-3", "CUST")).content,
                    Camt029)
    assert recall.status == "ACCEPTED"
    closed = decode(send(link, "POST", "/iso/camt056", Camt056("r4", "in-4", "CUST")).content,
                    Camt029)
    assert closed.status == "ACCEPTED"  # an id never seen is closed for good
    fund_link(link, 1_000_000)
    late = decode(send(link, "POST", "/iso/pacs008",
                       pacs008("in-4", "KHR", 5_000, code.md5)).content, Pacs002)
    assert late.status == "RJCT" and link.balance(MERCHANT) == 0


def test_unsigned_or_unknown_signers_are_refused(link: RunningLink) -> None:
    code = merchant_qr(None)
    stranger = send(link, "POST", "/iso/lookup", Lookup("l5", code.qr),
                    key=sandbox_key("someone"))
    assert stranger.status_code == 401 and stranger.json()["code"] == "signer_unknown"
    with httpx.Client(base_url=link.url) as http:
        bare = http.post("/iso/lookup", content=encode(Lookup("l6", code.qr)))
    assert bare.status_code == 401 and bare.json()["code"] == "signature_missing"
    unknown = send(link, "POST", "/iso/lookup",
                   Lookup("l7", khqr.generate_merchant("nobody@zzzz", "X", "PP", "M", "B",
                                                       now_ms=clock_ms()).qr))
    assert unknown.status_code == 404 and unknown.json()["code"] == "merchant_not_found"
