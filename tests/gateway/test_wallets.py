"""The wallet API end to end: a running gateway (uvicorn, projection, resubmitter) over a real
node API on an in-memory chain, on SQLite and on PostgreSQL."""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa

from bakong import limits
from bakong.client import set_participant_endpoint
from bakong.gateway import db, officers
from bakong.gateway.app import create_app
from bakong.khqr import decode
from bakong.ledger.assets import Asset
from bakong.ledger.records import KycTier
from tests.gateway.conftest import Core, RunningGateway, make_services
from tests.gateway.loopback import serve

PIN = "482913"


def _code(gateway: RunningGateway, phone: str) -> str:
    table = db.sms_outbox
    with gateway.services.engine.connect() as connection:
        body = (
            connection.execute(
                sa.select(table.c.body).where(table.c.phone == phone).order_by(table.c.id.desc())
            )
            .scalars()
            .first()
        )
    assert isinstance(body, str)
    return next(word for word in body.replace(".", " ").split() if word.isdigit())


def register(
    http: httpx.Client,
    gateway: RunningGateway,
    phone: str,
    handle: str,
    name: str,
    participant: str = "aclb",
) -> str:
    assert http.post("/v1/register/start", json={"phone": phone}).status_code == 202
    answer = http.post(
        "/v1/register/finish",
        json={
            "phone": phone, "code": _code(gateway, phone), "handle": handle, "name": name,
            "birth_date": "1990-04-17", "pin": PIN,
        },
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert answer.json()["account_id"] == f"{handle}@{participant}"
    token = answer.json()["token"]
    assert isinstance(token, str)
    return token


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def cash_in(core: Core, account: str, amount: int) -> None:
    """The bank's settlement account funds a customer (after the central bank issues)."""
    sandbox = core.sandbox
    issued = sandbox.transaction("nbc", [sandbox.issue("aclb", Asset.KHR, amount, "NBC-TEST")])
    paid = sandbox.transaction(
        "settlement@aclb", [sandbox.transfer("settlement@aclb", account, Asset.KHR, amount)]
    )
    core.commit([issued])
    core.commit([paid])


def khr(http: httpx.Client, token: str) -> int:
    answer = http.get("/v1/wallet", headers=auth(token)).json()
    available = answer["balances"]["KHR"]["available"]
    assert isinstance(available, int)
    return available


def listen(
    url: str, token: str, events: queue.Queue[dict[str, Any]], ready: threading.Event
) -> None:
    with httpx.stream("GET", f"{url}/v1/events", headers=auth(token), timeout=30) as stream:
        for line in stream.iter_lines():
            if line.startswith(": open"):
                ready.set()
            if line.startswith("data: "):
                events.put(msgspec.json.decode(line[len("data: ") :]))
                return


def test_register_fund_send_replay_and_receive(gateway: RunningGateway, core: Core) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, "+85512000001", "sokha_chan", "Sokha Chan")
        dara = register(http, gateway, "+85512000002", "dara_sok", "Dara Sok")
        cash_in(core, "sokha_chan@aclb", 1_500_000)
        gateway.wait_for_height(core.height)
        assert khr(http, sokha) == 1_500_000

        preview = http.post(
            "/v1/payments/preview",
            headers=auth(sokha),
            json={"to": {"phone": "+85512000002"}, "amount": 25_000, "asset": "KHR"},
        )
        assert preview.status_code == 200, preview.text
        assert preview.json()["payee"] == {"account_id": "dara_sok@aclb", "display_name": "Dara S."}

        events: queue.Queue[dict[str, Any]] = queue.Queue()
        ready = threading.Event()
        threading.Thread(
            target=listen, args=(gateway.url, dara, events, ready), daemon=True
        ).start()
        assert ready.wait(10)

        by_phone = {"idempotency_key": "pay-1", "to": {"phone": "+85512000002"},
                    "amount": 25_000, "asset": "KHR", "memo": "lunch"}  # fmt: skip
        first = http.post("/v1/payments", headers=auth(sokha), json=by_phone)
        assert first.status_code == 200, first.text
        assert first.json()["state"] == "committed"
        again = http.post("/v1/payments", headers=auth(sokha), json=by_phone)
        assert again.json() == first.json()
        event = events.get(timeout=10)
        assert (event["from"], event["amount"], event["memo"]) == (
            "sokha_chan@aclb",
            25_000,
            "lunch",
        )

        by_account = {"idempotency_key": "pay-2", "to": {"account": "dara_sok@aclb"},
                      "amount": 5_000, "asset": "KHR"}  # fmt: skip
        assert http.post("/v1/payments", headers=auth(sokha), json=by_account).status_code == 200
        gateway.wait_for_height(core.height)
        assert khr(http, sokha) == 1_500_000 - 30_000  # paid once per key
        assert khr(http, dara) == 30_000

        history = http.get("/v1/wallet/history?limit=1&direction=in", headers=auth(dara)).json()
        assert [entry["amount"] for entry in history["entries"]] == [5_000]
        older = http.get(
            f"/v1/wallet/history?limit=5&cursor={history['next_cursor']}", headers=auth(dara)
        ).json()
        assert [entry["amount"] for entry in older["entries"]] == [25_000]


def test_refusals_people_understand(gateway: RunningGateway, core: Core) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, "+85512000011", "sokha_chan", "Sokha Chan")
        dara = register(http, gateway, "+85512000012", "dara_sok", "Dara Sok")
        cash_in(core, "sokha_chan@aclb", 3_000_000)
        gateway.wait_for_height(core.height)

        def pay(token: str, key: str, amount: int, to: dict[str, str]) -> httpx.Response:
            body = {"idempotency_key": key, "to": to, "amount": amount, "asset": "KHR"}
            return http.post("/v1/payments", headers=auth(token), json=body)

        broke = pay(dara, "d-1", 1_000, {"account": "sokha_chan@aclb"})
        assert broke.status_code == 422 and broke.json()["error"]["code"] == "insufficient_funds"
        # A phone with no wallet is paid all the same: the money waits for a claim (issue 17),
        # and its hold counts against today's limit.
        unknown = pay(sokha, "s-0", 1_000, {"phone": "+85599999999"})
        assert unknown.status_code == 200, unknown.text
        assert unknown.json()["claim"]["state"] == "pending_claim"
        assert pay(sokha, "s-1", 1_500_000, {"account": "dara_sok@aclb"}).status_code == 200
        gateway.wait_for_height(core.height)
        over = pay(sokha, "s-2", 600_000, {"account": "dara_sok@aclb"})
        assert over.status_code == 422, over.text
        error = over.json()["error"]
        assert error["code"] == "daily_limit_exceeded"
        assert (error["limit"], error["remaining"]) == (2_000_000, 499_000)


def test_wrong_pins_lock_the_wallet(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        register(http, gateway, "+85512000021", "sokha_chan", "Sokha Chan")
        login = {"handle": "sokha_chan", "pin": "590142"}
        for _ in range(limits.pin_failures_max):
            wrong = http.post("/v1/sessions", json=login)
            assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "login_failed"
        locked = http.post("/v1/sessions", json={"handle": "sokha_chan", "pin": PIN})
        assert locked.status_code == 423 and locked.json()["error"]["code"] == "pin_locked"
        nobody = http.post("/v1/sessions", json={"handle": "nobody_here", "pin": PIN})
        assert nobody.status_code == 401 and nobody.json()["error"]["code"] == "login_failed"


def test_a_token_reaches_only_its_own_wallet(gateway: RunningGateway, core: Core) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, "+85512000031", "sokha_chan", "Sokha Chan")
        dara = register(http, gateway, "+85512000032", "dara_sok", "Dara Sok")
        cash_in(core, "sokha_chan@aclb", 100_000)
        gateway.wait_for_height(core.height)
        body = {"idempotency_key": "mine", "to": {"account": "dara_sok@aclb"},
                "amount": 1_000, "asset": "KHR"}  # fmt: skip
        assert http.post("/v1/payments", headers=auth(sokha), json=body).status_code == 200
        # Dara's token sees Dara's wallet, not Sokha's payment under Sokha's key...
        assert http.get("/v1/wallet", headers=auth(dara)).json()["account_id"] == "dara_sok@aclb"
        assert http.get("/v1/payments/mine", headers=auth(dara)).status_code == 404
        # ...and the same key under Dara's token is Dara's own payment, from Dara's (no) money.
        theirs = http.post(
            "/v1/payments",
            headers=auth(dara),
            json={**body, "to": {"account": "sokha_chan@aclb"}, "amount": 5_000},
        )
        assert theirs.status_code == 422 and theirs.json()["error"]["code"] == "insufficient_funds"
        for headers in ({}, auth("bgs_" + "A" * 43), {"authorization": "Basic eDp5"}):
            assert http.get("/v1/wallet", headers=headers).status_code == 401
            assert http.post("/v1/payments", headers=headers, json=body).status_code == 401
        officer = http.post(
            "/v1/officer/customers/sokha_chan/tier", headers=auth(sokha), json={"tier": 2}
        )
        assert officer.status_code == 401


@pytest.mark.parametrize("field", ["handle", "pin", "birth_date", "code"])
def test_registration_validates_every_field(gateway: RunningGateway, field: str) -> None:
    bad = {"handle": "Bad Handle!", "pin": "123456", "birth_date": "2999-01-01", "code": "12ab56"}
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        assert http.post("/v1/register/start", json={"phone": "+85512000041"}).status_code == 202
        body = {"phone": "+85512000041", "code": _code(gateway, "+85512000041"),
                "handle": "sokha_chan", "name": "Sokha Chan", "birth_date": "1990-04-17",
                "pin": PIN, field: bad[field]}  # fmt: skip
        answer = http.post("/v1/register/finish", json=body)
        assert answer.status_code == 400, answer.text
        assert "+85512000041" not in answer.text and bad[field] not in answer.text


def test_across_banks_the_payer_sees_only_the_masked_name(
    gateway: RunningGateway, core: Core, tmp_path: Path
) -> None:
    wing_engine = db.engine_for(db.sqlite_url(tmp_path / "wing.db"))
    db.migrate(wing_engine)
    wing_services = make_services(wing_engine, core, "wing")
    wing_app = create_app(wing_services)
    with serve(wing_app) as wing_url:
        wing = RunningGateway(wing_url, wing_services, wing_app)
        # Where wing's gateway is comes from the core: the central bank publishes it.
        publish = set_participant_endpoint("wing", wing_url)
        core.commit([core.sandbox.transaction("nbc", [publish])])
        assert gateway.services.config.directory == {}
        with (
            httpx.Client(base_url=gateway.url, timeout=30) as http,
            httpx.Client(base_url=wing_url, timeout=30) as wing_http,
        ):
            sokha = register(http, gateway, "+85512000051", "sokha_chan", "Sokha Chan")
            dara = register(wing_http, wing, "+85512000052", "dara_sok", "Dara Sok", "wing")
            cash_in(core, "sokha_chan@aclb", 100_000)
            gateway.wait_for_height(core.height)
            to_phone = {"to": {"phone": "+85512000052"}, "amount": 7_000, "asset": "KHR"}
            preview = http.post("/v1/payments/preview", headers=auth(sokha), json=to_phone)
            assert preview.status_code == 200, preview.text
            assert preview.json()["payee"] == {
                "account_id": "dara_sok@wing",
                "display_name": "Dara S.",
            }
            assert "+85512000052" not in preview.text and "Dara Sok" not in preview.text
            paid = http.post(
                "/v1/payments", headers=auth(sokha), json={"idempotency_key": "x-1", **to_phone}
            )
            assert paid.status_code == 200, paid.text
            wing.wait_for_height(core.height)
            assert khr(wing_http, dara) == 7_000
            # The lookup answers signed requests of participants' gateways only.
            assert wing_http.get("/v1/parties/dara_sok@wing").status_code == 401


def test_my_qr_request_money_and_the_officer(gateway: RunningGateway, core: Core) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, "+85512000061", "sokha_chan", "Sokha Chan")
        mine = http.get("/v1/wallet/qr?asset=USD", headers=auth(sokha)).json()
        fields = decode(mine["qr"])
        assert (fields["bakongAccountID"], fields["merchantName"]) == (
            "sokha_chan@aclb",
            "Sokha C.",
        )
        assert fields["transactionCurrency"] == "840" and fields["transactionAmount"] is None
        png = http.get("/v1/wallet/qr?format=png", headers=auth(sokha))
        assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
        asked = http.post(
            "/v1/wallet/request", headers=auth(sokha), json={"amount": 450, "asset": "USD"}
        ).json()
        assert decode(asked["qr"])["transactionAmount"] == "4.50"
        officer = officer_token(gateway)
        raised = http.post(
            "/v1/officer/customers/sokha_chan/tier", headers=auth(officer),
            json={"tier": 1, "reason": "national ID seen", "documents_checked": True},
        )  # fmt: skip
        assert raised.status_code == 200, raised.text
        assert core.sandbox.account("sokha_chan@aclb").tier == KycTier.partial  # type: ignore[union-attr]
        assert http.get("/v1/wallet", headers=auth(sokha)).json()["tier"] == 1


def officer_token(gateway: RunningGateway, name: str = "kanha") -> str:
    """A session of officer `name` (made on first use), as `officer-token --name` opens one."""
    services = gateway.services
    officers.ensure_officer(services.engine, name, services.clock_ms(), services.random_bytes)
    token, _ = officers.open_officer_session(
        services.engine, name, services.clock_ms(), services.random_bytes, 60 * 60_000
    )
    return token
