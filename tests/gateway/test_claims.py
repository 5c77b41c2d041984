"""Money sent to a phone with no wallet (issue 17, "Wallets made by receiving money"): two
running gateways (aclb, the payer's bank, on SQLite and on PostgreSQL; wing on SQLite) over a
real node API on an in-memory chain, finding each other through the URLs the central bank
publishes on the ledger.

A payment to a phone that has no wallet anywhere waits in a hold, the payee is texted a code,
registers at the other bank and claims it (a wrong code refused and counted, a replay paying
nothing more); money nobody claims comes back after the claim period; five wrong codes lock a
claim; a gateway stopped between the post and the transfer finishes the claim after its
restart; the route between banks takes only gateways' signed requests."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.client import alias_hash, set_participant_endpoint
from bakong.errors import ConfigError
from bakong.gateway import claiming, claims, db, submission
from bakong.gateway.app import create_app
from bakong.gateway.cash_config import AgentsConfig, ClaimsConfig
from bakong.gateway.claim_records import escrow_account
from bakong.gateway.home import GatewayConfig, GatewaySection, init_home, load_home
from bakong.ledger.assets import Asset
from bakong.ledger.genesis import encode_genesis
from bakong.sandbox import sandbox_key
from bakong.wire.request import sign_request
from tests.gateway.conftest import WAIT_S, Core, RunningGateway, make_services
from tests.gateway.loopback import serve
from tests.gateway.test_wallets import auth, register

SOKHA = "+85512000301"  # the payer, at aclb
NEWCOMER = "+85512000377"  # no wallet anywhere, until she opens one
_CODE = re.compile(r"code ([0-9]{10})")


@contextmanager
def bank(engine: Engine, core: Core, code: str, period_ms: int | None = None) -> Iterator[
    RunningGateway
]:
    """Participant `code`'s gateway running over `engine`, its URL published on the ledger."""
    services = make_services(engine, core, code)
    if period_ms is not None:
        services.config = msgspec.structs.replace(
            services.config, claims=ClaimsConfig(period_ms=period_ms)
        )
    app = create_app(services)
    with serve(app) as url:
        core.commit([core.sandbox.transaction("nbc", [set_participant_endpoint(code, url)])])
        yield RunningGateway(url, services, app)


def sqlite_engine(tmp_path: Path, name: str) -> Engine:
    engine = db.engine_for(db.sqlite_url(tmp_path / f"{name}.db"))
    db.migrate(engine)
    return engine


def fund(core: Core, code: str, account: str, amount: int, asset: Asset = Asset.KHR) -> None:
    """The central bank issues to `code`'s settlement account, which pays `account`."""
    sandbox = core.sandbox
    settlement = f"settlement@{code}"
    core.commit([sandbox.transaction("nbc", [sandbox.issue(code, asset, amount, f"r-{account}")])])
    core.commit([sandbox.transaction(settlement, [
        sandbox.transfer(settlement, account, asset, amount)
    ])])  # fmt: skip


def texts(gateway: RunningGateway, phone: str) -> list[str]:
    table = db.sms_outbox
    with gateway.services.engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(table.c.body).where(table.c.phone == phone).order_by(table.c.id)
            ).scalars()
        )


def claim_code_for(gateway: RunningGateway, phone: str) -> str:
    found = [_CODE.search(text) for text in texts(gateway, phone)]
    codes = [match.group(1) for match in found if match is not None]
    assert codes, "no claim code was texted"
    return codes[-1]


def wallet(http: httpx.Client, token: str, asset: str = "KHR") -> dict[str, int]:
    answer = http.get("/v1/wallet", headers=auth(token))
    assert answer.status_code == 200, answer.text
    balance: dict[str, int] = answer.json()["balances"][asset]
    return balance


def send(
    http: httpx.Client, token: str, key: str, phone: str, amount: int, **extra: Any
) -> httpx.Response:
    body = {"idempotency_key": key, "to": {"phone": phone}, "amount": amount, "asset": "KHR"}
    return http.post("/v1/payments", headers=auth(token), json=body | extra)


def wait_for(condition: Any, what: str, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} did not happen in time"
        time.sleep(0.05)


def claim_state(gateway: RunningGateway, http: httpx.Client, token: str, claim_id: str) -> str:
    answer = http.get(f"/v1/claims/{claim_id}", headers=auth(token))
    assert answer.status_code == 200, answer.text
    state: str = answer.json()["state"]
    return state


def test_a_payment_to_a_phone_without_a_wallet_is_claimed_after_registering_at_another_bank(
    engine: Engine, core: Core, tmp_path: Path
) -> None:
    wing_engine = sqlite_engine(tmp_path, "wing")
    with (
        bank(engine, core, "aclb") as aclb, bank(wing_engine, core, "wing") as wing,
        httpx.Client(base_url=aclb.url, timeout=30) as at_aclb,
        httpx.Client(base_url=wing.url, timeout=30) as at_wing,
    ):  # fmt: skip
        sokha = register(at_aclb, aclb, SOKHA, "sokha_chan", "Sokha Chan")
        fund(core, "aclb", "sokha_chan@aclb", 1_000_000)
        aclb.wait_for_height(core.height)
        preview = at_aclb.post("/v1/payments/preview", headers=auth(sokha), json={
            "to": {"phone": NEWCOMER}, "amount": 30_000, "asset": "KHR"})  # fmt: skip
        assert preview.status_code == 404 and preview.json()["error"]["claimable"] is True

        sent = send(at_aclb, sokha, "gift-1", NEWCOMER, 30_000, memo="for the bus")
        assert sent.status_code == 200, sent.text
        claim = sent.json()["claim"]
        assert sent.json()["state"] == "committed" and claim["state"] == "pending_claim"
        assert claim["phone"] == "+855 *** 377" and NEWCOMER not in sent.text
        assert send(at_aclb, sokha, "gift-1", NEWCOMER, 30_000, memo="for the bus").json() == (
            sent.json()
        )  # a retry: the same claim, nothing more
        aclb.wait_for_height(core.height)
        assert wallet(at_aclb, sokha) == {"available": 970_000, "held": 30_000}
        status = at_aclb.get("/v1/payments/gift-1", headers=auth(sokha)).json()
        assert status["claim"]["state"] == "pending_claim"
        page = at_aclb.get("/v1/wallet/history", headers=auth(sokha)).json()["entries"]
        waiting = [entry for entry in page if entry.get("claim")]
        assert [(e["id"], e["amount"], e["claim"]["state"]) for e in waiting] == [
            (None, 30_000, "pending_claim")
        ]
        text = texts(aclb, NEWCOMER)[-1]
        assert "Sokha C." in text and "30,000 KHR" in text and "bank aclb" in text
        code = claim_code_for(aclb, NEWCOMER)

        # She opens a wallet at wing with that phone, and claims with the bank and the code.
        dara = register(at_wing, wing, NEWCOMER, "dara_new", "Dara New", participant="wing")
        wrong = "0" * 10 if code != "0" * 10 else "1" * 10
        refused = at_wing.post("/v1/wallet/claims", headers=auth(dara),
                               json={"bank": "aclb", "code": wrong})  # fmt: skip
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "claim_code_wrong"
        assert error["attempts_left"] == limits.claim_attempts_max - 1
        claimed = at_wing.post("/v1/wallet/claims", headers=auth(dara),
                               json={"bank": "aclb", "code": code})  # fmt: skip
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["state"] == "claimed" and claimed.json()["amount"] == 30_000
        again = at_wing.post("/v1/wallet/claims", headers=auth(dara),
                             json={"bank": "aclb", "code": code})  # fmt: skip
        assert again.status_code == 200 and again.json() == claimed.json()  # replayed: no more

        wing.wait_for_height(core.height)
        aclb.wait_for_height(core.height)
        assert wallet(at_wing, dara) == {"available": 30_000, "held": 0}
        assert wallet(at_aclb, sokha) == {"available": 970_000, "held": 0}
        assert wallet_of(aclb, escrow_account("aclb")) == 0  # the escrow passed it on
        assert claim_state(aclb, at_aclb, sokha, claim["claim_id"]) == "claimed"
        assert "was claimed" in texts(aclb, SOKHA)[-1]
        page = at_aclb.get("/v1/wallet/history", headers=auth(sokha)).json()["entries"]
        posted = [entry for entry in page if entry.get("claim")]
        assert len(posted) == 1 and posted[0]["id"] is not None  # the post, on the ledger
        assert posted[0]["claim"]["state"] == "claimed"
        assert posted[0]["claim"]["claimant_bank"] == "wing"
    wing_engine.dispose()


def wallet_of(gateway: RunningGateway, account: str) -> int:
    table = db.balances
    with gateway.services.engine.connect() as connection:
        value = connection.execute(
            sa.select(table.c.available).where(
                table.c.account_id == account, table.c.asset == "KHR"
            )
        ).scalar_one_or_none()
    return int(value or 0)


def test_money_nobody_claims_returns_to_the_payer_after_the_claim_period(
    engine: Engine, core: Core
) -> None:
    period_ms = 3_000
    with (
        bank(engine, core, "aclb", period_ms=period_ms) as aclb,
        httpx.Client(base_url=aclb.url, timeout=30) as http,
    ):
        sokha = register(http, aclb, SOKHA, "sokha_chan", "Sokha Chan")
        fund(core, "aclb", "sokha_chan@aclb", 500_000)
        sent = send(http, sokha, "gift-2", NEWCOMER, 40_000)
        assert sent.status_code == 200, sent.text
        claim_id = sent.json()["claim"]["claim_id"]
        aclb.wait_for_height(core.height)
        assert wallet(http, sokha) == {"available": 460_000, "held": 40_000}
        time.sleep(period_ms / 1000 + 0.5)
        core.commit([])  # the first block past the expiry returns the hold
        wait_for(lambda: claim_state(aclb, http, sokha, claim_id) == "returned", "the return")
        aclb.wait_for_height(core.height)
        assert wallet(http, sokha) == {"available": 500_000, "held": 0}
        assert "not claimed and is back" in texts(aclb, SOKHA)[-1]
        status = http.get("/v1/payments/gift-2", headers=auth(sokha)).json()
        assert status["claim"]["state"] == "returned" and status["claim"]["reason"]
        page = http.get("/v1/wallet/history", headers=auth(sokha)).json()["entries"]
        assert [(e["result"], e["claim"]["state"]) for e in page if e.get("claim")] == [
            ("returned", "returned")
        ]
        # Too late now: the code opens nothing.
        code = claim_code_for(aclb, NEWCOMER)
        dara = register(http, aclb, NEWCOMER, "dara_new", "Dara New")
        late = http.post("/v1/wallet/claims", headers=auth(dara),
                         json={"bank": "aclb", "code": code})  # fmt: skip
        assert late.status_code == 410 and late.json()["error"]["code"] == "claim_returned"


def test_wrong_codes_are_refused_and_lock_the_claim_even_against_the_right_one(
    engine: Engine, core: Core
) -> None:
    with bank(engine, core, "aclb") as aclb, httpx.Client(base_url=aclb.url, timeout=30) as http:
        sokha = register(http, aclb, SOKHA, "sokha_chan", "Sokha Chan")
        fund(core, "aclb", "sokha_chan@aclb", 500_000)
        broke = send(http, sokha, "too-much", NEWCOMER, 600_000)  # the ledger refuses the hold
        assert broke.status_code == 422 and broke.json()["error"]["code"] == "insufficient_funds"
        assert broke.json()["payment"]["claim"]["state"] == "refused"
        assert texts(aclb, NEWCOMER) == []  # nothing to claim, nothing texted
        over = send(http, sokha, "over-limit", NEWCOMER, 2_500_000)
        assert over.status_code == 422 and over.json()["error"]["code"] == "daily_limit_exceeded"
        assert send(http, sokha, "gift-3", NEWCOMER, 10_000).status_code == 200
        code = claim_code_for(aclb, NEWCOMER)
        dara = register(http, aclb, NEWCOMER, "dara_new", "Dara New")  # the same bank: local
        wrong = f"{(int(code) + 1) % 10**10:010d}"
        lefts = []
        for _ in range(limits.claim_attempts_max):
            refused = http.post("/v1/wallet/claims", headers=auth(dara),
                                json={"bank": "aclb", "code": wrong})  # fmt: skip
            assert refused.status_code == 403 and code not in refused.text
            lefts.append(refused.json()["error"]["attempts_left"])
        assert lefts == list(range(limits.claim_attempts_max - 1, -1, -1))
        locked = http.post("/v1/wallet/claims", headers=auth(dara),
                           json={"bank": "aclb", "code": code})  # fmt: skip
        assert locked.status_code == 423 and locked.json()["error"]["code"] == "claim_locked"
        aclb.wait_for_height(core.height)
        assert wallet(http, dara) == {"available": 0, "held": 0}
        assert wallet(http, sokha)["held"] == 10_000  # still held: it returns at expiry
        unknown = http.post("/v1/wallet/claims", headers=auth(sokha),  # no claim for her phone
                            json={"bank": "aclb", "code": code})  # fmt: skip
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "claim_not_found"


def test_the_route_between_banks_takes_only_a_gateways_signed_unreplayed_request(
    engine: Engine, core: Core
) -> None:
    with bank(engine, core, "aclb") as aclb, httpx.Client(base_url=aclb.url, timeout=30) as http:
        body = msgspec.json.encode(claims.Redeem(
            alias=alias_hash(aclb.services.alias_key, NEWCOMER).hex(), code="0" * 10,
            account="dara_new@wing", kind="wallet",
        ))  # fmt: skip
        assert http.post(claiming.REDEEM_PATH, content=body).status_code == 401
        own = bytes(aclb.services.gateway_key.public_key)

        def signed(signer: str) -> dict[str, str]:
            return sign_request(aclb.services.chain_id, own, sandbox_key(signer), "POST",
                                claiming.REDEEM_PATH, body, int(time.time() * 1000))  # fmt: skip

        assert http.post(claiming.REDEEM_PATH, content=body,
                         headers=signed("wing/admin")).status_code == 403  # not a gateway key
        headers = signed("wing/gateway")
        first = http.post(claiming.REDEEM_PATH, content=body, headers=headers)
        assert first.status_code == 404 and first.json()["error"]["code"] == "claim_not_found"
        replayed = http.post(claiming.REDEEM_PATH, content=body, headers=headers)
        assert replayed.status_code == 401
        assert replayed.json()["error"]["code"] == "request_replayed"
        other = msgspec.json.decode(body) | {"account": "dara_new@abaa"}  # not wing's account
        forged = msgspec.json.encode(other)
        refused = http.post(claiming.REDEEM_PATH, content=forged, headers=sign_request(
            aclb.services.chain_id, own, sandbox_key("wing/gateway"), "POST",
            claiming.REDEEM_PATH, forged, int(time.time() * 1000)))  # fmt: skip
        assert refused.status_code == 403


def _state(engine: Engine, claim_id: str) -> str | None:
    found = claims.load_claim(engine, claim_id)
    return None if found is None else found.state


def test_a_claim_stopped_between_its_post_and_its_transfer_finishes_after_a_restart(
    engine: Engine, core: Core
) -> None:
    with bank(engine, core, "aclb") as aclb, httpx.Client(base_url=aclb.url, timeout=30) as http:
        sokha = register(http, aclb, SOKHA, "sokha_chan", "Sokha Chan")
        fund(core, "aclb", "sokha_chan@aclb", 300_000)
        assert send(http, sokha, "gift-4", NEWCOMER, 25_000).status_code == 200
        code = claim_code_for(aclb, NEWCOMER)
        dara = register(http, aclb, NEWCOMER, "dara_new", "Dara New")
    # The gateway stopped. A process over the same store begins the claim and gets as far as
    # the post, then dies before the transfer is even signed.
    first = make_services(engine, core, "aclb")
    redeem = claims.Redeem(
        alias=alias_hash(first.alias_key, NEWCOMER).hex(), code=code, account="dara_new@aclb",
        kind="wallet",
    )  # fmt: skip

    async def up_to_the_post() -> str:
        async with first.core:
            opened = await first.db(claims._opened, first, redeem, first.clock_ms())
            assert isinstance(opened, claims.Claim)
            started = await first.db(claims._start, first, opened, redeem, first.clock_ms())
            post = await first.db(claims._step, first.engine, "post", started)
            assert post is not None
            done = await submission.send_signed(first, post, WAIT_S)
            assert done.state is submission.State.committed
            return started.claim_id

    claim_id = asyncio.run(up_to_the_post())
    stored = claims.load_claim(engine, claim_id)
    assert stored is not None and stored.state == "claiming"
    assert claims._step(engine, "pay", stored) is None  # the transfer was never signed
    # The gateway runs again: its claims worker finishes what was left.
    with bank(engine, core, "aclb") as again, httpx.Client(base_url=again.url, timeout=30) as http:
        wait_for(lambda: _state(engine, claim_id) == "claimed", "the resumed claim")
        again.wait_for_height(core.height)
        assert wallet(http, dara) == {"available": 25_000, "held": 0}
        assert wallet(http, sokha) == {"available": 275_000, "held": 0}
        replay = http.post("/v1/wallet/claims", headers=auth(dara),
                           json={"bank": "aclb", "code": code})  # fmt: skip
        assert replay.status_code == 200 and replay.json()["state"] == "claimed"
        again.wait_for_height(core.height)
        assert wallet(http, dara) == {"available": 25_000, "held": 0}
        assert wallet_of(again, escrow_account("aclb")) == 0


def test_the_claim_period_and_agents_caps_are_read_from_the_config(
    tmp_path: Path, core: Core
) -> None:
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(core.sandbox.genesis))
    config = GatewayConfig(
        GatewaySection("aclb", core.url),
        claims=ClaimsConfig(period_ms=86_400_000),
        agents=AgentsConfig(daily_cap_khr=5_000_000, float_alert_usd=50_00),
    )
    home = init_home(tmp_path / "home", config, genesis)
    assert load_home(tmp_path / "home").config == config == home.config
    text = (tmp_path / "home" / "config.toml").read_text()
    assert "[claims]\nperiod_ms = 86400000" in text and "daily_cap_khr = 5000000" in text
    for wrong in (ClaimsConfig(period_ms=limits.hold_expiry_ms_max), ClaimsConfig(period_ms=10)):
        with pytest.raises(ConfigError):
            init_home(tmp_path / f"bad-{wrong.period_ms}", msgspec.structs.replace(
                config, claims=wrong), genesis)  # fmt: skip


def test_no_code_phone_or_secret_in_a_log_line_or_an_error(
    engine: Engine, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bakong")
    with bank(engine, core, "aclb") as aclb, httpx.Client(base_url=aclb.url, timeout=30) as http:
        sokha = register(http, aclb, SOKHA, "sokha_chan", "Sokha Chan")
        fund(core, "aclb", "sokha_chan@aclb", 100_000)
        sent = send(http, sokha, "gift-5", NEWCOMER, 5_000, claim_secret="48213907")
        code = claim_code_for(aclb, NEWCOMER)  # in play: the text carries it
        dara = register(http, aclb, NEWCOMER, "dara_new", "Dara New")
        answers = [sent.text]
        for tried in ("0" * 10, "1" * 10):
            answers.append(http.post("/v1/wallet/claims", headers=auth(dara),
                                     json={"bank": "aclb", "code": tried}).text)  # fmt: skip
        claimed = http.post("/v1/wallet/claims", headers=auth(dara),
                            json={"bank": "aclb", "code": code})  # fmt: skip
        assert claimed.status_code == 200
        answers += [claimed.text, http.get("/v1/claims", headers=auth(sokha)).text]
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    for secret in (code, NEWCOMER, NEWCOMER.lstrip("+"), "48213907"):
        assert secret not in logged
        assert all(secret not in answer for answer in answers)


def test_a_claim_shows_once_in_the_history_however_the_pages_fall(
    engine: Engine, core: Core
) -> None:
    with bank(engine, core, "aclb") as aclb, httpx.Client(base_url=aclb.url, timeout=30) as http:
        sokha = register(http, aclb, SOKHA, "sokha_chan", "Sokha Chan")
        register(http, aclb, "+85512000302", "dara_sok", "Dara Sok")
        fund(core, "aclb", "sokha_chan@aclb", 100_000)

        def pay_dara(key: str, amount: int) -> None:
            body = {"idempotency_key": key, "to": {"account": "dara_sok@aclb"},
                    "amount": amount, "asset": "KHR"}  # fmt: skip
            assert http.post("/v1/payments", headers=auth(sokha), json=body).status_code == 200

        pay_dara("before", 1_000)
        assert send(http, sokha, "gift-6", NEWCOMER, 3_000).status_code == 200
        pay_dara("after", 2_000)
        aclb.wait_for_height(core.height)
        whole = http.get("/v1/wallet/history", headers=auth(sokha)).json()["entries"]
        amounts = [entry["amount"] for entry in whole]
        assert amounts == [2_000, 3_000, 1_000, 100_000]
        paged: list[int] = []
        cursor: int | None = None
        while True:
            query = "limit=1" + ("" if cursor is None else f"&cursor={cursor}")
            page = http.get(f"/v1/wallet/history?{query}", headers=auth(sokha)).json()
            paged += [entry["amount"] for entry in page["entries"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert paged == amounts
        only_in = http.get("/v1/wallet/history?direction=in", headers=auth(sokha)).json()
        assert [entry["amount"] for entry in only_in["entries"]] == [100_000]
