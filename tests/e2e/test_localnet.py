"""Four validators as separate processes (issue 4): transfers commit, a killed validator
catches up with identical app hashes, two stopped validators halt the chain without a fork
until one returns, and a participant's stream holds only its own, proven, transactions.
A transaction paying two banks, or issuing to two, is refused and shown to neither bank
(issue 14): not in its blocks, and its status is the unknown hash's; an alias lookup is in
the validator's audit trail.
Signed requests are bound to their node (issue 14): a request one node accepted is refused by
another, and by the same node after a kill -9 and restart.

Method: `bakong.node.localnet` initialises a network in a temporary directory and starts one
`bakong node run` process per validator; the tests drive it through the SDK
(`bakong.client`) as a bank would, and kill processes with SIGKILL. A restarted validator is
judged by its own store (`tests.e2e.own_state`): the app hash it stored at every height and
its whole state, against the blocks re-executed here. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bakong.client import Client, SyncClient, TrustState, create_account, issue, transfer
from bakong.client.builders import sign
from bakong.client.errors import NotFound
from bakong.keystore import generate_key, read_key_file
from bakong.ledger.assets import Asset
from bakong.ledger.block import block_hash
from bakong.ledger.commands import Command
from bakong.ledger.transaction import Transaction
from bakong.node.localnet import Localnet, init_localnet
from bakong.node.visibility import viewers
from bakong.wire.keys import SigningKey
from bakong.wire.request import sign_request
from tests.e2e.own_state import differences, read_store, replay

pytestmark = pytest.mark.e2e

up_timeout_s = 60.0
catch_up_timeout_s = 60.0


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    directory = tmp_path_factory.mktemp("localnet")
    init_localnet(directory, 4)
    network = Localnet(directory)
    network.start()
    try:
        assert network.wait_for_height(1, up_timeout_s), _logs(directory)
        yield network
    finally:
        network.stop()


def _logs(directory: Path) -> str:
    tails = []
    for log in sorted(directory.glob("validator-*/stdout.log")):
        tails.append(f"--- {log}\n" + "\n".join(log.read_text().splitlines()[-15:]))
    return "\n".join(tails)


def _key(network: Localnet, name: str) -> SigningKey:
    return read_key_file(network.directory / "keys" / f"{name}.json")


def _client(network: Localnet, index: int, gateway: str) -> SyncClient:
    url = network.children[index].api_url
    return SyncClient(Client(url, _key(network, f"{gateway}-gateway")))


def _signed(
    client: SyncClient, creator: str, keys: list[SigningKey], *commands: Command
) -> Transaction:
    return sign(client.builder(creator).add(*commands).payload(), *keys)


def _app_hashes(client: SyncClient, up_to: int) -> list[tuple[bytes, bytes]]:
    """(block hash, app hash) of every height up to `up_to`, as one node reports them."""
    found = []
    for height in range(1, up_to + 1):
        info = client.block(height)
        found.append((block_hash(info.header), info.header.app_hash))
    return found


def _setup_wallets(network: Localnet) -> dict[str, SigningKey]:
    """Issue liquidity and open one wallet at each of two participants (once per module)."""
    nbc = _client(network, 0, "nbc")
    wallets = {"sokha@aclb": generate_key(), "dara@wing": generate_key()}
    with nbc:
        nbc_admin = _key(network, "nbc-admin")
        liquidity = issue("settlement@aclb", Asset.KHR, 10_000_000, "reserve-1")
        done = nbc.submit_and_wait(_signed(nbc, "nbc", [nbc_admin], liquidity))
        assert done.ok, done
        for account, key in wallets.items():
            code = account.split("@")[1]
            opened = nbc.submit_and_wait(
                _signed(nbc, code, [_key(network, f"{code}-admin")], create_account(account, [key]))
            )
            assert opened.ok, opened
        funded = nbc.submit_and_wait(
            _signed(
                nbc,
                "settlement@aclb",
                [_key(network, "aclb-admin")],
                transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 2_000_000),
            )
        )
        assert funded.ok, funded
    return wallets


@pytest.fixture(scope="module")
def wallets(network: Localnet) -> dict[str, SigningKey]:
    return _setup_wallets(network)


def test_cross_participant_transfers_commit_on_every_validator(
    network: Localnet, wallets: dict[str, SigningKey]
) -> None:
    with _client(network, 1, "aclb") as aclb:
        payment = _signed(
            aclb,
            "sokha@aclb",
            [wallets["sokha@aclb"]],
            transfer("sokha@aclb", "dara@wing", Asset.KHR, 150_000, memo="rent"),
        )
        committed = aclb.submit_and_wait(payment)
        assert committed.ok, committed
        assert aclb.account("sokha@aclb").balances[Asset.KHR] == 2_000_000 - 150_000
    assert network.wait_for_height(committed.height, catch_up_timeout_s)
    chains = []
    for index in range(4):
        with _client(network, index, "nbc") as nbc:
            chains.append(_app_hashes(nbc, committed.height))
            assert nbc.account("dara@wing").balances[Asset.KHR] == 150_000
    assert all(chain == chains[0] for chain in chains)


def test_a_killed_validator_is_not_missed_and_catches_up_with_the_same_app_hashes(
    network: Localnet, wallets: dict[str, SigningKey]
) -> None:
    with _client(network, 0, "nbc") as nbc:
        dara_before = nbc.account("dara@wing").balances[Asset.KHR]
    network.stop_validator(3, signal.SIGKILL)
    with _client(network, 0, "aclb") as aclb:
        for amount in (1_000, 2_000, 3_000):
            payment = _signed(
                aclb,
                "sokha@aclb",
                [wallets["sokha@aclb"]],
                transfer("sokha@aclb", "dara@wing", Asset.KHR, amount),
            )
            committed = aclb.submit_and_wait(payment)
            assert committed.ok, committed
    target = committed.height + 1
    assert network.wait_for_height(target, catch_up_timeout_s, count=3)
    network.start_validator(3)
    assert network.wait_for_height(target, catch_up_timeout_s), _logs(network.directory)
    with _client(network, 0, "nbc") as reference, _client(network, 3, "nbc") as restarted:
        assert _app_hashes(restarted, target) == _app_hashes(reference, target)
        # Its own state: what it stored and computed, against the blocks executed here.
        own = read_store(network.children[3].home / "data")
        assert own.height >= target and sorted(own.app_hashes) == list(range(1, own.height + 1))
        assert differences(own, replay(network.genesis, reference, own.height)) == []
        dara = own.balance("dara@wing", Asset.KHR.index)
        assert dara == dara_before + 1_000 + 2_000 + 3_000
        assert restarted.account("dara@wing").balances[Asset.KHR] == dara


def _api_up(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v1/status", timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def test_a_signed_request_is_accepted_once_by_its_node_only_even_across_a_kill(
    network: Localnet,
) -> None:
    node, other = network.children[2], network.children[0]
    target = "/v1/accounts/settlement@aclb"
    key = _key(network, "aclb-gateway")
    with httpx.Client(timeout=5.0) as http:
        node_key = bytes.fromhex(http.get(node.api_url + "/v1/status").json()["node_key"])
        signed_ms = time.time_ns() // 1_000_000
        captured = sign_request(
            network.genesis.chain_id, node_key, key, "GET", target, b"", signed_ms
        )
        assert http.get(node.api_url + target, headers=captured).status_code == 200
        elsewhere = http.get(other.api_url + target, headers=captured)
        assert elsewhere.status_code == 401, elsewhere.text
        assert elsewhere.json()["error"]["code"] == "wrong_node"

        network.stop_validator(2, signal.SIGKILL)
        network.start_validator(2)
        assert _api_up(node.api_url, up_timeout_s), _logs(network.directory)
        replayed = http.get(node.api_url + target, headers=captured)
        assert time.time_ns() // 1_000_000 - signed_ms < 60_000  # inside the skew window
        assert replayed.status_code == 401, replayed.text
        assert replayed.json()["error"]["code"] == "request_replayed"
        fresh = sign_request(
            network.genesis.chain_id, node_key, key, "GET", target, b"", time.time_ns() // 10**6
        )
        assert http.get(node.api_url + target, headers=fresh).status_code == 200
        height = network.height_of(http, other) or 1
    assert network.wait_for_height(height, catch_up_timeout_s), _logs(network.directory)


def test_two_stopped_validators_halt_the_chain_without_a_fork_until_one_returns(
    network: Localnet, wallets: dict[str, SigningKey]
) -> None:
    network.stop_validator(2, signal.SIGKILL)
    network.stop_validator(3, signal.SIGKILL)
    with _client(network, 0, "aclb") as aclb:
        payment = _signed(
            aclb,
            "sokha@aclb",
            [wallets["sokha@aclb"]],
            transfer("sokha@aclb", "dara@wing", Asset.KHR, 7_000),
        )
        (result,) = aclb.submit([payment])
        assert result.status == "accepted", result
        halted_at = aclb.status().height
        assert not network.wait_for_height(halted_at + 2, 4.0, count=1)  # no progress
        network.start_validator(2)
        committed = aclb.wait_for(result.tx_hash, 60.0)
        assert committed.ok, committed
    network.start_validator(3)
    assert network.wait_for_height(committed.height, catch_up_timeout_s), _logs(network.directory)
    chains = []
    for index in range(4):
        with _client(network, index, "nbc") as nbc:
            chains.append(_app_hashes(nbc, committed.height))
    assert all(chain == chains[0] for chain in chains)


def test_a_participant_stream_holds_only_its_own_transactions_each_proven(
    network: Localnet, wallets: dict[str, SigningKey]
) -> None:
    with _client(network, 0, "nbc") as nbc:
        aclb_only = _signed(
            nbc,
            "aclb",
            [_key(network, "aclb-admin")],
            create_account("chea@aclb", [generate_key()]),
        )
        opened = nbc.submit_and_wait(aclb_only)
        assert opened.ok, opened
        wing_only = _signed(
            nbc,
            "wing",
            [_key(network, "wing-admin")],
            create_account("vanna@wing", [generate_key()]),
        )
        last = nbc.submit_and_wait(wing_only)
        assert last.ok, last
    trust = TrustState.from_genesis(network.genesis)

    async def follow(gateway: str, complete: bool) -> list[tuple[int, str]]:
        key = _key(network, f"{gateway}-gateway")
        seen = []
        async with Client(network.children[1].api_url, key) as client:
            async for block in client.follow(trust, complete=complete).blocks():
                for item in block.items:
                    payload = item.transaction.payload
                    seen.append((item.height, payload.creator))
                    shown_to = viewers(payload, lambda _: ())
                    assert gateway == "nbc" or gateway in shown_to, (item.height, shown_to)
                if block.height >= last.height:
                    return seen
        raise AssertionError("the stream ended")

    everything = asyncio.run(asyncio.wait_for(follow("nbc", True), 60))
    aclb_view = asyncio.run(asyncio.wait_for(follow("aclb", False), 60))
    assert (last.height, "wing") in everything
    assert all(creator != "wing" for _, creator in aclb_view)
    assert (opened.height, "aclb") in aclb_view


def test_a_transaction_touching_two_banks_is_refused_and_shown_to_neither(
    network: Localnet, wallets: dict[str, SigningKey]
) -> None:
    with _client(network, 0, "aclb") as aclb, _client(network, 0, "nbc") as nbc:
        opened = nbc.submit_and_wait(
            _signed(nbc, "abaa", [_key(network, "abaa-admin")],
                    create_account("probea@abaa", [generate_key()]))
        )  # fmt: skip
        assert opened.ok, opened
        probe = _signed(
            aclb,
            "sokha@aclb",
            [wallets["sokha@aclb"]],
            transfer("sokha@aclb", "dara@wing", Asset.KHR, 1_000, memo="for wing"),
            transfer("sokha@aclb", "probea@abaa", Asset.KHR, 2_000, memo="for abaa"),
        )
        issue_both = _signed(
            nbc,
            "nbc",
            [_key(network, "nbc-admin")],
            issue("settlement@wing", Asset.KHR, 5, "probe-wing"),
            issue("settlement@abaa", Asset.KHR, 5, "probe-abaa"),
        )
        refused = [aclb.submit_and_wait(probe), nbc.submit_and_wait(issue_both)]
        assert [c.result for c in refused] == ["participants_mixed"] * 2, refused
    assert network.wait_for_height(refused[-1].height, catch_up_timeout_s)
    for gateway in ("wing", "abaa"):
        with _client(network, 1, gateway) as bank:
            for committed in refused:
                shown = bank.block(committed.height).transactions
                assert all(t.tx_hash != committed.tx_hash for t in shown), gateway
                assert bank.transaction(committed.tx_hash).state == "unknown"
    # Alias lookups reach the validator's own store, for the central bank to audit.
    unknown_alias = bytes(range(32))
    with _client(network, 1, "wing") as wing, _client(network, 1, "nbc") as nbc:
        with pytest.raises(NotFound):
            wing.alias(unknown_alias)
        audited = nbc.alias_lookups().lookups
    assert [(e.participant, e.account_id) for e in audited if e.alias == unknown_alias] == [
        ("wing", None)
    ]
