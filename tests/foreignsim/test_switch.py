"""Each family's switch simulator, run as a real process, spoken to as the link would: lookup of
its merchants' real codes, pacs.008 credits, idempotent retries, refusals, recalls, the daily
statement, signatures, and the faults (slow, refuse, timeout, crash after credit)."""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import httpx
import pytest

from bakong.corebank.books import day_of
from bakong.crossborder.messages import (
    Camt029,
    Camt056,
    Lookup,
    LookupAnswer,
    Pacs002,
    Pacs008,
    Statement,
    encode,
    sign_body,
)
from bakong.foreignsim.families import FAMILIES
from bakong.foreignsim.process import SwitchProcess
from bakong.keystore import generate_key
from bakong.khqr.foreign import parse

from .conftest import LinkSide, now_ms


def new_id() -> str:
    return "e2e" + secrets.token_hex(12)


def pacs008(creditor: str, currency: Any, amount: int, e2e: str | None = None) -> Pacs008:
    return Pacs008(
        new_id(),
        e2e or new_id(),
        now_ms(),
        "xlnk",
        "Sokha C.",
        creditor,
        currency,
        amount,
        hashlib.md5(b"khqr").hexdigest(),
    )


def merchant_codes(link: LinkSide, amount: int | None = None) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = link.sim("GET", "/sim/merchants").json()["merchants"]
    if amount is None:
        return listed
    return [
        link.sim("GET", f"/sim/merchants/{m['merchant_id']}/qr", params={"amount": amount}).json()
        for m in listed
    ]


def test_each_merchant_is_looked_up_from_its_code_and_credited_once(link: LinkSide) -> None:
    family = FAMILIES[link.switch.home.family.name]
    for merchant in merchant_codes(link, 12_345):
        parsed = parse(merchant["qr"])
        assert parsed.scheme == merchant["scheme"] and parsed.scheme in family.schemes
        status, found = link.post("/iso/lookup", Lookup(new_id(), merchant["qr"]), LookupAnswer)
        assert status == 200
        assert (found.merchant_id, found.merchant_name, found.currency, found.amount) == (
            merchant["merchant_id"],
            merchant["name"],
            family.currency,
            12_345,
        )
        assert found.country == family.country and found.scheme == parsed.scheme
        before = link.balances()
        message = pacs008(found.merchant_id, found.currency, found.amount)
        status, answer = link.post("/iso/pacs008", message, Pacs002)
        assert (status, answer.status, answer.end_to_end_id) == (200, "ACCC", message.end_to_end_id)
        retried = Pacs008(new_id(), *msgspec_fields(message)[1:])
        assert link.post("/iso/pacs008", retried, Pacs002)[1] == answer  # idempotent
        after = link.balances()
        assert after[found.merchant_id] == before[found.merchant_id] + 12_345
        assert after["nostro"] == before["nostro"] - 12_345
        assert link.get(f"/iso/pacs002/{message.end_to_end_id}", Pacs002) == (200, answer)
        other = pacs008(found.merchant_id, found.currency, 99, message.end_to_end_id)
        status, error = link.post("/iso/pacs008", other, Pacs002)
        assert (status, error.code) == (409, "end_to_end_id_reused")
        assert link.balances() == after


def msgspec_fields(message: Pacs008) -> list[Any]:
    return [getattr(message, name) for name in message.__struct_fields__]


def test_a_static_code_is_looked_up_without_amount(link: LinkSide) -> None:
    for merchant in merchant_codes(link):
        status, found = link.post("/iso/lookup", Lookup(new_id(), merchant["qr"]), LookupAnswer)
        assert status == 200 and found.amount is None


def test_codes_that_are_not_this_switchs_are_refused(link: LinkSide) -> None:
    family = link.switch.home.family
    others = [f for f in FAMILIES.values() if f.name != family.name]
    foreign = others[0]
    from bakong.foreignsim.families import make_qr

    code = make_qr(foreign, foreign.merchants[0], None)
    status, error = link.post("/iso/lookup", Lookup(new_id(), code), LookupAnswer)
    assert (status, error.code) == (422, "scheme_not_served")
    stranger = family.merchants[0]
    unknown = type(stranger)("m-x", stranger.scheme, "X", "Y", _other_target(stranger.target))
    status, error = link.post(
        "/iso/lookup", Lookup(new_id(), make_qr(family, unknown, None)), LookupAnswer
    )
    assert (status, error.code) == (404, "merchant_not_found")


def _other_target(target: str) -> str:
    """The same kind of payee, another one: the last digit or letter changed."""
    last = target[-1]
    return target[:-1] + ("1" if last != "1" else "2")


def test_refusals_are_final_and_move_nothing(link: LinkSide) -> None:
    family = link.switch.home.family
    merchant = family.merchants[0].merchant_id
    before = link.balances()
    other_currency = "KHR"
    cases = [
        (pacs008("m-nobody", family.currency, 100), "AC01"),
        (pacs008(merchant, other_currency, 100), "AM03"),
        (pacs008(merchant, family.currency, before["nostro"] + 1), "AM04"),
    ]
    for message, reason in cases:
        status, answer = link.post("/iso/pacs008", message, Pacs002)
        assert (status, answer.status, answer.reason) == (200, "RJCT", reason)
        assert link.post("/iso/pacs008", message, Pacs002)[1] == answer
    link.switch.set_fault("refuse")
    message = pacs008(merchant, family.currency, 100)
    assert link.post("/iso/pacs008", message, Pacs002)[1].reason == "AG01"
    link.switch.set_fault("")
    assert link.post("/iso/pacs008", message, Pacs002)[1].status == "RJCT"  # a refusal stays
    assert link.balances() == before


def test_a_recall_reverses_a_credit_once_and_closes_an_unknown_id(link: LinkSide) -> None:
    family = link.switch.home.family
    merchant = family.merchants[1].merchant_id
    before = link.balances()
    message = pacs008(merchant, family.currency, 700)
    assert link.post("/iso/pacs008", message, Pacs002)[1].status == "ACCC"
    recall = Camt056(new_id(), message.end_to_end_id, "CUST")
    status, resolved = link.post("/iso/camt056", recall, Camt029)
    assert (status, resolved.status) == (200, "ACCEPTED")
    assert link.post("/iso/camt056", recall, Camt029)[1].status == "ACCEPTED"
    assert link.balances() == before  # reversed exactly once
    status, answer = link.get(f"/iso/pacs002/{message.end_to_end_id}", Pacs002)
    assert answer.status == "ACCC" and "recalled" in (answer.reason or "")
    closed = new_id()
    assert link.post("/iso/camt056", Camt056(new_id(), closed, "CUST"), Camt029)[1].status == (
        "ACCEPTED"
    )
    assert link.get(f"/iso/pacs002/{closed}", Pacs002)[1].reason == "CUST"
    late = pacs008(merchant, family.currency, 700, closed)
    assert link.post("/iso/pacs008", late, Pacs002)[1].status == "RJCT"
    status, error = link.get(f"/iso/pacs002/{new_id()}", Pacs002)
    assert (status, error.code) == (404, "payment_not_found")
    assert link.balances() == before


def test_the_statement_lists_the_days_nostro_entries(link: LinkSide) -> None:
    family = link.switch.home.family
    paid = pacs008(family.merchants[0].merchant_id, family.currency, 4_321)
    assert link.post("/iso/pacs008", paid, Pacs002)[1].status == "ACCC"
    link.post("/iso/camt056", Camt056(new_id(), paid.end_to_end_id, "CUST"), Camt029)
    status, statement = link.get(f"/iso/statement/{day_of(now_ms())}", Statement)
    assert status == 200 and statement.currency == family.currency
    assert statement.switch == family.switch and statement.opening == 0
    mine = [
        (e.kind, e.side, e.amount)
        for e in statement.entries
        if e.end_to_end_id == paid.end_to_end_id
    ]
    assert mine == [("pacs008", "debit", 4_321), ("recall", "credit", 4_321)]
    assert statement.entries[0].kind == "funding"
    net = sum(e.amount if e.side == "credit" else -e.amount for e in statement.entries)
    assert statement.closing == statement.opening + net == link.balances()["nostro"]
    status, empty = link.get("/iso/statement/2001-01-01", Statement)
    assert (status, empty.entries, empty.closing) == (200, [], 0)
    assert link.get("/iso/statement/2001-13-01", Statement)[0] == 400


def test_wrong_signatures_are_refused(link: LinkSide) -> None:
    body = encode(Lookup(new_id(), "000201"))
    stranger = sign_body(generate_key(), body)
    signed = sign_body(link.key, body)
    cases = [
        ({}, "signature_missing"),
        (stranger, "signer_unknown"),
        ({**signed, "X-Bakong-Signature": "bm90IGEgc2lnbmF0dXJl"}, "signature_malformed"),
        (sign_body(link.key, body + b" "), "signature_invalid"),
    ]
    for headers, code in cases:
        response = link.http.post("/iso/lookup", content=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, code)
        link.read(response, LookupAnswer)  # the refusal is signed by the switch
    path = "/iso/pacs002/" + new_id()
    elsewhere = sign_body(link.key, b"GET /iso/statement/2001-01-01")
    response = link.http.get(path, headers=elsewhere)
    assert (response.status_code, response.json()["code"]) == (401, "signature_invalid")
    assert link.sim("GET", "/sim/balances").status_code == 200
    assert link.http.get("/sim/balances").status_code == 401


def test_a_slow_switch_answers_late(link: LinkSide) -> None:
    family = link.switch.home.family
    link.switch.set_fault("slow 1")
    started = time.monotonic()
    message = pacs008(family.merchants[0].merchant_id, family.currency, 10)
    assert link.post("/iso/pacs008", message, Pacs002)[1].status == "ACCC"
    assert time.monotonic() - started >= 1.0


def test_a_timed_out_payment_is_pending_and_a_recall_stops_it(link: LinkSide) -> None:
    family = link.switch.home.family
    merchant = family.merchants[0].merchant_id
    before = link.balances()
    link.switch.set_fault("timeout 3")
    message = pacs008(merchant, family.currency, 55)
    with pytest.raises(httpx.TimeoutException):
        link.post("/iso/pacs008", message, Pacs002, timeout=0.5)
    status, answer = link.get(f"/iso/pacs002/{message.end_to_end_id}", Pacs002)
    assert (status, answer.status) == (200, "ACSP")
    link.switch.set_fault("")
    resolved = link.post("/iso/camt056", Camt056(new_id(), message.end_to_end_id, "AB05"), Camt029)[
        1
    ]
    assert resolved.status == "ACCEPTED"
    time.sleep(3.5)  # the held request wakes up and must not credit
    assert link.get(f"/iso/pacs002/{message.end_to_end_id}", Pacs002)[1].status == "RJCT"
    assert link.balances() == before


def test_a_crash_after_credit_credits_exactly_once(link: LinkSide) -> None:
    family = link.switch.home.family
    merchant = family.merchants[0].merchant_id
    before = link.balances()
    link.switch.set_fault("crash-after-credit")
    message = pacs008(merchant, family.currency, 2_000)
    with pytest.raises(httpx.TransportError):
        link.post("/iso/pacs008", message, Pacs002)
    assert link.switch.wait_exit(10) != 0
    assert not link.switch.home.fault_file.exists()  # one shot
    link.switch.start()
    link.switch.wait_healthy()
    status, answer = link.get(f"/iso/pacs002/{message.end_to_end_id}", Pacs002)
    assert (status, answer.status) == (200, "ACCC")
    assert link.post("/iso/pacs008", message, Pacs002)[1].status == "ACCC"
    after = link.balances()
    assert after[merchant] == before[merchant] + 2_000
    status, statement = link.get(f"/iso/statement/{day_of(now_ms())}", Statement)
    credits = [e for e in statement.entries if e.end_to_end_id == message.end_to_end_id]
    assert len(credits) == 1


def test_the_merchant_codes_of_the_sim_api_parse_with_their_amount(
    switch: SwitchProcess, link: LinkSide
) -> None:
    family = switch.home.family
    for merchant in merchant_codes(link, 500):
        parsed = parse(merchant["qr"])
        assert parsed.crc_valid is not False and parsed.currency == family.numeric
        assert parsed.amount is not None
        assert merchant["amount"] == 500
    assert link.sim("GET", "/sim/merchants/m-none/qr").status_code == 404
    assert (
        link.sim(
            "GET", f"/sim/merchants/{family.merchants[0].merchant_id}/qr", params={"amount": "-1"}
        ).status_code
        == 400
    )
