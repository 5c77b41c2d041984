"""The cross-border part of `bakong demo` (`bakong.crossborder.demo`) on a real local network:
the central bank admits the link `xlnk` at runtime, the link and the Thai switch simulator run
as processes with each other's keys, the corridor's account is funded once, a payment abroad
completes, a gateway's `[crossborder]` names the link, and a second start resumes all of it
without funding twice."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bakong import limits
from bakong.client import (
    Client,
    SyncClient,
    create_account,
    hold,
    hold_id_for,
    issue,
    sign,
    transfer,
)
from bakong.crossborder.demo import (
    DemoLink,
    crossborder_state,
    start_demo_link,
    with_crossborder,
)
from bakong.gateway.processes import loopback_tls, prepare_gateways
from bakong.keystore import generate_key, read_key_file
from bakong.khqr.foreign import parse
from bakong.ledger.assets import Asset
from bakong.node.localnet import CHAIN_ID, Localnet, init_localnet
from bakong.wire.request import sign_request

UP_S = 60.0
PAYER = "tourist@aclb"


def _key(network: Localnet, name: str) -> Any:
    return read_key_file(network.directory / "keys" / f"{name}.json")


def _core(network: Localnet) -> SyncClient:
    return SyncClient(Client(network.children[0].api_url, _key(network, "nbc-gateway")))


def _riel(network: Localnet, account: str) -> int:
    with _core(network) as nbc:
        return nbc.account(account).balances.get(Asset.KHR, 0)


def _commit(network: Localnet, creator: str, key: Any, *commands: Any) -> None:
    with _core(network) as core:
        committed = core.submit_and_wait(sign(core.builder(creator).add(*commands).payload(), key))
    assert committed.ok, committed.result


def _link_call(network: Localnet, link: DemoLink, method: str, path: str,
               body: Any = None) -> Any:
    """A request signed by aclb's gateway key, addressed to the link, as aclb's gateway sends."""
    raw = b"" if body is None else msgspec.json.encode(body)
    headers = sign_request(CHAIN_ID, bytes.fromhex(link.gateway_key),
                           _key(network, "aclb-gateway"), method, path, raw,
                           time.time_ns() // 1_000_000)
    with httpx.Client(base_url=link.link.url, timeout=30) as http:
        answer = http.request(method, path, content=raw or None, headers=headers)
    assert answer.status_code < 300, answer.text
    return answer.json()


def _pay_abroad(network: Localnet, link: DemoLink, qr: str) -> dict[str, Any]:
    """A customer of aclb pays `qr` through the link: quote, the hold, the payment."""
    payer = generate_key()
    _commit(network, "aclb", _key(network, "aclb-admin"), create_account(PAYER, [payer]))
    _commit(network, "nbc", _key(network, "nbc-admin"),
            issue("settlement@aclb", Asset.KHR, 1_000_000, "demo-link-test"))
    _commit(network, "settlement@aclb", _key(network, "aclb-admin"),
            transfer("settlement@aclb", PAYER, Asset.KHR, 1_000_000))
    quote = _link_call(network, link, "POST", "/v1/link/quotes", {"qr": qr, "payer": PAYER})
    e2e = quote["hold"]["reference"]
    target = quote["hold"]
    _commit(network, PAYER, payer,
            hold(hold_id_for(PAYER, e2e), PAYER, target["target"], Asset.KHR,
                 quote["khr_amount"], expires_ms=target["expires_ms"], poster=target["poster"],
                 reference=e2e))  # fmt: skip
    _link_call(network, link, "POST", "/v1/link/payments",
               {"quote_id": quote["quote_id"], "end_to_end_id": e2e,
                "hold_id": hold_id_for(PAYER, e2e).hex()})  # fmt: skip
    deadline = time.monotonic() + UP_S
    while (paid := _link_call(network, link, "GET", f"/v1/link/payments/{e2e}"))[
            "status"] == "pending":
        assert time.monotonic() < deadline, paid
        time.sleep(0.2)
    return dict(paid)


def _merchant_abroad(link: DemoLink, merchant: str) -> int:
    with httpx.Client(timeout=10) as http:
        answer = http.get(link.switch.url + "/sim/balances",
                          headers={"authorization": f"Bearer {link.switch.home.secret.hex()}"})
    return int(answer.json()["balances"][merchant])


def test_the_demo_link_starts_funded_and_resumes(tmp_path: Path) -> None:
    init_localnet(tmp_path, 4)
    network = Localnet(tmp_path)
    network.start()
    try:
        assert network.wait_for_height(1, UP_S)
        network.write_description()
        authority = loopback_tls(tmp_path).authority
        with ExitStack() as stack:
            link = start_demo_link(tmp_path, stack, authority)
            assert link.link.running() and link.switch.running()
            assert _riel(network, "thai@xlnk") == limits.link_demo_liquidity_khr
            assert _riel(network, "settlement@xlnk") == 0
            state = crossborder_state(link)
            home = with_crossborder(prepare_gateways(tmp_path, ["aclb"])["aclb"], link)
            # The link follows the stream of a participant the genesis never named.
            paid = _pay_abroad(network, link, state["example"]["qr"])
            assert paid["status"] == "completed", paid
            assert _merchant_abroad(link, "m-th-1") == 150_00
        assert not link.link.running() and not link.switch.running()  # the stack stopped them

        assert state["link"] == {"url": link.link.url, "participant": "xlnk"}
        example = state["example"]
        parsed = parse(example["qr"])
        assert (parsed.scheme, example["amount"], example["currency"]) == (
            "promptpay", 150_00, "THB")
        assert [m["merchant_id"] for m in state["merchants"]] == ["m-th-1", "m-th-2"]
        assert home.config.crossborder.link_url == link.link.url
        assert home.config.crossborder.link_key == link.gateway_key

        with ExitStack() as stack:  # a second demo on the same network
            again = start_demo_link(tmp_path, stack, authority)
            assert (again.link.url, again.switch.url) == (link.link.url, link.switch.url)
            with httpx.Client(timeout=5) as http:
                key = http.get(again.link.url + "/v1/link/key").json()
            assert key == {"participant": "xlnk", "gateway_key": link.gateway_key}
            funded = limits.link_demo_liquidity_khr + paid["khr_amount"]
            assert _riel(network, "thai@xlnk") == funded  # funded once, the payment posted
            assert _merchant_abroad(again, "m-th-1") == 150_00
            assert with_crossborder(home, again) is home  # the table is already right
    finally:
        network.stop()
