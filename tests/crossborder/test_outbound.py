"""Outbound through the link: quote, hold, pacs.008, post; and each failure, ending with both
sides agreeing (the ledger's balances and the switch's journal)."""

from __future__ import annotations

import time

import httpx

from bakong import khqr
from tests.crossborder.conftest import MERCHANT, PAYER, THAI, RunningLink, clock_ms
from tests.crossborder.fakeswitch import FakeSwitch

QR_100_THB = khqr.generate_promptpay("0812345678", "100.00")
QR_STATIC = khqr.generate_promptpay("0812345678")


def quote(link: RunningLink, qr: str = QR_100_THB, amount: int | None = None) -> dict:  # type: ignore[type-arg]
    answer = link.call("POST", "/v1/link/quotes", {"qr": qr, "payer": PAYER, "amount": amount})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def pay(link: RunningLink, found: dict, e2e: str, hold_id: bytes):  # type: ignore[no-untyped-def, type-arg]
    return link.call("POST", "/v1/link/payments",
                     {"quote_id": found["quote_id"], "end_to_end_id": e2e,
                      "hold_id": hold_id.hex()})


def test_a_payment_abroad_is_quoted_held_credited_and_posted(
    link: RunningLink, switch: tuple[FakeSwitch, str]
) -> None:
    fake, _ = switch
    before = link.balance(PAYER)
    found = quote(link)
    assert found["foreign_currency"] == "THB" and found["foreign_amount"] == 10_000
    assert found["khr_amount"] == 11_944  # 118.25 + 1 %, rounded up
    assert found["rate_text"] == "1 THB = 119.4325 KHR"
    assert found["merchant_name"] == "Somchai Noodles"
    assert found["hold"]["target"] == THAI == found["hold"]["poster"]
    hold_id = link.place_hold(found, "e2e-ok-1")
    answer = pay(link, found, "e2e-ok-1", hold_id)
    assert answer.status_code in (200, 202), answer.text
    link.wait_until(lambda: link.state("e2e-ok-1") == "completed")
    assert link.balance(PAYER) == before - 11_944
    assert fake.merchant_balance == 10_000
    again = pay(link, found, "e2e-ok-1", hold_id)  # a retry: the same payment, paid once
    assert again.status_code == 200 and again.json()["status"] == "completed"
    assert fake.merchant_balance == 10_000
    status = link.call("GET", "/v1/link/payments/e2e-ok-1").json()
    assert status["status"] == "completed" and status["khr_amount"] == 11_944
    other = link.call("GET", "/v1/link/payments/e2e-ok-1", participant="abaa")
    assert other.status_code == 404  # another bank's gateway sees nothing of it


def test_a_static_code_takes_the_payers_amount_and_checks_the_caller(
    link: RunningLink,
) -> None:
    missing = link.call("POST", "/v1/link/quotes", {"qr": QR_STATIC, "payer": PAYER})
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "amount_required"
    assert quote(link, QR_STATIC, 2_550)["khr_amount"] == 3_046  # 25.50 THB
    foreign = link.call("POST", "/v1/link/quotes",
                        {"qr": QR_STATIC, "payer": PAYER, "amount": 1}, participant="abaa")
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "payer_not_yours"
    unsigned = httpx.post(link.url + "/v1/link/quotes", json={"qr": QR_STATIC, "payer": PAYER})
    assert unsigned.status_code == 401
    vietqr = khqr.generate_vietqr("970436", "0011001234567")
    served = link.call("POST", "/v1/link/quotes", {"qr": vietqr, "payer": PAYER})
    assert served.json()["error"]["code"] == "scheme_not_served"


def test_a_refusal_voids_the_hold(link: RunningLink, switch: tuple[FakeSwitch, str]) -> None:
    fake, _ = switch
    fake.mode = "refuse"
    before = link.balance(PAYER)
    found = quote(link)
    hold_id = link.place_hold(found, "e2e-refused")
    pay(link, found, "e2e-refused", hold_id)
    link.wait_until(lambda: link.state("e2e-refused") == "failed")
    link.wait_until(lambda: link.balance(PAYER) == before)
    assert fake.merchant_balance == 0
    status = link.call("GET", "/v1/link/payments/e2e-refused").json()
    assert status["status"] == "failed" and status["reason"] == "foreign_rejected_ag01"


def test_a_wrong_hold_is_voided_and_never_sent(
    link: RunningLink, switch: tuple[FakeSwitch, str]
) -> None:
    fake, _ = switch
    before = link.balance(PAYER)
    found = quote(link)
    hold_id = link.place_hold(found, "e2e-short", amount=found["khr_amount"] - 1)
    pay(link, found, "e2e-short", hold_id)
    link.wait_until(lambda: link.state("e2e-short") == "failed")
    link.wait_until(lambda: link.balance(PAYER) == before)
    assert fake.payments == {}


def test_a_crash_after_credit_is_resolved_by_asking_the_status(
    link: RunningLink, switch: tuple[FakeSwitch, str]
) -> None:
    fake, _ = switch
    fake.mode = "crash"
    before = link.balance(PAYER)
    found = quote(link)
    hold_id = link.place_hold(found, "e2e-crash")
    pay(link, found, "e2e-crash", hold_id)
    assert link.state("e2e-crash") == "sending"  # no answer is never a refusal
    fake.mode = "ok"
    link.wait_until(lambda: link.state("e2e-crash") == "completed")
    assert link.balance(PAYER) == before - found["khr_amount"]
    assert fake.merchant_balance == 10_000  # credited once


def test_a_timeout_then_a_confirmation_before_expiry_posts(
    link: RunningLink, switch: tuple[FakeSwitch, str]
) -> None:
    fake, _ = switch
    fake.mode, fake.hang_s = "hang", 1.5
    found = quote(link)
    hold_id = link.place_hold(found, "e2e-slow")
    pay(link, found, "e2e-slow", hold_id)
    fake.mode = "ok"
    link.wait_until(lambda: link.state("e2e-slow") == "completed")
    assert fake.merchant_balance == 10_000


def test_a_confirmation_after_the_hold_expired_is_recalled(
    link: RunningLink, switch: tuple[FakeSwitch, str]
) -> None:
    fake, _ = switch
    fake.mode, fake.hang_s = "hang", 1.5
    before = link.balance(PAYER)
    found = quote(link)
    # Room for placing the hold (a commit) and the switch's 1.5 s hang on a loaded machine:
    # with 2.5 s, a CI run once saw the hold expire before the first assertion.
    expires_ms = clock_ms() + 6_000
    hold_id = link.place_hold(found, "e2e-late", expires_ms=expires_ms)
    pay(link, found, "e2e-late", hold_id)
    assert fake.merchant_balance == 10_000  # credited abroad, not yet confirmed here
    time.sleep(max(0.0, (expires_ms - clock_ms()) / 1000) + 0.2)
    fake.mode = "ok"  # the confirmation comes now: too late for the hold
    link.wait_until(lambda: link.state("e2e-late") in ("reversed", "failed"))
    assert link.state("e2e-late") == "reversed"
    assert fake.merchant_balance == 0  # the credit was recalled
    assert link.balance(PAYER) == before  # the ledger expired the hold: the riel are back
    assert [entry.kind for entry in fake.entries] == ["pacs008", "recall"]
    assert link.balance(MERCHANT) == 0
