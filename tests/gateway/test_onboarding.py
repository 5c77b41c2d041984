"""Onboarding that survives a crash, and the per-client limits on login and code requests:
the app over a real node API on an in-memory chain, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.cli import main as cli
from bakong.client import Client, alias_hash
from bakong.gateway import db, sessions, submission, wallets
from bakong.gateway.app import create_app
from bakong.gateway.home import GatewayConfig, GatewaySection, init_home
from bakong.gateway.service import GatewayServices
from bakong.gateway.throttle import ClientLimiter
from bakong.ledger.genesis import encode_genesis
from bakong.ledger.records import AccountKind
from tests.gateway.conftest import Core, gateway_key, make_services

PIN = "482913"
PHONE = "+85512000071"


def _details(code: str) -> dict[str, str]:
    return {"phone": PHONE, "code": code, "handle": "sokha_chan", "name": "Sokha Chan",
            "birth_date": "1990-04-17", "pin": PIN}  # fmt: skip


def _newest_code(engine: Engine, phone: str) -> str:
    with engine.connect() as connection:
        body = connection.execute(
            sa.select(db.sms_outbox.c.body)
            .where(db.sms_outbox.c.phone == phone)
            .order_by(db.sms_outbox.c.id.desc())
        ).scalar()
    assert isinstance(body, str)
    return next(word for word in body.replace(".", " ").split() if word.isdigit())


async def _post(
    services: GatewayServices, path: str, body: Any, client: str = "10.0.0.1"
) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(services, background=False), client=(client, 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://aclb") as http:
        return await http.post(path, json=body)


def _rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        customers = connection.execute(sa.select(sa.func.count()).select_from(db.customers))
        submissions = connection.execute(sa.select(sa.func.count()).select_from(db.submissions))
        return customers.scalar_one(), submissions.scalar_one()


async def _on_ledger(services: GatewayServices, account_id: str) -> None:
    account = await services.core.account(account_id)
    assert account.kind is AccountKind.personal
    alias = await services.core.alias(alias_hash(services.alias_key, PHONE))
    assert alias.account_id == account_id


def test_a_registration_whose_core_was_unreachable_finishes_when_sent_again(
    engine: Engine, core: Core
) -> None:
    """The row and the signed bytes are stored, the core never got them, the process goes
    away; the customer sends the same details again to a new process: one account, its alias."""
    crashed = make_services(engine, core)
    crashed.core = Client("http://127.0.0.1:9", gateway_key(), chain_id=core.sandbox.chain_id)

    async def first() -> None:
        assert (await _post(crashed, "/v1/register/start", {"phone": PHONE})).status_code == 202
        details = _details(_newest_code(engine, PHONE))
        answer = await _post(crashed, "/v1/register/finish", details)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"account_id": "sokha_chan@aclb", "state": "submitted"}
        await crashed.core.aclose()

    asyncio.run(first())
    assert _rows(engine) == (1, 1)
    restarted = make_services(engine, core)

    async def again() -> None:
        async with restarted.core:
            details = _details(_newest_code(engine, PHONE))
            answer = await _post(restarted, "/v1/register/finish", details)
            assert answer.status_code == 201, answer.text
            assert answer.json()["account_id"] == "sokha_chan@aclb"
            wrong = await _post(restarted, "/v1/register/finish", {**details, "pin": "590142"})
            assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "code_spent"
            await _on_ledger(restarted, "sokha_chan@aclb")

    asyncio.run(again())
    assert _rows(engine) == (1, 1)


def test_a_registration_stored_before_a_crash_reaches_the_ledger_after_the_restart(
    engine: Engine, core: Core
) -> None:
    """The process dies right after the row is written (nothing sent): the restarted
    gateway's resubmitter puts the account on the ledger once, and the customer's retry is
    answered with a session for it."""
    crashed = make_services(engine, core)

    async def first() -> None:
        async with crashed.core:
            assert (await _post(crashed, "/v1/register/start", {"phone": PHONE})).status_code == 202
            body = _details(_newest_code(engine, PHONE))
            onboarding = wallets.Onboarding(
                handle="sokha_chan", account_id="sokha_chan@aclb", phone=PHONE,
                name="Sokha Chan", birth_date="1990-04-17", kind="personal", tier=0,
                public_key=bytes(gateway_key("sokha").public_key), sealed=None,
                pin_hash=wallets.pins.hash_pin(PIN),
            )  # fmt: skip
            transaction = wallets._onboarding_transaction(crashed, onboarding)
            enrolled = wallets._enrol(
                crashed, onboarding, transaction, body["code"], PIN, crashed.clock_ms(), None
            )
            assert isinstance(enrolled, int)  # stored; the process dies before sending

    asyncio.run(first())
    restarted = make_services(engine, core)
    restarted.clock_ms = lambda: core.sandbox.time_ms + 60_000  # past the resubmit interval

    async def after() -> None:
        async with restarted.core:
            assert await submission.resume_unfinished(restarted, wait_s=5.0) == 1
            await _on_ledger(restarted, "sokha_chan@aclb")
            assert await submission.resume_unfinished(restarted) == 0
            retry = await _post(restarted, "/v1/register/finish", _details(body_code))
            assert retry.status_code == 201, retry.text

    body_code = _newest_code(engine, PHONE)
    asyncio.run(after())
    assert _rows(engine) == (1, 1)


def test_the_token_bucket_refills_and_forgets_the_idlest_address() -> None:
    limiter = ClientLimiter(per_min=60, burst=2, what="logins", tracked_max=2)
    assert limiter.wait_ms("a", 0) == 0 and limiter.wait_ms("a", 0) == 0
    assert limiter.wait_ms("a", 0) == 1_000  # one a second
    assert limiter.wait_ms("a", 400) == 600
    assert limiter.wait_ms("a", 1_000) == 0
    assert limiter.wait_ms("a", 500) > 0  # a clock stepped back refills nothing
    assert limiter.wait_ms("b", 1_000) == 0 and limiter.wait_ms("c", 1_000) == 0
    assert limiter.tracked == 2  # "a" was seen least recently: forgotten, starts over
    assert limiter.wait_ms("a", 1_000) == 0


@pytest.mark.parametrize(
    ("path", "burst", "body"),
    [
        ("/v1/sessions", limits.client_login_burst, {"handle": "nobody_here", "pin": PIN}),
        ("/v1/register/start", limits.client_code_burst, None),
    ],
)
def test_login_and_code_requests_are_limited_per_client_address(
    engine: Engine, core: Core, path: str, burst: int, body: dict[str, str] | None
) -> None:
    services = make_services(engine, core)
    now = [core.sandbox.time_ms]
    services.clock_ms = lambda: now[0]
    app = create_app(services, background=False)

    async def scenario() -> None:
        async def post(client: str, number: int) -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=(client, 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://aclb") as http:
                return await http.post(path, json=body or {"phone": f"+8551{number:07d}"})

        async with services.core:
            for number in range(burst):
                assert (await post("10.0.0.7", number)).status_code != 429
            refused = await post("10.0.0.7", burst)
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "rate_limited"
            assert int(refused.headers["retry-after"]) >= 1
            assert (await post("10.0.0.8", burst + 1)).status_code != 429  # another address
            now[0] += int(refused.headers["retry-after"]) * 1_000
            assert (await post("10.0.0.7", burst + 2)).status_code != 429

    asyncio.run(scenario())


def test_officer_token_opens_an_officer_session_in_the_homes_store(
    tmp_path: Path, database_url: str
) -> None:
    """`bakong gateway officer-token --name`: a token of that officer, for as long as asked."""
    core = Core()  # only its genesis is needed: the command never calls the core
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(core.sandbox.genesis))
    config = GatewayConfig(GatewaySection("aclb", "http://core.test"))
    init_home(tmp_path / "home", config, genesis)
    runner = CliRunner()
    arguments = ["gateway", "officer-token", "--home", str(tmp_path / "home"), "--name",
                 "kanha", "--database", database_url, "--ttl-minutes", "30", "--json"]  # fmt: skip
    assert runner.invoke(cli, arguments).exit_code == 2  # no such officer yet
    added = runner.invoke(cli, ["gateway", "officer", "add", "--home", str(tmp_path / "home"),
                                "--name", "kanha", "--database", database_url])  # fmt: skip
    assert added.exit_code == 0, added.output
    before_ms = time.time_ns() // 1_000_000
    printed = runner.invoke(cli, arguments)
    assert printed.exit_code == 0, printed.output
    answer = json.loads(printed.output)
    assert before_ms + 30 * 60_000 <= answer["expires_ms"] <= before_ms + 31 * 60_000
    engine = db.engine_for(database_url)
    try:
        with engine.connect() as connection:
            found = sessions.find_session(connection, answer["token"], before_ms)
    finally:
        engine.dispose()
    assert found is not None and found.role == "officer" and found.customer_id > 0
    too_long = runner.invoke(cli, [*arguments[:-2], "--ttl-minutes", "100000"])
    assert too_long.exit_code == 2


def test_a_refused_registration_nobody_retries_is_swept_and_frees_handle_and_phone(
    engine: Engine, core: Core
) -> None:
    """The ledger refuses a stored merchant opening (the projection finishes it `rejected`)
    and nobody sends it again: the sweeper undoes it as a retry would, rows and all."""
    services = make_services(engine, core)
    onboarding = wallets.Onboarding(
        handle="noodle_bar", account_id="noodle_bar@aclb", phone=PHONE, name="Noodle Bar",
        birth_date=None, kind="merchant", tier=2, public_key=bytes(gateway_key("n").public_key),
        sealed=None, pin_hash=wallets.pins.hash_pin(PIN),
    )  # fmt: skip

    def merchant_row(connection: sa.Connection) -> None:
        wallets.merchants.register_merchant(
            connection, "noodle_bar@aclb", merchant_id="noodle_bar", acquiring_bank="ACLEDA"
        )

    transaction = wallets._onboarding_transaction(services, onboarding)
    customer_id = wallets._enrol(services, onboarding, transaction, None, PIN, 1_000, merchant_row)
    assert isinstance(customer_id, int)
    stored = wallets._stored_onboarding(engine, customer_id)
    assert stored is not None and stored.tx_hash is not None
    with engine.begin() as connection:
        assert submission.finish_submission(connection, stored.tx_hash, "account_exists", 7, 2_000)

    async def sweep(now_ms: int) -> int:
        services.clock_ms = lambda: now_ms
        return await wallets.sweep_rejected_onboardings(services)  # the core is not needed

    assert asyncio.run(sweep(2_000)) == 0  # a retry in flight undoes its own first
    assert _rows(engine) == (1, 1)
    assert asyncio.run(sweep(2_000 + limits.onboarding_sweep_grace_ms)) == 1
    assert _rows(engine) == (0, 0)
    with engine.connect() as connection:
        assert connection.execute(sa.select(db.merchants)).all() == []
    assert asyncio.run(sweep(3_000 + limits.onboarding_sweep_grace_ms)) == 0
    again = wallets._enrol(services, onboarding, transaction, None, PIN, 4_000, merchant_row)
    assert isinstance(again, int)  # handle and phone are free again


def test_a_retry_claims_a_refused_registration_from_the_sweeper(
    engine: Engine, core: Core
) -> None:
    """The sweeper has listed a refused onboarding when its retry arrives: the retry resumes
    it and the sweeper's delete, conditional on a submission nobody touched since it looked,
    leaves it to the retry. The other way round, a retry whose rows the sweeper removed
    (their id perhaps taken by a newer registration) is not resumed."""
    services = make_services(engine, core)

    def merchant(handle: str, phone: str) -> wallets.Onboarding:
        return wallets.Onboarding(
            handle=handle, account_id=f"{handle}@aclb", phone=phone, name="Noodle Bar",
            birth_date=None, kind="merchant", tier=2,
            public_key=bytes(gateway_key(handle).public_key), sealed=None,
            pin_hash=wallets.pins.hash_pin(PIN),
        )  # fmt: skip

    def refused(onboarding: wallets.Onboarding, at_ms: int) -> tuple[int, int]:
        transaction = wallets._onboarding_transaction(services, onboarding)
        customer_id = wallets._enrol(services, onboarding, transaction, None, PIN, at_ms, None)
        assert isinstance(customer_id, int)
        stored = wallets._stored_onboarding(engine, customer_id)
        assert stored is not None and stored.tx_hash is not None
        with engine.begin() as connection:
            assert submission.finish_submission(
                connection, stored.tx_hash, "account_exists", 7, at_ms + 1
            )
        return customer_id, stored.id

    noodles = merchant("noodle_bar", PHONE)
    customer_id, submission_id = refused(noodles, 1_000)
    looked_ms = 2_000 + limits.onboarding_sweep_grace_ms
    listed = wallets._rejected_onboardings(engine, looked_ms - limits.onboarding_sweep_grace_ms)
    assert listed == [(customer_id, submission_id)]
    transaction = wallets._onboarding_transaction(services, noodles)
    resumed = wallets._enrol(services, noodles, transaction, None, PIN, looked_ms + 1, None)
    assert resumed == wallets._Resume(customer_id)
    # The sweeper goes on with what it listed: the retry's claim stops it.
    assert not wallets._undo(
        engine, customer_id, submission_id, looked_ms - limits.onboarding_sweep_grace_ms
    )
    assert _rows(engine) == (1, 1)
    assert wallets._undo(engine, customer_id, submission_id)  # the retry undoes its own
    assert _rows(engine) == (0, 0)

    # The sweeper first: its rows go, and a newer registration may take the id on SQLite.
    customer_id, submission_id = refused(noodles, 10_000)
    assert wallets._undo(engine, customer_id, submission_id, 11_001)
    other = merchant("rice_shop", "+85512000072")
    newer = wallets._enrol(
        services, other, wallets._onboarding_transaction(services, other), None, PIN, 12_000, None
    )
    assert isinstance(newer, int)
    with engine.begin() as connection:  # the retry's check, as it runs inside `_enrol`
        assert not wallets._resumable(connection, customer_id, noodles, 12_001)
