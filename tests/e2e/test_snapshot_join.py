"""A new node joins from a state snapshot (issue 4): a validator whose disk is wiped is given
the state of a recent snapshot height by `bakong node restore`, verified against the header
that carries the snapshot's root, then catches up with blocks and agrees with the others; its
guard starts with the restore's horizon, up to which it votes only nil.

Method: four `bakong node run` processes (`bakong.node.localnet`) on a genesis that takes a
snapshot every 10 heights with a lag of 2, and a 300 ms heartbeat so heights pass quickly.
Validator 3 is killed, its store deleted, and `python -m bakong node restore` run against
validator 0's API as a separate process, as an operator would, given the carrier's block hash as
the trusted block (a wrong one is refused first). The joined node is then judged by its own
store (`tests.e2e.own_state`): the app hash it stored at every height it holds and its whole
state, against the chain re-executed here from genesis. Every wait is bounded.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from bakong.client import Client, SyncClient, issue, transfer
from bakong.client.builders import sign
from bakong.client.errors import ApiError
from bakong.keystore import read_key_file
from bakong.ledger.assets import Asset
from bakong.ledger.block import block_hash
from bakong.ledger.genesis import decode_genesis, encode_genesis
from bakong.node.home import BlocksSection
from bakong.node.localnet import Localnet, init_localnet
from bakong.wire.keys import SigningKey
from bakong.wire.request import sign_request
from tests.e2e.own_state import differences, read_store, replay

pytestmark = pytest.mark.e2e

INTERVAL, LAG = 10, 2
timeout_s = 60.0


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Localnet]:
    directory = tmp_path_factory.mktemp("snapnet")
    quick_blocks = BlocksSection(txs_max=2_000, interval_ms=50, heartbeat_ms=300)
    init_localnet(directory, 4, blocks=quick_blocks)
    genesis = decode_genesis((directory / "genesis.json").read_bytes())
    quick = msgspec.structs.replace(genesis, snapshot_interval=INTERVAL, snapshot_lag=LAG)
    for path in [directory / "genesis.json", *directory.glob("validator-*/genesis.json")]:
        path.write_bytes(encode_genesis(quick))
    network = Localnet(directory)
    network.start()
    try:
        assert network.wait_for_height(1, timeout_s)
        yield network
    finally:
        network.stop()


def _key(network: Localnet, name: str) -> SigningKey:
    return read_key_file(network.directory / "keys" / f"{name}.json")


def _client(network: Localnet, index: int) -> SyncClient:
    return SyncClient(Client(network.children[index].api_url, _key(network, "nbc-gateway")))


def _pay(network: Localnet, index: int, amount: int, reference: str) -> int:
    with _client(network, index) as nbc:
        if reference == "first":
            liquidity = issue("settlement@aclb", Asset.KHR, 10**9, "reserve-1")
            payload = nbc.builder("nbc").add(liquidity).payload()
            assert nbc.submit_and_wait(sign(payload, _key(network, "nbc-admin"))).ok
        move = transfer("settlement@aclb", "settlement@wing", Asset.KHR, amount, memo=reference)
        payload = nbc.builder("settlement@aclb").add(move).payload()
        done = nbc.submit_and_wait(sign(payload, _key(network, "aclb-admin")))
        assert done.ok, done
        return done.height


def _get(url: str, target: str, chain_id: str, key: SigningKey) -> httpx.Response:
    node_key = bytes.fromhex(httpx.get(url + "/v1/status", timeout=10.0).json()["node_key"])
    headers = sign_request(chain_id, node_key, key, "GET", target, b"", time.time_ns() // 10**6)
    return httpx.get(url + target, headers=headers, timeout=10.0)


def _guard_horizon(api_url: str) -> tuple[int, bool]:
    """The node's guard horizon and whether it is still open, from its metrics."""
    text = httpx.get(f"{api_url}/metrics", timeout=timeout_s).text
    samples = dict(line.split(" ") for line in text.splitlines() if line[:1] != "#")
    return int(samples["bakong_guard_horizon"]), samples["bakong_guard_horizon_open"] == "1"


def test_a_wiped_validator_restores_a_snapshot_and_rejoins(network: Localnet) -> None:
    _pay(network, 0, 5_000, "first")
    assert network.wait_for_height(3 * INTERVAL + LAG, timeout_s)
    source = network.children[0]
    chain_id = network.genesis.chain_id

    # Only validators and the central bank may fetch snapshots.
    joiner_key = read_key_file(network.children[3].home / "node_key.json")
    listing = _get(source.api_url, "/v1/snapshots", chain_id, joiner_key)
    assert listing.status_code == 200, listing.text
    heights = [entry["height"] for entry in listing.json()["snapshots"]]
    assert heights and all(height % INTERVAL == 0 for height in heights)
    refused = _get(source.api_url, "/v1/snapshots", chain_id, _key(network, "aclb-gateway"))
    assert refused.status_code == 403

    network.stop_validator(3, signal.SIGKILL)
    shutil.rmtree(network.children[3].home / "data")
    _pay(network, 1, 7_000, "while-away")
    # The newest snapshot now: a node keeps two, and heights pass every 300 ms.
    listing = _get(source.api_url, "/v1/snapshots", chain_id, joiner_key)
    snapshot = max(entry["height"] for entry in listing.json()["snapshots"])
    with _client(network, 0) as reference:
        carrier_hash = block_hash(reference.block(snapshot + LAG).header)

    def restore(trusted: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "bakong", "node", "restore", "--home"]
            + [str(network.children[3].home), "--from", source.api_url, "--json"]
            + ["--height", str(snapshot), "--trust-carrier", trusted.hex()],
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )

    refused_restore = restore(bytes(32))  # a carrier hash the peer's chain does not have
    assert refused_restore.returncode == 2, refused_restore.stderr.decode()
    assert b"carrier_untrusted" in refused_restore.stderr, refused_restore.stderr.decode()
    restore_done = restore(carrier_hash)
    assert restore_done.returncode == 0, restore_done.stderr.decode()
    report = json.loads(restore_done.stdout)
    restored = report["height"]
    assert restored == snapshot
    assert report["entries"] > 0 and report["chunks"] >= 1
    # It may have signed up to the height the network had reached when it lost its store, and
    # does not know what: its guard's horizon starts one past the carrier (bakong.node.signer).
    assert report["horizon"] == snapshot + LAG + 1

    network.start_validator(3)
    height = _pay(network, 2, 9_000, "after")
    assert network.wait_for_height(height + 1, timeout_s)
    # Catch-up moved the horizon on to the height the others were deciding, and deciding it
    # closed the horizon.
    deadline = time.monotonic() + timeout_s
    while (guard := _guard_horizon(network.children[3].api_url))[1] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert guard[0] > report["horizon"] and not guard[1]
    with _client(network, 3) as joined, _client(network, 0) as reference:
        with pytest.raises(ApiError):
            joined.block(1)  # it never had the history before its snapshot
        for at in range(restored + 1, height + 2):
            mine, theirs = joined.block(at), reference.block(at)
            assert block_hash(mine.header) == block_hash(theirs.header)
            assert mine.header.app_hash == theirs.header.app_hash
        assert joined.account("settlement@wing").balances[Asset.KHR] == 5_000 + 7_000 + 9_000
        # Its own store: the snapshot's height and every one after, and the state they lead to.
        own = read_store(network.children[3].home / "data")
        assert sorted(own.app_hashes) == list(range(restored, own.height + 1))
        assert differences(own, replay(network.genesis, reference, own.height)) == []
        assert own.balance("settlement@wing", Asset.KHR.index) == 5_000 + 7_000 + 9_000
    # It votes again: with validator 2 stopped, the chain needs it to move on.
    network.stop_validator(2, signal.SIGKILL)
    height = _pay(network, 3, 1_000, "needs-the-joiner")
    assert height > 0
