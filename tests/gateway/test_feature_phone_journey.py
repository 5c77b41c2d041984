"""A feature phone's whole journey (issue 17), driven through `bakong phone` as a subprocess,
the command a person would type, against two running gateways (aclb on SQLite and on
PostgreSQL, wing on SQLite) with their projections and workers, over a real node API that
publishes each gateway's URL.

ONE phone opens its wallet by USSD at aclb, receives money from an app wallet, sends to a
phone registered at wing, sends to a phone with no wallet at any bank (the money waits in a
claim), and approves a cash-out raised by an agent of its bank (the same agent may not cash
out wing's customer). Then the phone with no wallet opens one by USSD at wing and claims the
money there with the code aclb texted it. Every step's balances are read from the ledger
itself, and the texts each phone gets from the SMS outboxes."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from bakong.client import set_participant_endpoint
from bakong.gateway import officers
from bakong.gateway.claim_records import escrow_account
from bakong.ledger.assets import Asset
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_claims import fund, sqlite_engine
from tests.gateway.test_ussd_phone import run_phone
from tests.gateway.test_wallets import PIN, auth, cash_in, register
from tests.gateway.ussd import FORM, outbox, ussd_gateway

FEATURE = "+85512000901"  # the feature phone of this journey
APP_USER = "+85512000902"  # an app wallet at aclb
WING_USER = "+85512000962"  # registered at wing
NEWCOMER = "+85512000977"  # no wallet anywhere, until she opens one by USSD at wing
AGENT_PHONE, AGENT_PIN, OFFICER_PASSWORD = "+85590000951", "260719", "correct horse battery"
_CODE = re.compile(r"code ([0-9]{10})")


def ledger(core: Core, account: str) -> tuple[int, int]:
    """The account's (available, held) KHR as the ledger itself holds them."""
    with core.service.lock:
        found = core.sandbox.account(account)
    assert found is not None, f"{account} is not on the ledger"
    return found.balances[Asset.KHR.index], found.held[Asset.KHR.index]


def dial(gateway: RunningGateway, msisdn: str, *scripts: str) -> str:
    """`bakong phone` at `gateway` as `msisdn`, one dial per script; what it printed."""
    arguments = [item for script in scripts for item in ("--input", script)]
    done = run_phone(gateway.url, "--msisdn", msisdn, "--aggregator", FORM, *arguments)
    assert done.returncode == 0, done.stderr
    return done.stdout


def last_screen(output: str) -> str:
    """The last screen a dial printed (before its `-- END --`)."""
    screens = output.rstrip().removesuffix("-- END --").rstrip().split("\n\n")
    return screens[-1].split("\n", 1)[1] if screens[-1].startswith("> ") else screens[-1]


def open_agent(http: httpx.Client, gateway: RunningGateway, core: Core) -> str:
    """A bank officer opens agent `phsar_agent` at aclb, its float funded; the agent's token."""
    services = gateway.services
    officers.add_officer(services.engine, "kanha", OFFICER_PASSWORD, services.clock_ms())
    officer = http.post("/v1/officer/sessions", json={"name": "kanha",
                                                      "password": OFFICER_PASSWORD})  # fmt: skip
    assert officer.status_code == 201, officer.text
    opened = http.post("/v1/officer/agents", headers=auth(officer.json()["token"]), json={
        "handle": "phsar_agent", "name": "Phsar Thmei Agent", "phone": AGENT_PHONE,
        "pin": AGENT_PIN,
    })  # fmt: skip
    assert opened.status_code == 201, opened.text
    fund(core, "aclb", "phsar_agent@aclb", 500_000)
    gateway.wait_for_height(core.height)
    signed_in = http.post("/v1/sessions", json={"handle": "phsar_agent", "pin": AGENT_PIN})
    assert signed_in.status_code == 201, signed_in.text
    token: str = signed_in.json()["token"]
    return token


def test_one_feature_phone_from_its_first_dial_to_a_claim_at_another_bank(
    engine: Engine, core: Core, tmp_path: Path
) -> None:
    wing_engine = sqlite_engine(tmp_path, "wing")
    with (
        ussd_gateway(engine, core) as aclb, ussd_gateway(wing_engine, core, participant="wing")
        as wing, httpx.Client(base_url=aclb.url, timeout=30) as at_aclb,
        httpx.Client(base_url=wing.url, timeout=30) as at_wing,
    ):  # fmt: skip
        for code, running in (("aclb", aclb), ("wing", wing)):
            published = core.commit([core.sandbox.transaction(
                "nbc", [set_participant_endpoint(code, running.url)]
            )])  # fmt: skip
            assert published.results[0].code == 0, published.results
        aclb_texts = aclb.services.engine

        # 1. The phone opens a wallet by USSD: basic tier, on the ledger, empty.
        opened = dial(aclb, FEATURE, f"2*1*5821*{PIN}*{PIN}")
        assert last_screen(opened) == "Your wallet 5821@aclb is open. Dial *855# to use it."
        assert ledger(core, "5821@aclb") == (0, 0)

        # 2. It receives money from an app wallet, and a receipt.
        sokha = register(at_aclb, aclb, APP_USER, "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 200_000)
        aclb.wait_for_height(core.height)
        body = {"idempotency_key": "to-feature", "to": {"phone": FEATURE}, "amount": 100_000,
                "asset": "KHR", "pin": PIN}  # fmt: skip
        paid = at_aclb.post("/v1/payments", headers=auth(sokha), json=body)
        assert paid.status_code == 200, paid.text
        aclb.wait_for_height(core.height)
        assert ledger(core, "5821@aclb") == (100_000, 0)
        assert ledger(core, "sokha_chan@aclb") == (100_000, 0)
        assert outbox(aclb_texts, FEATURE)[-1].startswith("Received 100,000 KHR from Sokha C.")

        # 3. It sends to a phone registered at wing, whose masked name wing gives.
        register(at_wing, wing, WING_USER, "dara_sok", "Dara Sok", "wing")
        sent = dial(aclb, FEATURE, f"2*012000962*1*20000*{PIN}")
        assert "Send 20,000 KHR to Dara S. dara_sok@wing" in sent
        assert last_screen(sent).startswith("Sent 20,000 KHR to Dara S. dara_sok@wing. Ref ")
        aclb.wait_for_height(core.height)
        assert ledger(core, "5821@aclb") == (80_000, 0)
        assert ledger(core, "dara_sok@wing") == (20_000, 0)

        # 4. It sends to a phone with no wallet anywhere: the money waits in a claim's hold.
        offered = dial(aclb, FEATURE, "2*012000977")
        assert last_screen(offered).startswith("+855 *** 977 has no wallet yet.")
        claim = dial(aclb, FEATURE, f"2*012000977*1*30000*{PIN}")
        assert last_screen(claim).startswith("30,000 KHR waits for +855 *** 977")
        aclb.wait_for_height(core.height)
        assert ledger(core, "5821@aclb") == (50_000, 30_000)
        assert outbox(aclb_texts, FEATURE)[-1].startswith(
            "Sent 30,000 KHR to +855 *** 977, who has no wallet yet"
        )
        code_text = outbox(aclb_texts, NEWCOMER)[-1]
        assert "bank aclb, code " in code_text and "Sokha" not in code_text
        found = _CODE.search(code_text)
        assert found is not None
        code = found.group(1)
        assert "-30,000 KHR waiting" in dial(aclb, FEATURE, f"5*{PIN}")

        # 5. An agent of its bank asks for a cash-out; the phone approves it with its PIN.
        agent = open_agent(at_aclb, aclb, core)
        ask = {"idempotency_key": "out-1", "phone": FEATURE, "amount": 10_000, "asset": "KHR"}
        asked = at_aclb.post("/v1/agent/cash-out", headers=auth(agent), json=ask)
        assert asked.status_code == 202, asked.text
        assert ledger(core, "5821@aclb") == (50_000, 30_000)  # nothing moves before approval
        elsewhere = at_aclb.post("/v1/agent/cash-out", headers=auth(agent), json={
            **ask, "idempotency_key": "out-2", "phone": WING_USER})  # fmt: skip
        assert elsewhere.status_code == 404  # wing's customer approves at wing's agents only
        assert elsewhere.json()["error"]["code"] == "customer_not_found"
        approved = dial(aclb, FEATURE, f"4*1*1*{PIN}")
        assert "Agent Phsar A. asks to cash out 10,000 KHR" in approved
        assert last_screen(approved).startswith("Approved. Take 10,000 KHR in cash from the agent.")
        aclb.wait_for_height(core.height)
        assert ledger(core, "5821@aclb") == (40_000, 30_000)
        assert ledger(core, "phsar_agent@aclb") == (510_000, 0)
        status = at_aclb.get("/v1/agent/cash-out/out-1", headers=auth(agent)).json()
        assert status["state"] == "paid"

        # 6. The newcomer opens a wallet by USSD at wing and claims the money held at aclb.
        joined = dial(wing, NEWCOMER, f"2*1*6977*{PIN}*{PIN}")
        assert last_screen(joined) == "Your wallet 6977@wing is open. Dial *855# to use it."
        banks = [participant.code for participant in wing.services.genesis.participants]
        key = str(banks.index("aclb") + 1)
        wrong = f"{(int(code) + 1) % 10**10:010d}"
        tried = dial(wing, NEWCOMER, f"8*{key}*{wrong}*{code}")
        assert "Wrong code: 4 tries left." in tried
        assert last_screen(tried) == (
            "Received 30,000 KHR into your wallet 6977@wing. An SMS receipt follows."
        )
        wing.wait_for_height(core.height)
        aclb.wait_for_height(core.height)
        assert ledger(core, "6977@wing") == (30_000, 0)
        assert ledger(core, "5821@aclb") == (40_000, 0)
        assert ledger(core, escrow_account("aclb")) == (0, 0)
        assert outbox(wing.services.engine, NEWCOMER)[-1].startswith("Received 30,000 KHR from ")
        assert "was claimed" in outbox(aclb_texts, FEATURE)[-1]
        statement = dial(aclb, FEATURE, f"5*{PIN}")
        assert "-30,000 KHR claimed" in statement and "-10,000 KHR" in statement
        assert last_screen(dial(aclb, FEATURE, f"1*{PIN}")) == (
            "Balance 5821@aclb\n40,000 KHR\n0.00 USD"
        )
    wing_engine.dispose()
