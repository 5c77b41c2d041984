"""Cash agents end to end (issue 17, "Cash agents"): a bank officer opens an agent, the bank
funds its float, the agent signs in with its own role, takes cash in (the customer gets a
receipt), asks for a cash-out that moves nothing until the customer approves it with the PIN,
is alerted once when its float crosses below its threshold, keeps to its own daily caps, pays
out money sent to a phone with no wallet (code, phone and the payer's secret), and reads its
day's statement in JSON and CSV. A running gateway over a real node API on an in-memory chain,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bakong import limits
from bakong.gateway import officers
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_claims import (
    bank,
    claim_code_for,
    fund,
    send,
    sqlite_engine,
    texts,
    wallet,
)
from tests.gateway.test_wallets import PIN, auth, register

PASSWORD = "correct horse battery"
AGENT_PHONE = "+85590000051"
AGENT_PIN = "260719"
SOKHA = "+85512000501"


class Clock:
    """The gateway's clock, which a test may move forward."""

    def __init__(self) -> None:
        self.ahead_ms = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.ahead_ms


@pytest.fixture
def desk(gateway: RunningGateway) -> Iterator[tuple[httpx.Client, str]]:
    """An HTTP client on the gateway and a bank officer's token."""
    services = gateway.services
    officers.add_officer(services.engine, "kanha", PASSWORD, services.clock_ms())
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        signed_in = http.post("/v1/officer/sessions", json={"name": "kanha", "password": PASSWORD})
        assert signed_in.status_code == 201, signed_in.text
        yield http, signed_in.json()["token"]


def open_agent(
    http: httpx.Client, officer: str, gateway: RunningGateway, core: Core, **extra: int
) -> str:
    """Open agent `phsar_agent`, fund its float with 500,000 KHR; the agent's token."""
    opened = http.post("/v1/officer/agents", headers=auth(officer), json={
        "handle": "phsar_agent", "name": "Phsar Thmei Agent", "phone": AGENT_PHONE,
        "pin": AGENT_PIN, **extra,
    })  # fmt: skip
    assert opened.status_code == 201, opened.text
    fund(core, "aclb", "phsar_agent@aclb", 500_000)
    gateway.wait_for_height(core.height)
    signed_in = http.post("/v1/sessions", json={"handle": "phsar_agent", "pin": AGENT_PIN})
    assert signed_in.status_code == 201 and signed_in.json()["role"] == "agent"
    token: str = signed_in.json()["token"]
    return token


def cash_in(http: httpx.Client, agent: str, key: str, amount: int) -> httpx.Response:
    body = {"idempotency_key": key, "phone": SOKHA, "amount": amount, "asset": "KHR"}
    return http.post("/v1/agent/cash-in", headers=auth(agent), json=body)


def cash_out(http: httpx.Client, agent: str, key: str, amount: int) -> httpx.Response:
    body = {"idempotency_key": key, "phone": SOKHA, "amount": amount, "asset": "KHR"}
    return http.post("/v1/agent/cash-out", headers=auth(agent), json=body)


def decide(http: httpx.Client, token: str, approval_id: int, **body: Any) -> httpx.Response:
    return http.post(f"/v1/approvals/{approval_id}", headers=auth(token), json=body)


def float_khr(http: httpx.Client, agent: str) -> int:
    answer = http.get("/v1/agent", headers=auth(agent))
    assert answer.status_code == 200, answer.text
    found: int = answer.json()["float"]["KHR"]
    return found


def test_an_agents_cash_in_and_cash_out_with_its_alert_and_statement(
    gateway: RunningGateway, core: Core, desk: tuple[httpx.Client, str]
) -> None:
    http, officer = desk
    agent = open_agent(http, officer, gateway, core, alert_khr=100_000)
    sokha = register(http, gateway, SOKHA, "sokha_chan", "Sokha Chan")
    assert http.post("/v1/payments", headers=auth(agent), json={}).status_code == 401
    assert http.get("/v1/agent", headers=auth(sokha)).status_code == 401

    taken = cash_in(http, agent, "in-1", 150_000)
    assert taken.status_code == 200 and taken.json()["state"] == "committed", taken.text
    assert cash_in(http, agent, "in-1", 150_000).json() == taken.json()  # a retry: once
    gateway.wait_for_height(core.height)
    assert wallet(http, sokha)["available"] == 150_000
    assert texts(gateway, SOKHA)[-1] == "Cash-in: 150,000 KHR from agent phsar_agent@aclb. No fee."

    asked = cash_out(http, agent, "out-1", 60_000)
    assert asked.status_code == 202 and asked.json()["state"] == "pending", asked.text
    assert "asks to pay you 60,000 KHR in cash" in texts(gateway, SOKHA)[-1]
    waiting = http.get("/v1/approvals", headers=auth(sokha)).json()["approvals"]
    assert [(a["payee_name"], a["amount"], a["state"]) for a in waiting] == [
        ("Phsar A.", 60_000, "pending")
    ]
    wrong = decide(http, sokha, waiting[0]["id"], decision="approve", pin="000000")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "login_failed"
    assert wallet(http, sokha)["available"] == 150_000  # nothing moved
    approved = decide(http, sokha, waiting[0]["id"], decision="approve", pin=PIN)
    assert approved.status_code == 200, approved.text
    assert approved.json()["payment"]["state"] == "committed"
    status = http.get("/v1/agent/cash-out/out-1", headers=auth(agent)).json()
    assert status["state"] == "paid" and status["amount"] == 60_000
    again = decide(http, sokha, waiting[0]["id"], decision="approve", pin=PIN)
    assert again.json()["payment"] == approved.json()["payment"]  # approved twice, paid once
    gateway.wait_for_height(core.height)
    assert wallet(http, sokha)["available"] == 90_000
    assert float_khr(http, agent) == 410_000
    assert texts(gateway, SOKHA)[-1] == "Cash-out: 60,000 KHR to agent phsar_agent@aclb. No fee."

    # The float crosses below 100,000: one alert, however far it falls after.
    for key, amount in (("in-2", 300_000), ("in-3", 20_000), ("in-4", 10_000)):
        assert cash_in(http, agent, key, amount).status_code == 200
    gateway.wait_for_height(core.height)
    alerts = [text for text in texts(gateway, AGENT_PHONE) if text.startswith("Float alert")]
    assert alerts == ["Float alert: your KHR float is 90,000 KHR, below 100,000 KHR. "
                      "Ask the bank to top it up."]  # fmt: skip
    overview = http.get("/v1/agent", headers=auth(agent)).json()
    assert overview["float"]["KHR"] == 80_000 and overview["alerts"]["KHR"]["low"] is True
    assert overview["today"]["KHR"]["cash_in"] == 480_000
    assert overview["today"]["KHR"]["cash_out"] == 60_000

    day = http.get("/v1/agent/statement", headers=auth(agent)).json()["assets"]["KHR"]
    assert day["totals"] == {"cash_in": 480_000, "cash_out": 60_000, "claim_paid_out": 0,
                             "other_in": 500_000, "other_out": 0}  # fmt: skip
    assert (day["opening"], day["closing"]) == (0, 80_000)
    assert [move["kind"] for move in day["movements"]] == [
        "other_in", "cash_in", "cash_out", "cash_in", "cash_in", "cash_in"
    ]
    sheet = http.get("/v1/agent/statement?format=csv", headers=auth(agent))
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    khr = [row for row in rows if row["asset"] == "KHR"]
    assert (khr[0]["kind"], khr[0]["amount"]) == ("opening", "0")
    assert (khr[-1]["kind"], khr[-1]["amount"]) == ("closing", "80000")
    assert sum(int(row["amount"]) for row in khr[1:-1]) == 80_000
    yesterday = http.get("/v1/agent/statement?day=2020-01-01", headers=auth(agent)).json()
    assert yesterday["assets"]["KHR"]["opening"] == yesterday["assets"]["KHR"]["closing"] == 0


def test_a_cash_out_not_approved_moves_nothing_and_the_caps_hold(
    gateway: RunningGateway, core: Core, desk: tuple[httpx.Client, str]
) -> None:
    http, officer = desk
    clock = Clock()
    gateway.services.clock_ms = clock
    agent = open_agent(http, officer, gateway, core, cap_khr=100_000)
    sokha = register(http, gateway, SOKHA, "sokha_chan", "Sokha Chan")
    assert cash_in(http, agent, "in-1", 80_000).status_code == 200
    over = cash_in(http, agent, "in-2", 30_000)
    assert over.status_code == 422, over.text
    assert (over.json()["error"]["code"], over.json()["error"]["remaining"]) == (
        "agent_cap_exceeded", 20_000,
    )  # fmt: skip

    declined = cash_out(http, agent, "out-1", 50_000).json()
    gone = decide(http, sokha, declined["id"], decision="decline")
    assert gone.status_code == 200 and gone.json()["approval"]["state"] == "declined"
    late = decide(http, sokha, declined["id"], decision="approve", pin=PIN)
    assert late.status_code == 410 and late.json()["error"]["code"] == "approval_gone"
    status = http.get("/v1/agent/cash-out/out-1", headers=auth(agent)).json()
    assert status["state"] == "declined" and status["payment"] is None

    expiring = cash_out(http, agent, "out-2", 50_000).json()
    assert cash_out(http, agent, "out-3", 60_000).status_code == 422  # 50,000 already asked
    clock.ahead_ms = limits.cash_out_approval_ms_max + 1_000
    assert http.get("/v1/approvals", headers=auth(sokha)).json()["approvals"] == []
    expired = decide(http, sokha, expiring["id"], decision="approve", pin=PIN)
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "approval_gone"
    assert http.get("/v1/agent/cash-out/out-2", headers=auth(agent)).json()["state"] == "expired"
    clock.ahead_ms = 0
    gateway.wait_for_height(core.height)
    assert wallet(http, sokha)["available"] == 80_000  # neither request moved anything
    assert float_khr(http, agent) == 420_000
    # Within the cap again: an expired request no longer counts.
    assert cash_out(http, agent, "out-4", 10_000).status_code == 202
    nobody = http.post("/v1/agent/cash-out", headers=auth(agent), json={
        "idempotency_key": "out-5", "phone": "+85512999999", "amount": 1_000, "asset": "KHR"})
    assert nobody.status_code == 404 and nobody.json()["error"]["code"] == "customer_not_found"


def test_an_agent_pays_out_money_sent_to_a_phone_with_no_wallet(
    gateway: RunningGateway, core: Core, desk: tuple[httpx.Client, str]
) -> None:
    http, officer = desk
    agent = open_agent(http, officer, gateway, core)
    sokha = register(http, gateway, SOKHA, "sokha_chan", "Sokha Chan")
    fund(core, "aclb", "sokha_chan@aclb", 200_000)
    newcomer = "+85512000577"
    sent = send(http, sokha, "cash-for-mum", newcomer, 40_000, claim_secret="48213")
    assert sent.status_code == 200 and sent.json()["claim"]["agent_secret"] is True, sent.text
    assert "the sender's secret to a cash agent" in texts(gateway, newcomer)[-1]
    code = claim_code_for(gateway, newcomer)
    body = {"bank": "aclb", "phone": newcomer, "code": code, "secret": "99999"}
    wrong = http.post("/v1/agent/claims", headers=auth(agent), json=body)
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "claim_secret_wrong"
    paid = http.post("/v1/agent/claims", headers=auth(agent), json=body | {"secret": "48213"})
    assert paid.status_code == 200 and paid.json()["state"] == "claimed", paid.text
    gateway.wait_for_height(core.height)
    assert float_khr(http, agent) == 540_000
    day = http.get("/v1/agent/statement", headers=auth(agent)).json()["assets"]["KHR"]
    assert day["totals"]["claim_paid_out"] == 40_000
    assert wallet(http, sokha) == {"available": 160_000, "held": 0}

    # A payer who set no secret: the money can only be claimed into a wallet.
    assert send(http, sokha, "gift", "+85512000578", 5_000).status_code == 200
    other = claim_code_for(gateway, "+85512000578")
    refused = http.post("/v1/agent/claims", headers=auth(agent), json={
        "bank": "aclb", "phone": "+85512000578", "code": other, "secret": "48213"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "claim_secret_wrong"


def test_an_agent_cashes_out_only_its_own_banks_customers(
    gateway: RunningGateway, core: Core, desk: tuple[httpx.Client, str], tmp_path: Path
) -> None:
    """A cash-out is approved at the customer's bank: another bank's customer is refused
    before anything is asked or recorded; cash-in still reaches any bank's wallet."""
    http, officer = desk
    agent = open_agent(http, officer, gateway, core)
    wing_engine = sqlite_engine(tmp_path, "wing")
    elsewhere = "+85512000562"
    with bank(wing_engine, core, "wing") as wing, httpx.Client(base_url=wing.url,
                                                               timeout=30) as at_wing:  # fmt: skip
        dara = register(at_wing, wing, elsewhere, "dara_sok", "Dara Sok", "wing")
        body = {"idempotency_key": "out-wing", "phone": elsewhere, "amount": 5_000,
                "asset": "KHR"}  # fmt: skip
        refused = http.post("/v1/agent/cash-out", headers=auth(agent), json=body)
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "customer_not_found"
        assert elsewhere not in refused.text
        status = http.get("/v1/agent/cash-out/out-wing", headers=auth(agent))
        assert status.status_code == 404  # nothing was recorded
        assert at_wing.get("/v1/approvals", headers=auth(dara)).json()["approvals"] == []
        assert http.get("/v1/agent", headers=auth(agent)).json()["today"]["KHR"]["cash_out"] == 0
        cash = http.post("/v1/agent/cash-in", headers=auth(agent), json=body | {
            "idempotency_key": "in-wing"})  # fmt: skip
        assert cash.status_code == 200, cash.text  # cash-in reaches a wallet at any bank
        wing.wait_for_height(core.height)
        assert wallet(at_wing, dara)["available"] == 5_000
    wing_engine.dispose()
