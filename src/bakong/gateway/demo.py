"""The gateways of `bakong demo`: one per sample bank, seeded with customers and a merchant, a
paid dynamic KHQR, and `demo.json` saying where everything is.

    NETWORK/demo.json   {"gateways": {code: URL},
                         "customers": [{"participant", "account", "phone", "pin"}],
                         "merchant": {"account", "participant", "open_api_base",
                                      "open_api_token", "till_sign_in": {"handle", "pin"}},
                         "paid_khqr": [{"qr", "md5", "hash", "amount", "currency",
                                        "from_account", "to_account"}],
                         "pages": {"wallet": {code: URL}, "till": URL, "officer": URL},
                         "officer": {"participant", "name", "password"},
                         "ussd": {code: {"callback_url", "service_code", "aggregator",
                                         "secret", "ca"}},
                         "agent": {"participant", "account", "phone", "pin"},
                         "core_banking": {code: {"url", "home", "accounts": [{"number",
                                          "currency", "holder", "phone"}]}},
                         "console": {"url", "staff": [{"user", "password", "role"}]},
                         "crossborder": {"link": {"url", "participant"}, "switches":
                                         {"thai": {"url", "secret"}}, "merchants": [...],
                                         "example": {...}}}

`run_demo_gateways(network, stack)` prepares and starts a gateway process per sample bank
(`bakong.gateway.processes`, HTTPS with the network's loopback CA, SQLite in each home), has
the central bank publish each one's URL on the ledger (`set_participant_endpoint`), so the
gateways find each other through the participant directory (a payer's preview shows a payee at
another bank by the masked name that bank returns), registers one customer per bank through the
wallet API as a person would (`bakong.gateway.scripted`), cashes each in from its bank's
settlement account, has the back office of abaa open a merchant with an Open API token, and has
the customer of aclb pay one of the merchant's dynamic KHQR codes through the wallet API; the
merchant's Open API then confirms it, and its envelope's figures go into `paid_khqr` (`amount`
as the Open API writes it: 4.5 for USD 4.50, 4400 for KHR 4,400). `pages` says where a person
opens the pages (`bakong.gateway.pages`): each bank's wallet at its own gateway, the till and
the officer's page at the merchant's bank; the customers sign in to their wallet with the
phone and PIN above, the merchant's owner to the till with `till_sign_in`, and `officer` is
a bank officer of the merchant's bank, made on the gateway's host as `bakong gateway officer
add` makes one, who signs in to the officer's page with that name and password. `ussd` says
where an aggregator-style client dials each bank's USSD service (`bakong.gateway.ussd`): the
form callback, with the aggregator's name and secret in the URL as Africa's Talking is set up,
and the bank's service code (`bakong phone` is such a client). `agent` is a cash agent of aclb
with a float, who signs in like a customer (`bakong.gateway.agents`). `core_banking` is the
sample core bank of each bank in `CORE_BANKS` (`bakong.corebank`, its own process and books),
linked in that gateway's `[core_banking]`, with deposit accounts whose phone is the bank's demo
customer's, so the customer links one to the wallet and moves money to it and back.
`crossborder` is the link `xlnk` and its Thai switch simulator (`bakong.crossborder.demo`):
every gateway's `[crossborder]` names the link, so a wallet pays the Thai PromptPay codes.

Rules:
- A second run resumes: the gateways keep their homes, and when `demo.json` still matches
  (every customer logs in with its phone and PIN, the merchant's token still answers), its
  people are reused and only a new code is paid and appended. Otherwise (or when the
  merchant's owner cannot open a till session) new people are registered (with a suffix
  when a handle is taken); nobody is registered twice.
- The people are invented; phone numbers are drawn at random in a Cambodian mobile range
  and PINs at random among those the gateway accepts, so they are printed, never guessable.
- The officer is kept while its name and password still sign in; otherwise a new one is made
  (with a suffix: an officer's name is never reused for another password).
- Each gateway's USSD service is switched on in its config.toml at the first run, with a fresh
  aggregator secret kept in the home (`ussd-demo.secret`); the agent is kept while it still
  signs in.
- The core bank's home, its secret (copied into the gateway's home) and its deposit accounts
  are made once; a resume finds them (an account is opened for a customer's phone only when
  the bank has none at that number).
- The processes are entered in `stack`, so leaving it (Ctrl-C) stops them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import time
import urllib.parse
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from bakong import limits
from bakong.client import Client
from bakong.corebank import books
from bakong.corebank.process import CorebankProcess
from bakong.crossborder.demo import DemoLink, crossborder_state, start_demo_link, with_crossborder
from bakong.gateway import db, officers, pins, scripted
from bakong.gateway.corebanking.config import CoreBankingConfig
from bakong.gateway.home import GatewayHome, format_config, load_home, write_secret
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.processes import (
    GatewayProcess,
    TlsFiles,
    loopback_tls,
    prepare_core_bank,
    prepare_gateways,
    publish_gateways,
)
from bakong.gateway.scripted import GatewayCalls, Person
from bakong.gateway.ussd.config import UssdAggregator, UssdConfig, secret_digest
from bakong.keystore import read_private_file, write_private_file
from bakong.ledger.assets import Asset

__all__ = ["DemoGateways", "run_demo_gateways"]

BANKS = ("aclb", "wing", "abaa")
MERCHANT_BANK = "abaa"
#: The invented customers: (bank, handle, name, birth date), and what each is cashed in.
PEOPLE = (
    ("aclb", "sokha", "Sokha Chan", "1991-04-17"),
    ("wing", "dara", "Dara Kim", "1987-11-02"),
    ("abaa", "chantha", "Chantha Sok", "1995-06-23"),
)
CASH_IN = {
    "aclb": {Asset.KHR: 1_000_000, Asset.USD: 100_00},
    "wing": {Asset.KHR: 800_000},
    "abaa": {Asset.USD: 50_00},
}
MERCHANT = ("coffee_klaing", "Coffee Klaing", "ABAA-0001")
KHQR_PRICE = (Asset.USD, 4_50)  # an iced latte
PAYER_BANK = "aclb"
#: Where a gateway serves each page family (`bakong.gateway.pages`).
PAGE_PATHS = {"wallet": "/wallet/", "till": "/till/", "officer": "/officer/"}
OFFICER_NAME = "demo.officer"
#: Each bank's USSD service code, and the aggregator every demo gateway lets in.
USSD_CODES = {"aclb": "*855*1#", "wing": "*855*2#", "abaa": "*855*3#"}
USSD_AGGREGATOR = "demo"
USSD_SECRET_FILE = "ussd-demo.secret"
#: The demo's cash agent: at the first customer's bank, with a float to pay cash-ins from.
AGENT_BANK = "aclb"
AGENT = ("sokhom_shop", "Sokhom Shop")
AGENT_FLOAT = {Asset.KHR: 2_000_000, Asset.USD: 200_00}
#: The banks that run a sample core bank, and the deposits it opens for their demo customer
#: (account numbers: a currency prefix and the phone's last eight digits).
CORE_BANKS = ("aclb",)
DEPOSITS = {"KHR": ("01", 5_000_000), "USD": ("02", 500_00)}
CORE_BANKING_SECRET_FILE = "corebank.secret"


@dataclass
class DemoGateways:
    """The demo's running gateways and what `demo.json` says."""

    processes: dict[str, GatewayProcess]
    homes: dict[str, GatewayHome]
    tls: TlsFiles
    state: dict[str, Any]
    path: Path
    #: What the payer's wallet showed before paying: {"account_id", "display_name"} of the
    #: payee, as the payee's bank returned it (found through the participant directory).
    preview: dict[str, Any] | None = None
    #: The sample core banks, by participant code.
    core_banks: dict[str, CorebankProcess] = dataclasses.field(default_factory=dict)
    #: The cross-border link and its Thai switch simulator (`bakong.crossborder.demo`).
    link: DemoLink | None = None


def _phone() -> str:
    return "+85512" + "".join(secrets.choice("0123456789") for _ in range(6))


def _pin() -> str:
    while True:
        pin = "".join(secrets.choice("0123456789") for _ in range(limits.pin_digits_min))
        if pins.pin_problem(pin) is None:
            return pin


def _calls(gateways: DemoGateways, code: str) -> GatewayCalls:
    process = gateways.processes[code]
    return GatewayCalls(process.url, verify=process.verify())


def _with_ussd(home: GatewayHome) -> GatewayHome:
    """`home` with its USSD service on (module rules): the bank's service code and the
    aggregator `demo`, whose secret is kept in the home (only its SHA-256 in the config)."""
    if home.config.ussd.enabled:
        return home
    code = home.config.gateway.participant
    secret = secrets.token_hex(limits.ussd_secret_chars_min // 2)
    write_private_file(home.path / USSD_SECRET_FILE, secret.encode())
    aggregator = UssdAggregator(shape="form", secret_sha256=secret_digest(secret))
    ussd = UssdConfig(service_code=USSD_CODES[code], aggregators={USSD_AGGREGATOR: aggregator})
    config = msgspec.structs.replace(home.config, ussd=ussd)
    (home.path / "config.toml").write_text(format_config(config))
    return load_home(home.path)


def _with_core_banking(home: GatewayHome, bank: CorebankProcess) -> GatewayHome:
    """`home` linked to its sample core bank (module rules): the bank's secret copied into the
    home, `[core_banking]` in its config."""
    if home.config.core_banking.configured:
        return home
    secret = home.path / CORE_BANKING_SECRET_FILE
    if not secret.exists():
        write_secret(secret, bank.secret)
    linked = CoreBankingConfig(url=bank.url, secret_file=CORE_BANKING_SECRET_FILE)
    config = msgspec.structs.replace(home.config, core_banking=linked)
    (home.path / "config.toml").write_text(format_config(config))
    return load_home(home.path)


def start_core_banks(network: Path, stack: ExitStack) -> dict[str, CorebankProcess]:
    """Prepare and start the sample core banks (stopped when `stack` closes)."""
    banks = {code: CorebankProcess(prepare_core_bank(network, code)) for code in CORE_BANKS}
    for bank in banks.values():
        stack.callback(bank.stop)
        bank.start()
    for bank in banks.values():
        bank.wait_healthy()
    return banks


def start_gateways(network: Path, stack: ExitStack) -> DemoGateways:
    """Prepare and start the core banks and the three gateways (stopped when `stack` closes)."""
    tls = loopback_tls(network)
    banks = start_core_banks(network, stack)
    link = start_demo_link(network, stack, tls.authority)
    prepared = prepare_gateways(network, list(BANKS))
    homes = {code: with_crossborder(_with_ussd(home), link) for code, home in prepared.items()}
    homes = {code: _with_core_banking(home, banks[code]) if code in banks else home
             for code, home in homes.items()}  # fmt: skip
    processes = {code: GatewayProcess(home, tls=tls) for code, home in homes.items()}
    for process in processes.values():
        stack.callback(process.stop)
        process.start()
    for process in processes.values():
        process.wait_healthy()
    publish_gateways(network, {code: process.url for code, process in processes.items()})
    path = network / "demo.json"
    state: dict[str, Any] = {}
    if path.exists():
        state = json.loads(path.read_text())
    return DemoGateways(processes, homes, tls, state, path, core_banks=banks, link=link)


def _still_matches(gateways: DemoGateways) -> bool:
    state = gateways.state
    try:
        urls = {code: process.url for code, process in gateways.processes.items()}
        if state.get("gateways") != urls or len(state.get("customers", [])) != len(PEOPLE):
            return False
        for customer in state["customers"]:
            calls = _calls(gateways, customer["participant"])
            with_token = calls.login(customer["phone"], customer["pin"])
            calls.close()
            if not with_token:
                return False
        merchant = state["merchant"]
        calls = _calls(gateways, merchant["participant"])
        probe = calls.open_api(merchant["open_api_token"], "check_transaction_by_md5",
                               {"md5": "0" * 32})  # fmt: skip
        calls.close()
        return probe.get("errorCode") != 6  # 6: unauthorized
    except (GatewayProblem, KeyError, TypeError):
        return False


def _register_people(gateways: DemoGateways) -> list[Person]:
    people = []
    for code, handle, name, born in PEOPLE:
        calls = _calls(gateways, code)
        database_url = gateways.homes[code].database_url
        person = Person(code, handle, name, _phone(), born, _pin())
        try:
            scripted.register(calls, database_url, person)
        except GatewayProblem as problem:
            if problem.code not in ("handle_taken", "phone_registered"):
                raise
            # A customer of an earlier demo.json that was lost: a new handle, a new phone.
            suffix = secrets.token_hex(2)
            person = Person(code, f"{handle}{suffix}", name, _phone(), born, _pin())
            scripted.register(calls, database_url, person)
        finally:
            calls.close()
        people.append(person)
    return people


async def _back_office(gateways: DemoGateways, people: list[Person]) -> scripted.MerchantDesk:
    """Cash-in every new customer; open the merchant at abaa."""
    clients = {
        code: Client(
            home.config.gateway.core_url, home.gateway_key, chain_id=home.genesis.chain_id
        )
        for code, home in gateways.homes.items()
    }
    try:
        for person in people:
            home = gateways.homes[person.participant]
            committed = await scripted.cash_in(
                clients[person.participant], home.admin_key, person.account_id,
                CASH_IN[person.participant],
            )  # fmt: skip
            if not committed.ok:
                raise GatewayProblem(502, "ledger_refused", f"cash-in: {committed.result}")
        handle, business, merchant_id = MERCHANT
        home = gateways.homes[MERCHANT_BANK]
        try:
            return await scripted.open_merchant(
                home, clients[MERCHANT_BANK], handle, business, merchant_id
            )
        except GatewayProblem as problem:
            if problem.code not in ("handle_taken", "ledger_refused"):
                raise
            suffix = secrets.token_hex(2)  # the merchant of a lost demo.json
            return await scripted.open_merchant(
                home, clients[MERCHANT_BANK], f"{handle}{suffix}", business, merchant_id
            )
    finally:
        for client in clients.values():
            await client.aclose()


def _seed(gateways: DemoGateways) -> str:
    """New customers and a merchant in `gateways.state`; the merchant's till token."""
    people = _register_people(gateways)
    desk = asyncio.run(_back_office(gateways, people))
    calls = _calls(gateways, MERCHANT_BANK)
    try:
        token = calls.call("POST", "/v1/merchant/open-api-tokens", token=desk.till_token)["token"]
    finally:
        calls.close()
    process = gateways.processes[MERCHANT_BANK]
    gateways.state = {
        "gateways": {code: p.url for code, p in gateways.processes.items()},
        "customers": [
            {"participant": p.participant, "account": p.account_id, "phone": p.phone,
             "pin": p.pin}
            for p in people
        ],  # fmt: skip
        "merchant": {
            "account": desk.account_id,
            "participant": MERCHANT_BANK,
            "open_api_base": f"{process.url}/openapi/v1",
            "open_api_token": token,
        },
        "paid_khqr": [],
    }
    return desk.till_token


def _pay_a_code(gateways: DemoGateways, till_token: str) -> dict[str, Any]:
    """The merchant makes a dynamic KHQR; the customer at the payer bank previews and pays it
    through the wallet API; the merchant's Open API confirms it. The `paid_khqr` entry."""
    asset, amount = KHQR_PRICE
    merchant = gateways.state["merchant"]
    till = _calls(gateways, MERCHANT_BANK)
    payer = next(c for c in gateways.state["customers"] if c["participant"] == PAYER_BANK)
    wallet = _calls(gateways, PAYER_BANK)
    try:
        code = till.call("POST", "/v1/merchant/codes", token=till_token,
                         body={"asset": asset.value, "amount": amount})  # fmt: skip
        session = wallet.login(payer["phone"], payer["pin"])
        # What a payer sees after scanning, before the PIN: the payee's masked name, asked of
        # the payee's bank at the URL the central bank published.
        shown = wallet.call("POST", "/v1/payments/preview", token=session,
                            body={"to": {"khqr": code["qr"]}})  # fmt: skip
        gateways.preview = shown["payee"]
        paid = wallet.pay_and_wait(session, f"demo-{uuid.uuid4().hex}", {"khqr": code["qr"]},
                                   memo="iced latte")  # fmt: skip
        if paid.get("state") != "committed":
            raise GatewayProblem(502, "payment_unfinished", f"the payment is {paid.get('state')}")

        def confirmed() -> dict[str, Any] | None:
            envelope = till.open_api(merchant["open_api_token"], "check_transaction_by_md5",
                                     {"md5": code["md5"]})  # fmt: skip
            return envelope if envelope.get("responseCode") == 0 else None

        data = scripted.wait_until(confirmed, limits.gateway_submit_wait_s, "Open API")["data"]
    finally:
        till.close()
        wallet.close()
    return {
        "qr": code["qr"],
        "md5": code["md5"],
        "hash": data["hash"],
        "amount": data["amount"],
        "currency": data["currency"],
        "from_account": data["fromAccountId"],
        "to_account": data["toAccountId"],
    }


def _till_token(gateways: DemoGateways) -> str:
    home = gateways.homes[MERCHANT_BANK]
    return scripted.till_session(home, gateways.state["merchant"]["account"])


def run_demo_gateways(network: Path, stack: ExitStack) -> DemoGateways:
    """Start the gateways, seed or resume them, pay a code, write `demo.json`."""
    gateways = start_gateways(network, stack)
    till_token = None
    if _still_matches(gateways):
        try:
            till_token = _till_token(gateways)
        except GatewayProblem:
            pass  # a merchant whose owner cannot sign in (made by an older demo): seed anew
    if till_token is None:
        till_token = _seed(gateways)
    gateways.state["paid_khqr"].append(_pay_a_code(gateways, till_token))
    _add_pages(gateways)
    _add_officer(gateways)
    _add_ussd(gateways)
    _add_agent(gateways)
    _add_core_banking(gateways)
    if gateways.link is not None:
        gateways.state["crossborder"] = crossborder_state(gateways.link)
    from bakong.console.demo import start_demo_console  # the central bank's console (C2)

    known = gateways.state.get("console")
    gateways.state["console"] = start_demo_console(network, stack, known, gateways.tls)
    gateways.path.write_text(json.dumps(gateways.state, indent=2) + "\n")
    return gateways


def _add_pages(gateways: DemoGateways) -> None:
    """Where each page is and how its people sign in, in `gateways.state` (module docstring)."""
    urls = {code: process.url for code, process in gateways.processes.items()}
    merchant = gateways.state["merchant"]
    handle, pin = scripted.till_sign_in(gateways.homes[MERCHANT_BANK], merchant["account"])
    merchant["till_sign_in"] = {"handle": handle, "pin": pin}
    gateways.state["pages"] = {
        "wallet": {code: url + PAGE_PATHS["wallet"] for code, url in urls.items()},
        "till": urls[MERCHANT_BANK] + PAGE_PATHS["till"],
        "officer": urls[MERCHANT_BANK] + PAGE_PATHS["officer"],
    }


def _officer_signs_in(gateways: DemoGateways, officer: dict[str, str]) -> bool:
    calls = _calls(gateways, MERCHANT_BANK)
    try:
        body = {"name": officer["name"], "password": officer["password"]}
        token = calls.call("POST", "/v1/officer/sessions", body=body)["token"]
        calls.call("DELETE", "/v1/sessions", token=token)  # only a check: sign out again
        return True
    except (GatewayProblem, KeyError, TypeError):
        return False
    finally:
        calls.close()


def _add_officer(gateways: DemoGateways) -> None:
    """The demo's bank officer at the merchant's bank in `gateways.state` (module rules)."""
    known = gateways.state.get("officer")
    if isinstance(known, dict) and _officer_signs_in(gateways, known):
        return
    engine = db.engine_for(gateways.homes[MERCHANT_BANK].database_url)
    password = officers.generate_password(os.urandom)
    name = OFFICER_NAME
    try:
        try:
            officers.add_officer(engine, name, password, time.time_ns() // 1_000_000)
        except GatewayProblem as problem:
            if problem.code != "officer_exists":
                raise
            name = f"{OFFICER_NAME}-{secrets.token_hex(2)}"  # the officer of a lost demo.json
            officers.add_officer(engine, name, password, time.time_ns() // 1_000_000)
    finally:
        engine.dispose()
    gateways.state["officer"] = {"participant": MERCHANT_BANK, "name": name, "password": password}


def _add_ussd(gateways: DemoGateways) -> None:
    """Where an aggregator-style client dials each bank (`"ussd"` in demo.json): the callback
    URL with the aggregator's name and secret in it, as Africa's Talking is configured."""
    services = {}
    for code, process in gateways.processes.items():
        home = gateways.homes[code]
        secret = read_private_file(home.path / USSD_SECRET_FILE).decode()
        url = urllib.parse.urlsplit(process.url)
        with_login = url._replace(netloc=f"{USSD_AGGREGATOR}:{secret}@{url.netloc}")
        services[code] = {
            "callback_url": urllib.parse.urlunsplit(with_login) + "/ussd/callback",
            "service_code": home.config.ussd.service_code,
            "aggregator": USSD_AGGREGATOR,
            "secret": secret,
            "ca": str(gateways.tls.authority),
        }
    gateways.state["ussd"] = services


def _agent_signs_in(gateways: DemoGateways, agent: dict[str, str]) -> bool:
    calls = _calls(gateways, agent["participant"])
    try:
        return bool(calls.login(agent["phone"], agent["pin"]))
    except GatewayProblem:
        return False
    finally:
        calls.close()


def _add_agent(gateways: DemoGateways) -> None:
    """The demo's cash agent (`"agent"` in demo.json): opened by the back office of its bank
    through `POST /v1/officer/agents`, its float paid from the bank's settlement account. Kept
    on a resume while it still signs in."""
    known = gateways.state.get("agent")
    if isinstance(known, dict) and _agent_signs_in(gateways, known):
        return
    home = gateways.homes[AGENT_BANK]
    handle, name = AGENT
    if isinstance(known, dict):
        handle = f"{handle}{secrets.token_hex(2)}"  # the agent of a lost demo.json
    agent = {"participant": AGENT_BANK, "account": f"{handle}@{AGENT_BANK}",
             "phone": _phone(), "pin": _pin()}  # fmt: skip
    body = {"handle": handle, "name": name, "phone": agent["phone"], "pin": agent["pin"]}
    calls = _calls(gateways, AGENT_BANK)
    try:
        officer = scripted.officer_token(home)

        def opened() -> Any:  # 202 while on its way: the same request finishes it
            answer = calls.call("POST", "/v1/officer/agents", token=officer, body=body)
            return None if answer.get("state") else answer

        scripted.wait_until(opened, limits.local_gateway_request_timeout_s, "the agent's account")
    finally:
        calls.close()

    async def fund() -> None:
        core = Client(home.config.gateway.core_url, home.gateway_key,
                      chain_id=home.genesis.chain_id)  # fmt: skip
        try:
            committed = await scripted.cash_in(core, home.admin_key, agent["account"], AGENT_FLOAT)
        finally:
            await core.aclose()
        if not committed.ok:
            raise GatewayProblem(502, "ledger_refused", f"the agent's float: {committed.result}")

    asyncio.run(fund())
    gateways.state["agent"] = agent


def _add_core_banking(gateways: DemoGateways) -> None:
    """Each core bank's deposit accounts for its bank's demo customer (`"core_banking"` in
    demo.json): opened in the bank's books once, with the customer's phone."""
    names = {code: name for code, _, name, _ in PEOPLE}
    found: dict[str, Any] = {}
    for code, bank in gateways.core_banks.items():
        customer = next(c for c in gateways.state["customers"] if c["participant"] == code)
        engine = db.engine_for(bank.home.database_url)
        accounts = []
        try:
            for currency, (prefix, opening) in DEPOSITS.items():
                number = prefix + customer["phone"][-8:]
                if books.find_account(engine, number) is None:
                    books.add_account(engine, number, names[code], customer["phone"], currency,
                                      opening, time.time_ns() // 1_000_000)  # fmt: skip
                accounts.append({"number": number, "currency": currency,
                                 "holder": names[code], "phone": customer["phone"]})  # fmt: skip
        finally:
            engine.dispose()
        found[code] = {"url": bank.url, "home": str(bank.home.path), "accounts": accounts}
    gateways.state["core_banking"] = found


def core_banking_lines(gateways: DemoGateways) -> list[str]:
    """How to try wallet -> bank account and back, for the demo's printout."""
    lines = []
    for code, bank in gateways.state.get("core_banking", {}).items():
        customer = next(c for c in gateways.state["customers"] if c["participant"] == code)
        url = gateways.state["gateways"][code]
        ca = gateways.tls.authority
        numbers = ", ".join(f"{a['number']} ({a['currency']})" for a in bank["accounts"])
        lines += [
            f"\nwallet <-> bank account at {code} (its sample core bank: {bank['url']}; books: "
            f"bakong corebank account list --home {bank['home']}):",
            f"  {customer['account']}'s deposit accounts: {numbers}, at phone {customer['phone']}",
            "  in the wallet page: Bank account; or with curl (TOKEN from POST /v1/sessions):",
            f"  link:    curl --cacert {ca} -H \"authorization: Bearer $TOKEN\" -d "
            f"'{{\"account_number\": \"{bank['accounts'][0]['number']}\", \"pin\": "
            f"\"{customer['pin']}\"}}' {url}/v1/wallet/bank-accounts",
            f"  to bank: curl --cacert {ca} -H \"authorization: Bearer $TOKEN\" -d "
            f"'{{\"idempotency_key\": \"k1\", \"link_id\": \"<link_id>\", \"direction\": "
            f"\"to_bank\", \"amount\": 10000, \"pin\": \"{customer['pin']}\"}}' "
            f"{url}/v1/wallet/bank-transfers",
            "  and back: the same with \"direction\": \"from_bank\" (a new idempotency_key)",
            f"  the day's reconciliation: bakong gateway reconcile --home "
            f"{gateways.homes[code].path} --day <YYYY-MM-DD> (docs/core-banking.md)",
        ]
    return lines
