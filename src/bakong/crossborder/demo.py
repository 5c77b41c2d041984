"""The cross-border part of `bakong demo`: one link (`xlnk`) with a `thai` corridor to the Thai
switch simulator, each its own process, and every demo gateway paying through it.

    NETWORK/keys/xlnk-admin.json, xlnk-gateway.json, xlnk-iso.json   the link's keys
    NETWORK/foreign-thai/     the Thai switch simulator's home (`bakong.foreignsim.home`)
    NETWORK/link-xlnk/        the link's home (`bakong.crossborder.home`)

`start_demo_link(network, stack, ca)`:
- has the central bank admit `xlnk` on the running ledger (`register_participant`, with the
  link's admin and gateway keys), as a real central bank admits a new participant, so the
  genesis the tests share stays as it is;
- writes the two homes with each other's keys exchanged (the switch holds the link's ISO key,
  the link the switch's key), on free loopback ports, and starts both (entered in `stack`, so
  leaving it stops them);
- funds the corridor's account `thai@xlnk` (the link opens it at start): the central bank
  issues riel to `settlement@xlnk` and the link moves it to the corridor's account
  (docs/crossborder.md, Accounts).
`with_crossborder(home, link)` writes a gateway's `[crossborder]` table (the link's URL and
gateway key); `crossborder_state(link)` is the `"crossborder"` entry of demo.json:

    {"link": {"url", "participant"}, "switches": {"thai": {"url", "secret"}},
     "merchants": [{"merchant_id", "name", "scheme", "qr", "currency", "amount"}],
     "example": {the first merchant with a dynamic code of `EXAMPLE_THB` satang}}

Rules:
- A second run resumes: the keys, the homes and the registration are made once; the liquidity
  is issued only while neither `settlement@xlnk` nor `thai@xlnk` holds any riel (the state of a
  link never funded), so a resume adds no money.
- The simulator's secret (its own test API) is in demo.json, as the other demo secrets are.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import msgspec

from bakong import limits
from bakong.client import Client, SyncClient, issue, register_participant, sign, transfer
from bakong.client.errors import NotFound
from bakong.crossborder.home import Corridor, LinkConfig, LinkSection, init_home
from bakong.crossborder.messages import key_id
from bakong.crossborder.process import LinkProcess
from bakong.errors import ConfigError
from bakong.foreignsim.home import init_home as init_switch_home
from bakong.foreignsim.home import load_home as load_switch_home
from bakong.foreignsim.process import SwitchProcess
from bakong.gateway.crossborder.config import CrossborderConfig
from bakong.gateway.home import GatewayHome, format_config, load_home
from bakong.keystore import generate_key, read_key_file, write_key_file
from bakong.ledger.assets import Asset
from bakong.ports import loopback_port
from bakong.wire.keys import SigningKey

__all__ = ["DemoLink", "crossborder_lines", "crossborder_state", "start_demo_link",
           "with_crossborder"]  # fmt: skip

LINK = ("xlnk", "Bakong Cross-border Link (demo)")
CORRIDOR: Final = "thai"
RATE = "118.25"  # riel per baht, before the link's spread
SPREAD_BPS = 100
EXAMPLE_THB = 150_00  # what the printed code asks: 150.00 baht


@dataclass
class DemoLink:
    """The running link and its switch simulator."""

    link: LinkProcess
    switch: SwitchProcess
    gateway_key: str  # the link's gateway key, hex: what gateways address their requests to

    @property
    def participant(self) -> str:
        return LINK[0]


def _key(network: Path, name: str) -> SigningKey:
    path = network / "keys" / f"{name}.json"
    if not path.exists():
        write_key_file(path, generate_key())
    return read_key_file(path)


def _core_url(network: Path) -> str:
    from bakong.node.localnet import Localnet

    return Localnet(network).children[0].api_url


def _commit(nbc: SyncClient, creator: str, keys: list[SigningKey], *commands: Any) -> None:
    committed = nbc.submit_and_wait(sign(nbc.builder(creator).add(*commands).payload(), *keys))
    if not committed.ok:
        raise ConfigError(f"the demo link: {committed.result}")


def _central_bank(network: Path) -> SyncClient:
    return SyncClient(Client(_core_url(network), read_key_file(network / "keys/nbc-gateway.json")))


def _admit(network: Path) -> None:
    """The central bank registers the link participant, unless the ledger knows it."""
    code, name = LINK
    admin, gateway = _key(network, f"{code}-admin"), _key(network, f"{code}-gateway")
    with _central_bank(network) as nbc:
        try:
            nbc.participant(code)
            return
        except NotFound:
            pass
        command = register_participant(code, name, [admin.public_key],
                                       gateway_keys=[gateway.public_key])  # fmt: skip
        _commit(nbc, "nbc", [read_key_file(network / "keys/nbc-admin.json")], command)


def _prepare(network: Path) -> tuple[Path, Path, str]:
    """The switch's and the link's homes (written once), and the link's URL."""
    code = LINK[0]
    keys = network / "keys"
    _key(network, f"{code}-iso")
    switch_home, link_home = network / f"foreign-{CORRIDOR}", network / f"link-{code}"
    if (switch_home / "config.toml").exists():
        link_url = load_switch_home(switch_home).config.switch.link_url
    else:
        link_url = f"http://127.0.0.1:{loopback_port()}"
        init_switch_home(switch_home, CORRIDOR, link_url, keys / f"{code}-iso.json",
                         listen=f"127.0.0.1:{loopback_port()}", now_ms=time.time_ns() // 1_000_000)
    if not (link_home / "config.toml").exists():
        switch = load_switch_home(switch_home)
        corridor = Corridor(family=CORRIDOR, switch_url=switch.url,
                            switch_key=key_id(switch.key.public_key), rate=RATE,
                            spread_bps=SPREAD_BPS)  # fmt: skip
        section = LinkSection(participant=code, core_url=_core_url(network),
                              listen=link_url.removeprefix("http://"))  # fmt: skip
        init_home(link_home, LinkConfig(section, corridors={CORRIDOR: corridor}),
                  network / "genesis.json", gateway_key_file=keys / f"{code}-gateway.json",
                  admin_key_file=keys / f"{code}-admin.json",
                  iso_key_file=keys / f"{code}-iso.json")  # fmt: skip
    return switch_home, link_home, link_url


def _riel(nbc: SyncClient, account: str) -> int | None:
    try:
        return nbc.account(account).balances.get(Asset.KHR, 0)
    except NotFound:
        return None


def _fund(network: Path) -> None:
    """Liquidity for the corridor's account, once (module rules)."""
    code = LINK[0]
    settlement, corridor = f"settlement@{code}", f"{CORRIDOR}@{code}"
    amount = limits.link_demo_liquidity_khr
    with _central_bank(network) as nbc:
        deadline = time.monotonic() + limits.link_start_timeout_s
        while (held := _riel(nbc, corridor)) is None:  # the link opens it as it starts
            if time.monotonic() > deadline:
                raise ConfigError(f"the link did not open {corridor}")
            time.sleep(0.2)
        if held or _riel(nbc, settlement):
            return
        _commit(nbc, "nbc", [read_key_file(network / "keys/nbc-admin.json")],
                issue(settlement, Asset.KHR, amount, f"{code}-demo-liquidity"))
        _commit(nbc, settlement, [_key(network, f"{code}-admin")],
                transfer(settlement, corridor, Asset.KHR, amount, memo="corridor liquidity"))


def start_demo_link(network: Path, stack: ExitStack, authority: Path) -> DemoLink:
    """Admit, prepare, start and fund the demo's link and its Thai switch (module docstring);
    `authority` is the CA of the local gateways, which the link calls for KHQR lookups."""
    _admit(network)
    switch_home, link_home, link_url = _prepare(network)
    switch = SwitchProcess(switch_home)
    link = LinkProcess(link_home, link_url, environment={"SSL_CERT_FILE": str(authority)})
    for process in (switch, link):
        stack.callback(process.stop)
    switch.start()
    switch.wait_healthy()
    link.start()
    link.wait_healthy()
    _fund(network)
    gateway_key = _key(network, f"{LINK[0]}-gateway").public_key.hex()
    return DemoLink(link, switch, gateway_key)


def with_crossborder(home: GatewayHome, link: DemoLink) -> GatewayHome:
    """`home` with `[crossborder]` naming the demo's link (rewritten only when it differs)."""
    wanted = CrossborderConfig(link_url=link.link.url, link_key=link.gateway_key)
    if home.config.crossborder == wanted:
        return home
    config = msgspec.structs.replace(home.config, crossborder=wanted)
    (home.path / "config.toml").write_text(format_config(config))
    return load_home(home.path)


def _sim(link: DemoLink, path: str) -> Any:
    secret = link.switch.home.secret.hex()
    with httpx.Client(base_url=link.switch.url, timeout=limits.link_timeout_s_max) as http:
        answer = http.get(path, headers={"authorization": f"Bearer {secret}"})
    if answer.status_code != 200:
        raise ConfigError(f"the {CORRIDOR} simulator answered {answer.status_code} to {path}")
    return answer.json()


def _merchant(view: dict[str, Any]) -> dict[str, Any]:
    return {field: view[field] for field in
            ("merchant_id", "name", "scheme", "qr", "currency", "amount")}  # fmt: skip


def crossborder_state(link: DemoLink) -> dict[str, Any]:
    """The `"crossborder"` entry of demo.json (module docstring), read from the simulator."""
    merchants = [_merchant(view) for view in _sim(link, "/sim/merchants")["merchants"]]
    first = merchants[0]["merchant_id"]
    example = _merchant(_sim(link, f"/sim/merchants/{first}/qr?amount={EXAMPLE_THB}"))
    return {
        "link": {"url": link.link.url, "participant": link.participant},
        "switches": {CORRIDOR: {"url": link.switch.url,
                                "secret": link.switch.home.secret.hex()}},  # fmt: skip
        "merchants": merchants,
        "example": example,
    }


def crossborder_lines(state: dict[str, Any], authority: Path) -> list[str]:
    """How to pay a Thai merchant from a demo wallet, for the demo's printout."""
    found = state.get("crossborder")
    if not found:
        return []
    example = found["example"]
    payer = state["customers"][0]
    url = state["gateways"][payer["participant"]]
    switch = found["switches"][CORRIDOR]
    major = example["amount"] / 100
    return [
        f"\npaying abroad: link {found['link']['participant']} at {found['link']['url']} "
        f"(docs/crossborder.md), the {CORRIDOR} switch simulator at {switch['url']}",
        f"  {example['name']} ({example['scheme']}) asks {major:.2f} {example['currency']}:",
        f"  {example['qr']}",
        f"  as an image: bakong qr render '{example['qr']}' --png thai.png",
        f"  in {payer['account']}'s wallet: Scan, choose a photo of it; or with curl "
        "(TOKEN from POST /v1/sessions):",
        f"  quote: curl --cacert {authority} -H \"authorization: Bearer $TOKEN\" -d "
        f"'{{\"qr\": \"{example['qr']}\"}}' {url}/v1/wallet/foreign/quotes",
        f"  pay:   curl --cacert {authority} -H \"authorization: Bearer $TOKEN\" -d "
        f"'{{\"quote_id\": \"<quote_id>\", \"pin\": \"{payer['pin']}\", \"idempotency_key\": "
        f"\"abroad-1\"}}' {url}/v1/wallet/foreign/payments",
        f"  the merchant's balance there: curl -H \"authorization: Bearer {switch['secret']}\" "
        f"{switch['url']}/sim/balances",
    ]
