"""Bank officers end to end (issue 16): named officers sign in with a password (and lock out
like PINs), find a customer, change the tier, freeze and unfreeze on the ledger, reset a PIN
through a code the customer receives, read every merchant's webhook deliveries, and every act
is in the append-only log with the officer's name. A running gateway over a real node API on
an in-memory chain, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong import limits
from bakong.cli import main as cli
from bakong.client import set_participant_endpoint
from bakong.gateway import db, officers, sessions
from bakong.gateway.app import create_app
from bakong.gateway.home import GatewayConfig, GatewaySection, init_home
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.genesis import encode_genesis
from bakong.ledger.records import AccountStatus, KycTier
from tests.gateway.conftest import Core, RunningGateway, make_services
from tests.gateway.loopback import serve
from tests.gateway.test_wallets import PIN, _code, auth, cash_in, register

PASSWORD = "correct horse battery"
PHONE = "+85512000701"


@pytest.fixture
def desk(gateway: RunningGateway) -> Iterator[tuple[httpx.Client, str]]:
    """An HTTP client on the gateway and the token of officer `kanha`, signed in by password."""
    services = gateway.services
    officers.add_officer(services.engine, "kanha", PASSWORD, services.clock_ms())
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        signed_in = http.post("/v1/officer/sessions", json={"name": "kanha", "password": PASSWORD})
        assert signed_in.status_code == 201, signed_in.text
        yield http, signed_in.json()["token"]


def _post(http: httpx.Client, token: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(path, headers=auth(token), json=body)


def _log(http: httpx.Client, token: str) -> list[dict[str, Any]]:
    answer = http.get("/v1/officer/actions?limit=50", headers=auth(token))
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["actions"]
    return entries


def test_an_officer_signs_in_by_name_and_password_and_locks_out_like_a_pin(
    gateway: RunningGateway,
) -> None:
    services = gateway.services
    officers.add_officer(services.engine, "kanha", PASSWORD, services.clock_ms())
    with pytest.raises(GatewayProblem):
        officers.add_officer(services.engine, "kanha", PASSWORD, services.clock_ms())  # taken
    with pytest.raises(GatewayProblem):
        officers.add_officer(services.engine, "dara", "short", services.clock_ms())
    with httpx.Client(base_url=gateway.url, timeout=30) as http:

        def sign_in(name: str, password: str) -> httpx.Response:
            return http.post("/v1/officer/sessions", json={"name": name, "password": password})

        good = sign_in("kanha", PASSWORD)
        assert good.status_code == 201 and good.json()["name"] == "kanha"
        token = good.json()["token"]
        limit_ms = limits.officer_session_lifetime_ms_default
        assert good.json()["expires_ms"] <= services.clock_ms() + limit_ms
        assert http.get("/v1/officer/session", headers=auth(token)).json() == {"name": "kanha"}
        nobody = sign_in("nobody", PASSWORD)
        assert nobody.status_code == 401 and nobody.json()["error"]["code"] == "login_failed"
        for _ in range(limits.pin_failures_max):
            wrong = sign_in("kanha", "not the password")
            assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "login_failed"
        locked = sign_in("kanha", PASSWORD)  # the right password, but locked now
        assert locked.status_code == 423 and locked.json()["error"]["code"] == "login_locked"
        assert PASSWORD not in locked.text and "kanha" not in locked.text

        assert officers.disable_officer(services.engine, "kanha")
        assert http.get("/v1/officer/session", headers=auth(token)).status_code == 401
        with services.engine.begin() as connection:  # even with its lock over
            connection.execute(db.officers.update().values(locked_until_ms=0))
        assert sign_in("kanha", PASSWORD).status_code == 401
        # A session of the anonymous officer of old (customer_id 0) names nobody: refused.
        with services.engine.begin() as connection:
            old, _ = sessions.open_session(
                connection, sessions.OFFICER, "officer", services.clock_ms(), services.random_bytes
            )
        assert http.get("/v1/officer/actions", headers=auth(old)).status_code == 401


def test_customer_and_merchant_tokens_cannot_call_officer_routes(
    gateway: RunningGateway, desk: tuple[httpx.Client, str]
) -> None:
    http, officer = desk
    customer = register(http, gateway, PHONE, "sokha_chan", "Sokha Chan")
    opened = _post(http, officer, "/v1/officer/merchants", {
        "handle": "noodle_bar", "name": "Noodle Bar", "phone": "+85590000042", "pin": "260719",
    })  # fmt: skip
    assert opened.status_code == 201, opened.text
    till = http.post("/v1/sessions", json={"handle": "noodle_bar", "pin": "260719"}).json()
    calls = [
        ("POST", "/v1/officer/customers/search", {"handle": "sokha_chan"}),
        ("GET", "/v1/officer/customers/sokha_chan", None),
        ("POST", "/v1/officer/customers/sokha_chan/tier",
         {"tier": 2, "reason": "x", "documents_checked": True}),
        ("POST", "/v1/officer/customers/sokha_chan/freeze", {"reason": "x"}),
        ("POST", "/v1/officer/customers/sokha_chan/pin-reset",
         {"reason": "x", "identity_checked": True}),
        ("POST", "/v1/officer/merchants", {"handle": "shop_two", "name": "Shop",
                                           "phone": "+85590000043", "pin": "260719"}),
        ("GET", "/v1/officer/webhooks", None),
        ("GET", "/v1/officer/actions", None),
        ("GET", "/v1/officer/session", None),
    ]  # fmt: skip
    for token in (customer, till["token"], "bgs_" + "A" * 43):
        for method, path, body in calls:
            answer = http.request(method, path, headers=auth(token), json=body)
            assert answer.status_code == 401, (method, path, answer.text)
    assert [entry["action"] for entry in _log(http, officer)] == ["merchant_open"]


def test_find_a_customer_change_the_tier_and_every_act_is_logged_with_its_officer(
    gateway: RunningGateway, core: Core, desk: tuple[httpx.Client, str]
) -> None:
    http, officer = desk
    register(http, gateway, PHONE, "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", 25_000)
    gateway.wait_for_height(core.height)
    search = "/v1/officer/customers/search"
    for query in ({"phone": PHONE}, {"handle": "sokha_chan"}, {"account_id": "sokha_chan@aclb"}):
        found = _post(http, officer, search, query)
        assert found.status_code == 200, found.text
        assert found.json() == {
            "handle": "sokha_chan", "account_id": "sokha_chan@aclb", "name": "Sokha Chan",
            "kind": "personal", "tier": 0, "status": "active",
        }  # fmt: skip
    missing = _post(http, officer, search, {"phone": "+85512000799"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "customer_not_found"
    assert "+85512000799" not in missing.text
    both = _post(http, officer, search, {"phone": PHONE, "handle": "sokha_chan"})
    assert both.status_code == 400  # exactly one key: no listing, no fishing with two

    page = http.get("/v1/officer/customers/sokha_chan", headers=auth(officer)).json()
    assert (page["tier"], page["status"], page["phone"], page["pin_locked"]) == (
        0, "active", PHONE, False,
    )  # fmt: skip
    assert page["balances"]["KHR"] == {"available": 25_000, "held": 0}
    assert [(p["direction"], p["amount"]) for p in page["payments"]] == [("in", 25_000)]

    tier = "/v1/officer/customers/sokha_chan/tier"
    unchecked = _post(http, officer, tier, {"tier": 2, "reason": "passport seen"})
    assert unchecked.status_code == 400
    assert unchecked.json()["error"]["code"] == "documents_not_checked"
    no_reason = _post(http, officer, tier, {"tier": 2, "reason": "", "documents_checked": True})
    assert no_reason.status_code == 400
    raised = _post(http, officer, tier,
                   {"tier": 2, "reason": "passport seen", "documents_checked": True})  # fmt: skip
    assert raised.status_code == 200, raised.text
    assert core.sandbox.account("sokha_chan@aclb").tier == KycTier.full  # type: ignore[union-attr]
    lowered = _post(http, officer, tier, {"tier": 1, "reason": "passport expired"})
    assert lowered.status_code == 200, lowered.text  # lowering needs no document check
    assert core.sandbox.account("sokha_chan@aclb").tier == KycTier.partial  # type: ignore[union-attr]

    log = _log(http, officer)
    assert [(e["action"], e["detail"], e["reason"]) for e in log] == [
        ("tier_change", "tier 2 -> 1", "passport expired"),
        ("tier_change", "tier 0 -> 2", "passport seen"),
        ("customer_view", "", ""),
        ("customer_search", "by phone: nobody", ""),
        ("customer_search", "by account", ""),
        ("customer_search", "by handle", ""),
        ("customer_search", "by phone", ""),
    ]
    assert {e["officer"] for e in log} == {"kanha"}
    assert [e["handle"] for e in log] == ["sokha_chan"] * 3 + [None] + ["sokha_chan"] * 3
    assert PHONE not in json.dumps(log) and "Sokha Chan" not in json.dumps(log)

    # The log is append-only: the store itself refuses to rewrite or remove an entry.
    engine = gateway.services.engine
    for statement in (db.officer_actions.update().values(reason="nothing"),
                      db.officer_actions.delete()):  # fmt: skip
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as connection:
            connection.execute(statement)
    assert len(_log(http, officer)) == len(log)


def _pay(http: httpx.Client, token: str, key: str) -> httpx.Response:
    body = {"idempotency_key": key, "to": {"account": "dara_sok@aclb"}, "amount": 1_000,
            "asset": "KHR"}  # fmt: skip
    return http.post("/v1/payments", headers=auth(token), json=body)


def _session_of(engine: Engine, handle: str, clock_ms: int, random_bytes: Any) -> str:
    """A customer session opened in the store: one that raced the freeze."""
    with engine.begin() as connection:
        customer_id = connection.execute(
            sa.select(db.customers.c.id).where(db.customers.c.handle == handle)
        ).scalar_one()
        token, _ = sessions.open_session(
            connection, customer_id, "customer", clock_ms, random_bytes
        )
    return token


def test_a_frozen_wallet_cannot_sign_in_nor_pay_and_unfreezing_restores_it(
    gateway: RunningGateway, core: Core, desk: tuple[httpx.Client, str]
) -> None:
    http, officer = desk
    sokha = register(http, gateway, PHONE, "sokha_chan", "Sokha Chan")
    register(http, gateway, "+85512000702", "dara_sok", "Dara Sok")
    cash_in(core, "sokha_chan@aclb", 50_000)
    gateway.wait_for_height(core.height)
    assert _pay(http, sokha, "before").status_code == 200

    freeze = "/v1/officer/customers/sokha_chan/freeze"
    assert _post(http, officer, freeze, {}).status_code == 400  # a reason is required
    frozen = _post(http, officer, freeze, {"reason": "reported stolen phone"})
    assert frozen.status_code == 200 and frozen.json()["status"] == "frozen", frozen.text
    ledger = core.sandbox.account("sokha_chan@aclb")
    assert ledger is not None and ledger.status is AccountStatus.frozen
    assert http.get("/v1/wallet", headers=auth(sokha)).status_code == 401  # sessions ended
    login = http.post("/v1/sessions", json={"handle": "sokha_chan", "pin": PIN})
    assert login.status_code == 403 and login.json()["error"]["code"] == "account_frozen"
    wrong = http.post("/v1/sessions", json={"handle": "sokha_chan", "pin": "840271"})
    assert wrong.json()["error"]["code"] == "login_failed"  # only the right PIN learns it

    services = gateway.services
    raced = _session_of(services.engine, "sokha_chan", services.clock_ms(), services.random_bytes)
    refused = _pay(http, raced, "during")
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "account_frozen"
    assert refused.json()["payment"]["result"] == "creator_not_active"  # the ledger's

    unfrozen = _post(http, officer, "/v1/officer/customers/sokha_chan/unfreeze",
                     {"reason": "phone recovered"})  # fmt: skip
    assert unfrozen.status_code == 200, unfrozen.text
    assert core.sandbox.account("sokha_chan@aclb").status is AccountStatus.active  # type: ignore[union-attr]
    login = http.post("/v1/sessions", json={"handle": "sokha_chan", "pin": PIN})
    assert login.status_code == 201, login.text
    assert _pay(http, login.json()["token"], "after").status_code == 200
    log = [(e["action"], e["reason"], e["officer"]) for e in _log(http, officer)[:2]]
    assert log == [("unfreeze", "phone recovered", "kanha"),
                   ("freeze", "reported stolen phone", "kanha")]  # fmt: skip


def test_a_pin_reset_texts_a_code_and_the_customer_sets_a_new_pin(
    gateway: RunningGateway, desk: tuple[httpx.Client, str]
) -> None:
    http, officer = desk
    sokha = register(http, gateway, PHONE, "sokha_chan", "Sokha Chan")
    reset = "/v1/officer/customers/sokha_chan/pin-reset"
    unchecked = _post(http, officer, reset, {"reason": "forgot PIN"})
    assert unchecked.status_code == 400
    assert unchecked.json()["error"]["code"] == "identity_not_checked"
    assert http.get("/v1/wallet", headers=auth(sokha)).status_code == 200
    ordered = _post(http, officer, reset, {"reason": "forgot PIN", "identity_checked": True})
    assert ordered.status_code == 202, ordered.text
    assert http.get("/v1/wallet", headers=auth(sokha)).status_code == 401  # sessions ended
    code = _code(gateway, PHONE)  # the text the phone received

    def set_pin(code: str, pin: str) -> httpx.Response:
        return http.post("/v1/pin/reset", json={"phone": PHONE, "code": code, "pin": pin})

    wrong_code = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
    assert set_pin(wrong_code, "730418").json()["error"]["code"] == "code_wrong"
    weak = set_pin(code, "123456")
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "pin_invalid"
    done = set_pin(code, "730418")  # the weak try did not spend the code
    assert done.status_code == 200, done.text
    assert set_pin(code, "730419").json()["error"]["code"] == "code_spent"
    old = http.post("/v1/sessions", json={"phone": PHONE, "pin": PIN})
    assert old.status_code == 401
    new = http.post("/v1/sessions", json={"phone": PHONE, "pin": "730418"})
    assert new.status_code == 201, new.text
    # Nobody can start a reset without an officer: no code exists for another phone.
    assert set_pin(code, "730418").status_code == 400
    other = http.post("/v1/pin/reset", json={"phone": "+85512000799", "code": code,
                                              "pin": "730418"})  # fmt: skip
    assert other.json()["error"]["code"] == "code_missing"
    assert [(e["action"], e["reason"]) for e in _log(http, officer)] == [
        ("pin_reset", "forgot PIN")
    ]


def _receiver(status: int) -> Starlette:
    async def hook(request: Request) -> Response:
        return Response(status_code=status)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def test_the_officer_reads_every_merchants_webhook_deliveries(
    gateway: RunningGateway, core: Core, desk: tuple[httpx.Client, str]
) -> None:
    http, officer = desk
    payer = register(http, gateway, PHONE, "sokha_chan", "Sokha Chan")
    cash_in(core, "sokha_chan@aclb", 90_000)
    with serve(_receiver(204)) as good_url, serve(_receiver(500)) as bad_url:
        shops = [("noodle_bar", "+85590000042", good_url), ("tea_house", "+85590000043", bad_url)]
        for handle, phone, url in shops:
            body = {"handle": handle, "name": handle.title(), "phone": phone, "pin": "260719"}
            assert _post(http, officer, "/v1/officer/merchants", body).status_code == 201
            till = http.post("/v1/sessions", json={"handle": handle, "pin": "260719"}).json()
            hooked = http.put("/v1/merchant/webhook", headers=auth(till["token"]),
                              json={"url": f"{url}/hook"})  # fmt: skip
            assert hooked.status_code == 200
            paid = http.post("/v1/payments", headers=auth(payer), json={
                "idempotency_key": f"to-{handle}", "to": {"account": f"{handle}@aclb"},
                "amount": 3_000, "asset": "KHR",
            })  # fmt: skip
            assert paid.status_code == 200, paid.text

        def states() -> dict[str, str]:
            log = http.get("/v1/officer/webhooks", headers=auth(officer)).json()["deliveries"]
            return {entry["handle"]: entry["state"] for entry in log if entry["attempts"]}

        gateway.wait_until(lambda: len(states()) == 2)
    assert states() == {"noodle_bar": "delivered", "tea_house": "pending"}
    log = http.get("/v1/officer/webhooks", headers=auth(officer)).json()["deliveries"]
    failing = next(entry for entry in log if entry["handle"] == "tea_house")
    assert failing["last_status"] == "http_500" and failing["next_attempt_ms"] is not None


def test_an_officer_of_one_bank_cannot_reach_another_banks_customers(
    gateway: RunningGateway, core: Core, desk: tuple[httpx.Client, str], tmp_path: Path
) -> None:
    http, officer = desk
    wing_engine = db.engine_for(db.sqlite_url(tmp_path / "wing.db"))
    db.migrate(wing_engine)
    wing_services = make_services(wing_engine, core, "wing")
    wing_app = create_app(wing_services)
    with serve(wing_app) as wing_url, httpx.Client(base_url=wing_url, timeout=30) as wing_http:
        wing = RunningGateway(wing_url, wing_services, wing_app)
        core.commit([core.sandbox.transaction("nbc", [set_participant_endpoint("wing", wing_url)])])
        register(wing_http, wing, "+85512000752", "dara_sok", "Dara Sok", "wing")
        search = "/v1/officer/customers/search"
        for query in ({"account_id": "dara_sok@wing"}, {"handle": "dara_sok"},
                      {"phone": "+85512000752"}):  # fmt: skip
            assert _post(http, officer, search, query).status_code == 404
        for path, body in (
            ("freeze", {"reason": "x"}),
            ("tier", {"tier": 2, "reason": "x", "documents_checked": True}),
        ):
            answer = _post(http, officer, f"/v1/officer/customers/dara_sok/{path}", body)
            assert answer.status_code == 404, answer.text
        # aclb's officer token means nothing at wing's gateway.
        assert _post(wing_http, officer, search, {"handle": "dara_sok"}).status_code == 401
        account = core.sandbox.account("dara_sok@wing")
        assert account is not None and account.status is AccountStatus.active
    wing_engine.dispose()


def test_officer_commands_add_list_and_disable(tmp_path: Path, database_url: str) -> None:
    core = Core()  # only its genesis is needed: the commands never call the core
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(encode_genesis(core.sandbox.genesis))
    init_home(tmp_path / "home", GatewayConfig(GatewaySection("aclb", "http://core.test")), genesis)
    runner = CliRunner()
    where = ["--home", str(tmp_path / "home"), "--database", database_url]

    def run(*arguments: str, stdin: str | None = None) -> Any:
        return runner.invoke(cli, ["gateway", "officer", *arguments, *where], input=stdin)

    typed = run("add", "--name", "kanha", "--password-stdin", stdin=PASSWORD + "\n")
    assert typed.exit_code == 0 and PASSWORD not in typed.output, typed.output
    made = run("add", "--name", "dara.k")
    assert made.exit_code == 0, made.output
    shown = made.output.split("password (shown once): ")[1].strip()
    assert officers.password_problem(shown) is None
    assert run("add", "--name", "kanha").exit_code == 2  # taken
    assert run("add", "--name", "x y", "--password-stdin", stdin=PASSWORD).exit_code == 2
    assert run("add", "--name", "sam", "--password-stdin", stdin="short\n").exit_code == 2
    assert run("disable", "--name", "kanha").exit_code == 0
    assert run("disable", "--name", "nobody").exit_code == 2
    listed = json.loads(run("list", "--json").output)["officers"]
    assert [(o["name"], o["disabled"]) for o in listed] == [("dara.k", False), ("kanha", True)]
    engine = db.engine_for(database_url)
    try:
        with pytest.raises(GatewayProblem):  # disabled: no session, not even on the host
            officers.open_officer_session(engine, "kanha", 0, lambda n: b"\x01" * n, 60_000)
        token, _ = officers.open_officer_session(engine, "dara.k", 1, lambda n: b"\x01" * n, 60_000)
        assert token.startswith("bgs_")
    finally:
        engine.dispose()
