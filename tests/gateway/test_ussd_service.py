"""The USSD service end to end, on SQLite and PostgreSQL: a running gateway (projection and
workers) over a real node API, dialled through the aggregators' callbacks.

A feature phone registers, receives, checks its balance, sends to a phone and pays a shop, with
SMS receipts; a replayed or resumed session cannot pay twice; wrong PINs lock the wallet as the
app's do; sessions time out; the USSD cap stops a payment before it is signed; a cash-out
request is approved with the PIN (or declined); the PIN never reaches a row, a log or an
error."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.gateway import approvals, db
from bakong.gateway.cash_config import ClaimsConfig
from bakong.gateway.observe import JsonFormatter
from bakong.gateway.ussd.service import sweep_sessions
from bakong.ledger.assets import Asset
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_till import OWNER_PIN, _open
from tests.gateway.test_wallets import auth, cash_in, khr, officer_token, register
from tests.gateway.ussd import (
    JSON,
    Phone,
    customer_id,
    outbox,
    submissions_of,
    ussd_config,
    ussd_gateway,
)

FEATURE, APP_USER, PIN, WRONG = "+85512000001", "+85512000002", "482913", "590142"


@pytest.fixture
def gateway(engine: Engine, core: Core) -> Iterator[RunningGateway]:
    with ussd_gateway(engine, core) as running:
        yield running


def _registered(http: httpx.Client, handle: str = "5821", msisdn: str = FEATURE) -> Phone:
    """A feature phone that opened its wallet by USSD, in English."""
    phone = Phone(http, msisdn)
    done = phone.run("2", "1", handle, PIN, PIN)
    assert done == f"END Your wallet {handle}@aclb is open. Dial *855# to use it.", done
    return phone


def test_register_receive_balance_send_and_the_receipts(
    gateway: RunningGateway, core: Core
) -> None:
    engine = gateway.services.engine
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        phone = Phone(http, FEATURE)
        first = phone.dial()
        assert first == "CON ជ្រើសភាសា / Language\n1 ខ្មែរ\n2 English"
        assert phone.press("2").startswith("CON Welcome to ACLB. This number has no wallet")
        assert phone.press("1").startswith("CON Choose your wallet name: 4 to 12 digits.")
        assert phone.press("5821").startswith("CON Choose a PIN: 6 to 12 digits")
        assert phone.press(PIN) == "CON Enter the same PIN again."
        assert phone.press(PIN) == "END Your wallet 5821@aclb is open. Dial *855# to use it."
        dara = register(http, gateway, APP_USER, "dara_sok", "Dara Sok")
        cash_in(core, "5821@aclb", 100_000)
        gateway.wait_for_height(core.height)
        assert outbox(engine, FEATURE)[-1].startswith(
            "Received 100,000 KHR from settlement@aclb, ref "
        )
        balance = phone.run("1", PIN)
        assert balance == "END Balance 5821@aclb\n100,000 KHR\n0.00 USD"
        assert phone.run("2", "012000002", "1", "25000") == (
            "CON Send 25,000 KHR to Dara S. dara_sok@aclb\nEnter PIN to confirm"
        )
        paid = phone.press(PIN)
        assert paid.startswith("END Sent 25,000 KHR to Dara S. dara_sok@aclb. Ref ")
        gateway.wait_for_height(core.height)
        assert khr(http, dara) == 25_000
        receipt = outbox(engine, FEATURE)[-1]
        assert receipt.startswith("Sent 25,000 KHR to Dara S., ref ")
        assert receipt.endswith("Balance 75,000 KHR. ACLB")
        assert outbox(engine, APP_USER) == [outbox(engine, APP_USER)[0]]  # only its sign-up code
        statement = phone.run("5", PIN)
        assert statement.startswith("END Last payments\n") and "-25,000 KHR" in statement
        # Khmer: the language menu, then a receipt in Khmer for money received from the app.
        assert phone.run("7", "1").startswith("CON 1 សមតុល្យ")
        body = {"idempotency_key": "back", "to": {"phone": FEATURE}, "amount": 5_000,
                "asset": "KHR"}  # fmt: skip
        assert http.post("/v1/payments", headers=auth(dara), json=body).status_code == 200
        gateway.wait_for_height(core.height)
        assert outbox(engine, FEATURE)[-1].startswith("បានទទួល 5,000៛ ពី Dara S.។")


def test_a_replayed_or_resumed_session_cannot_pay_twice(
    gateway: RunningGateway, core: Core
) -> None:
    engine = gateway.services.engine
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        phone = _registered(http)
        register(http, gateway, APP_USER, "dara_sok", "Dara Sok")
        cash_in(core, "5821@aclb", 100_000)
        gateway.wait_for_height(core.height)
        paid = phone.run("2", "012000002", "1", "25000", PIN)
        assert paid.startswith("END Sent 25,000 KHR")
        before = submissions_of(engine, FEATURE)
        # The aggregator sends the last hit again (our answer was lost): the same screen.
        assert phone.post().text == paid
        # The session's row is gone (swept) and the whole text comes again: the same step,
        # the same idempotency key, the first payment's answer.
        with engine.begin() as connection:
            connection.execute(sa.delete(db.ussd_sessions))
        assert phone.post().text == paid
        gateway.wait_for_height(core.height)
        assert submissions_of(engine, FEATURE) == before
        assert phone.run("1", PIN) == "END Balance 5821@aclb\n75,000 KHR\n0.00 USD"
        # Resumed out of order (an earlier input changed): the session ends, nothing is done.
        phone.run("2", "012000002", "1", "5000")
        resumed = phone.post("3*012000002*1*5000*" + PIN)
        assert resumed.text == "END This session has ended. Dial *855# again."
        assert phone.post().text == resumed.text  # and stays ended
        assert submissions_of(engine, FEATURE) == before


def test_wrong_pins_lock_the_wallet_as_the_app_does(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        phone = _registered(http)
        screen = phone.run("1", WRONG)
        for left in range(limits.pin_failures_max - 1, 0, -1):
            assert screen == f"CON Wrong PIN: {left} tries left.\nBalance\nEnter your PIN"
            screen = phone.press(WRONG)
        assert screen == "END Too many wrong PINs. Try again in 15 min."
        assert phone.run("1", PIN) == "END Too many wrong PINs. Try again in 15 min."
        login = http.post("/v1/sessions", json={"phone": FEATURE, "pin": PIN})
        assert login.status_code == 423 and login.json()["error"]["code"] == "pin_locked"


class _Clock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def test_sessions_time_out_and_are_swept(gateway: RunningGateway) -> None:
    services = gateway.services
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        phone = _registered(http)
        clock = _Clock(services.clock_ms())
        services.clock_ms = clock
        assert phone.dial().startswith("CON ACLB\n1 Balance")
        clock.now_ms += limits.ussd_input_ms + 1
        assert phone.press("1") == "END The session timed out. Dial *855# again."
        sessions = db.ussd_sessions
        with services.engine.connect() as connection:
            stored = connection.execute(sa.select(sa.func.count()).select_from(sessions))
            assert stored.scalar_one() >= 2
        later = clock.now_ms + limits.ussd_session_ms + limits.ussd_session_kept_ms
        assert sweep_sessions(services.engine, later) >= 2
        with services.engine.connect() as connection:
            left = connection.execute(sa.select(sa.func.count()).select_from(sessions))
            assert left.scalar_one() == 0


def test_the_ussd_cap_refuses_before_signing(engine: Engine, core: Core) -> None:
    with (
        ussd_gateway(engine, core, ussd_config(daily_cap_khr=30_000)) as gateway,
        httpx.Client(base_url=gateway.url, timeout=30) as http,
    ):
        phone = _registered(http)
        dara = register(http, gateway, APP_USER, "dara_sok", "Dara Sok")
        cash_in(core, "5821@aclb", 100_000)
        gateway.wait_for_height(core.height)
        assert phone.run("2", "012000002", "1", "25000", PIN).startswith("END Sent")
        before = submissions_of(engine, FEATURE)
        refused = phone.run("2", "012000002", "1", "10000", PIN)
        assert refused == "END Not sent: over today's USSD limit, 5,000 KHR left."
        assert submissions_of(engine, FEATURE) == before  # nothing was signed
        claim = phone.run("2", "012000399", "1", "10000", PIN)  # no wallet: a claim, capped too
        assert claim == "END Not sent: over today's USSD limit, 5,000 KHR left."
        assert _claims_of(engine, "5821@aclb") == [] and submissions_of(engine, FEATURE) == before
        assert phone.run("2", "012000399", "1", "5000", PIN).startswith("END 5,000 KHR waits")
        counted = phone.run("2", "012000002", "1", "1000", PIN)  # the claim's hold counted
        assert counted == "END Not sent: over today's USSD limit, 0 KHR left."
        body = {"idempotency_key": "app-1", "to": {"phone": APP_USER}, "amount": 10_000,
                "asset": "KHR", "pin": PIN}  # fmt: skip
        token = http.post("/v1/sessions", json={"phone": FEATURE, "pin": PIN}).json()["token"]
        assert http.post("/v1/payments", headers=auth(token), json=body).status_code == 200
        gateway.wait_for_height(core.height)
        assert khr(http, dara) == 35_000  # the app is not a USSD payment


def test_pay_a_shop_by_its_short_code(gateway: RunningGateway, core: Core) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        opened = _open(http, officer_token(gateway))
        assert opened.status_code == 201, opened.text
        till = http.post("/v1/sessions", json={"handle": "noodle_bar", "pin": OWNER_PIN})
        profile = http.get("/v1/merchant", headers=auth(till.json()["token"])).json()
        assert profile["short_code"] == limits.merchant_short_code_first
        phone = _registered(http)
        cash_in(core, "5821@aclb", 50_000)
        gateway.wait_for_height(core.height)
        shown = phone.run("3", str(profile["short_code"]), "1", "4500")
        assert shown == "CON Pay 4,500 KHR to Noodle Bar\nEnter PIN to confirm"
        assert phone.press(PIN).startswith("END Sent 4,500 KHR to Noodle Bar. Ref ")
        unknown = phone.run("3", "9999")
        assert unknown == "CON No shop has this code.\nPay a shop\nEnter the shop's code"


def test_a_cash_out_request_is_approved_with_the_pin_or_declined(
    gateway: RunningGateway, core: Core
) -> None:
    engine, services = gateway.services.engine, gateway.services
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        phone = _registered(http)
        register(http, gateway, APP_USER, "ly_shop", "Ly Srey")
        cash_in(core, "5821@aclb", 60_000)
        gateway.wait_for_height(core.height)
        customer, agent = customer_id(engine, FEATURE), customer_id(engine, APP_USER)

        def ask(key: str, amount: int) -> approvals.Approval:
            found, _ = approvals.request(
                engine, customer_id=customer, requester_id=agent, key=key, payee="ly_shop@aclb",
                asset=Asset.KHR, amount=amount, now_ms=services.clock_ms(),
            )  # fmt: skip
            return found

        first = ask("cash-1", 20_000)
        listed = phone.run("4")
        assert listed == "CON Cash-out requests\n1 Ly S.: 20,000 KHR"
        assert (
            phone.press("1") == "CON Agent Ly S. asks to cash out 20,000 KHR\n1 Approve\n2 Decline"
        )
        assert phone.press("1") == "CON Approve 20,000 KHR to Ly S.\nEnter your PIN"
        approved = phone.press(PIN)
        assert approved.startswith("END Approved. Take 20,000 KHR in cash from the agent. Ref ")
        second = ask("cash-2", 5_000)
        assert phone.run("4", "1", "2") == "END Declined. No money moved."
        gateway.wait_for_height(core.height)
        pending = approvals.pending(engine, customer, services.clock_ms())
        assert pending == [] and first.id != second.id
        assert phone.run("1", PIN) == "END Balance 5821@aclb\n40,000 KHR\n0.00 USD"
        assert phone.run("4") == "END No cash-out request is waiting for you."


def test_the_json_shape_dials_the_same_menus(gateway: RunningGateway, core: Core) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        _registered(http)
        cash_in(core, "5821@aclb", 7_000)
        gateway.wait_for_height(core.height)
        phone = Phone(http, FEATURE, aggregator=JSON)
        assert phone.dial().startswith("CON ACLB\n1 Balance")
        assert phone.post().json()["message"].startswith("ACLB\n1 Balance")  # a repeated dial
        assert phone.press("1") == "CON Balance\nEnter your PIN"
        assert phone.press(PIN) == "END Balance 5821@aclb\n7,000 KHR\n0.00 USD"
        stranger = Phone(http, "+85512000077", aggregator=JSON)
        stranger.session_id = "never-dialled"
        assert stranger.post(latest="1").json() == {
            "sessionId": "never-dialled", "action": "END",
            "message": "វគ្គនេះបានបញ្ចប់។ ចុច *855# ម្តងទៀត។",
        }  # fmt: skip


def _all_rows(engine: Engine) -> list[str]:
    """Every text and binary value of every table, as text."""
    found = []
    with engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                for value in row:
                    if isinstance(value, str):
                        found.append(value)
                    elif isinstance(value, bytes):
                        found.append(value.decode("latin-1"))
    return found


def test_the_pin_never_reaches_a_row_a_log_or_an_error(
    gateway: RunningGateway, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bakong")
    caplog.set_level(logging.DEBUG, logger="uvicorn.error")
    caplog.set_level(logging.DEBUG, logger="uvicorn.access")
    new_pin = "730614"
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        phone = _registered(http)
        register(http, gateway, APP_USER, "dara_sok", "Dara Sok")
        cash_in(core, "5821@aclb", 50_000)
        gateway.wait_for_height(core.height)
        assert phone.run("2", "012000002", "1", "1000", WRONG).startswith("CON Wrong PIN")
        assert phone.press(PIN).startswith("END Sent 1,000 KHR")
        claim = phone.run("2", "012000377", "1", "1000", WRONG)
        assert claim.startswith("CON Wrong PIN")
        assert phone.press(PIN).startswith("END 1,000 KHR waits for +855 *** 377")
        assert phone.run("6", PIN, new_pin, new_pin) == "END Your PIN is changed."
        assert phone.run("1", new_pin).startswith("END Balance")
        errors = [phone.post(f"1*{PIN}*x").text, phone.post("*".join([PIN] * 41)).text,
                  phone.post(f"1*{PIN}{'1' * 20}").text]  # fmt: skip
        assert all('"code":"ussd_' in error for error in errors), errors
        gateway.wait_for_height(core.height)
    rows = "\n".join(_all_rows(gateway.services.engine))
    assert "5821@aclb" in rows and "Sent 1,000 KHR" in rows  # the search looks where data is
    lines = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert "ussd hit" in lines and "/ussd/callback" in lines
    for secret in (PIN, WRONG, new_pin):
        for where, text in (("row", rows), ("log", lines), ("log", caplog.text),
                            ("error", "\n".join(errors))):  # fmt: skip
            assert secret not in text, f"a PIN in a {where}"
    assert FEATURE not in lines and FEATURE.lstrip("+") not in lines


def _claims_of(engine: Engine, account: str) -> list[str]:
    table = db.claims
    with engine.connect() as connection:
        return list(connection.execute(
            sa.select(table.c.state).where(table.c.payer_account == account).order_by(table.c.id)
        ).scalars())  # fmt: skip


def test_money_for_a_phone_with_no_wallet_waits_for_its_claim_by_ussd(
    gateway: RunningGateway, core: Core
) -> None:
    engine, newcomer = gateway.services.engine, "+85512000377"
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        phone = _registered(http)
        cash_in(core, "5821@aclb", 100_000)
        gateway.wait_for_height(core.height)
        offered = phone.run("2", "012000377")
        assert offered == (
            "CON +855 *** 377 has no wallet yet. We text them a code to claim the money at any "
            "bank.\n1 KHR\n2 USD"
        )
        assert phone.press("1") == "CON Amount in KHR"
        assert phone.press("30000").startswith("CON Send 30,000 KHR to +855 *** 377 (no wallet")
        assert phone.press(WRONG).startswith("CON Wrong PIN: 4 tries left.")
        placed = phone.press(PIN)
        assert placed.startswith("END 30,000 KHR waits for +855 *** 377, who is texted a code.")
        assert _claims_of(engine, "5821@aclb") == ["pending_claim"]
        with engine.connect() as connection:  # the number typed is kept sealed, never as typed
            states = connection.execute(sa.select(db.ussd_sessions.c.state)).scalars().all()
        assert states and not any(
            number in state for state in states for number in (newcomer, "012000377", "000377")
        )
        receipt = outbox(engine, FEATURE)[-1]
        assert receipt.startswith("Sent 30,000 KHR to +855 *** 377, who has no wallet yet")
        assert "bank aclb, code " in outbox(engine, newcomer)[-1]
        # Replayed, and resumed after its row was swept: the same claim, never a second one.
        assert phone.post().text == placed
        with engine.begin() as connection:
            connection.execute(sa.delete(db.ussd_sessions))
        assert phone.post().text == placed
        assert _claims_of(engine, "5821@aclb") == ["pending_claim"]
        assert len([text for text in outbox(engine, FEATURE) if "no wallet yet" in text]) == 1
        gateway.wait_for_height(core.height)
        assert phone.run("1", PIN) == "END Balance 5821@aclb\n70,000 KHR\n0.00 USD"
        assert "-30,000 KHR waiting" in phone.run("5", PIN)

        # The newcomer opens a wallet by USSD and claims it: a wrong code is counted first.
        code = outbox(engine, newcomer)[-1].split("code ")[1][:10]
        wrong = f"{(int(code) + 1) % 10**10:010d}"
        claimant = _registered(http, "6377", newcomer)
        banks = [participant.code for participant in gateway.services.genesis.participants]
        listed = claimant.run("8")
        assert listed.startswith("CON Claim money\nWhich bank texted you the code?\n1 ")
        key = str(banks.index("aclb") + 1)
        assert claimant.press(key) == "CON Enter the 10-digit code from the SMS of bank aclb"
        assert claimant.press("12345").startswith("CON Not a code from the SMS.")
        assert claimant.press(wrong).startswith(
            f"CON Wrong code: {limits.claim_attempts_max - 1} tries left.\nEnter the 10-digit"
        )
        claimed = claimant.press(code)
        assert claimed == (
            "END Received 30,000 KHR into your wallet 6377@aclb. An SMS receipt follows."
        )
        gateway.wait_for_height(core.height)
        assert claimant.run("1", PIN) == "END Balance 6377@aclb\n30,000 KHR\n0.00 USD"
        assert outbox(engine, newcomer)[-1].startswith("Received 30,000 KHR from ")
        assert "was claimed" in outbox(engine, FEATURE)[-1]
        assert "-30,000 KHR claimed" in phone.run("5", PIN)
        assert _claims_of(engine, "5821@aclb") == ["claimed"]
        again = claimant.run("8", key, code)  # claimed already: the same answer, no more money
        assert again == claimed
        assert claimant.run("8", key, wrong).startswith("END No money waits for your number")
        gateway.wait_for_height(core.height)
        assert claimant.run("1", PIN) == "END Balance 6377@aclb\n30,000 KHR\n0.00 USD"


def test_money_nobody_claims_comes_back_and_the_statement_says_so(
    engine: Engine, core: Core
) -> None:
    period_ms = 3_000
    with (
        ussd_gateway(engine, core, claims=ClaimsConfig(period_ms=period_ms)) as gateway,
        httpx.Client(base_url=gateway.url, timeout=30) as http,
    ):
        phone = _registered(http)
        cash_in(core, "5821@aclb", 50_000)
        gateway.wait_for_height(core.height)
        placed = phone.run("2", "012000388", "1", "20000", PIN)
        assert placed.startswith("END 20,000 KHR waits for +855 *** 388")
        gateway.wait_for_height(core.height)
        assert phone.run("1", PIN) == "END Balance 5821@aclb\n30,000 KHR\n0.00 USD"
        time.sleep(period_ms / 1000 + 0.5)
        core.commit([])  # the first block past the expiry returns the hold
        deadline = time.monotonic() + 10
        while _claims_of(engine, "5821@aclb") != ["returned"]:
            assert time.monotonic() < deadline, "the claim did not come back"
            time.sleep(0.05)
        gateway.wait_for_height(core.height)
        assert phone.run("1", PIN) == "END Balance 5821@aclb\n50,000 KHR\n0.00 USD"
        assert "-20,000 KHR returned" in phone.run("5", PIN)
        assert "was not claimed and is back in your wallet" in outbox(engine, FEATURE)[-1]
