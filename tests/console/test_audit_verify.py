"""`bakong audit verify` on a real chain (issue 19, Audit): four validator processes with real
traffic (issuance, accounts, transfers, a hold placed and posted, a phone alias registered, a
participant registered, state snapshots whose roots later headers carry) re-verify from
genesis both from a validator's home and from a node's API as the central bank; copies of the
home with one byte changed in a stored block, a block removed, or one state value changed fail
at the right height with the right reason.

Method: `bakong.node.localnet` starts the processes in a temporary directory (its genesis
rewritten before they start, to take a snapshot every few blocks); the traffic goes through
the SDK as the banks would send it. A tampered home is a consistent copy of the live store
(`Environment.copy`, one read transaction) changed through LMDB itself, so the change is
exactly the one byte (or the one value) the test names. The command runs through its click
entry point, as a shell would run it.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import lmdb
import msgspec
import pytest
from click.testing import CliRunner

from bakong import limits
from bakong.cli import main
from bakong.client import (
    Client,
    SyncClient,
    create_account,
    issue,
    register_alias,
    register_participant,
    transfer,
)
from bakong.client.builders import alias_hash, hold, hold_id_for, post, sign
from bakong.keystore import generate_key, read_key_file
from bakong.ledger.assets import Asset
from bakong.ledger.block import decode_block
from bakong.ledger.commands import Command
from bakong.ledger.genesis import decode_genesis, encode_genesis
from bakong.ledger.records import Account
from bakong.ledger.state import account_key, decode_value
from bakong.node.chain_env import decode_write_set, encode_write_set
from bakong.node.localnet import Localnet, init_localnet
from bakong.node.service import StoredBlock
from bakong.wire.codec import encode
from bakong.wire.keys import SigningKey

pytestmark = pytest.mark.e2e

UP_S = 60.0
MARKER = "audit-marker-rent"  # the memo of the transfer whose stored block a test changes


@dataclass
class Chain:
    network: Localnet
    marked_height: int  # the block holding the transfer with MARKER in its memo
    last_height: int  # the last block with traffic

    @property
    def genesis(self) -> Path:
        return self.network.directory / "genesis.json"

    @property
    def home(self) -> Path:
        return self.network.children[0].home

    def key_file(self, name: str) -> Path:
        return self.network.directory / "keys" / f"{name}.json"

    def key(self, name: str) -> SigningKey:
        return read_key_file(self.key_file(name))


def _commit(client: SyncClient, creator: str, keys: list[SigningKey], *commands: Command) -> int:
    transaction = sign(client.builder(creator).add(*commands).payload(), *keys)
    committed = client.submit_and_wait(transaction)
    assert committed.ok, committed
    return committed.height


def _traffic(chain: Chain, nbc: SyncClient) -> None:
    sokha, dara = generate_key(), generate_key()
    admin = {code: chain.key(f"{code}-admin") for code in ("nbc", "aclb", "wing")}
    _commit(nbc, "nbc", [admin["nbc"]], issue("settlement@aclb", Asset.KHR, 10_000_000, "r-1"))
    _commit(nbc, "aclb", [admin["aclb"]], create_account("sokha@aclb", [sokha]))
    _commit(nbc, "wing", [admin["wing"]], create_account("dara@wing", [dara]))
    funding = transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 2_000_000, memo="cash-in")
    _commit(nbc, "settlement@aclb", [admin["aclb"]], funding)
    payment = transfer("sokha@aclb", "dara@wing", Asset.KHR, 150_000, memo=MARKER)
    chain.marked_height = _commit(nbc, "sokha@aclb", [sokha], payment)
    hold_id = hold_id_for("sokha@aclb", "audit-hold")
    expires_ms = nbc.status().block_time_ms + limits.hold_expiry_ms_min * 2
    placed = hold(hold_id, "sokha@aclb", "dara@wing", Asset.KHR, 40_000, expires_ms=expires_ms)
    _commit(nbc, "sokha@aclb", [sokha], placed)
    _commit(nbc, "sokha@aclb", [sokha], post(hold_id, 30_000))
    alias = alias_hash(bytes(32), "+85512000777")
    _commit(nbc, "aclb", [admin["aclb"]], register_alias(alias, "sokha@aclb"))
    newcomer = register_participant("mfik", "Sample MFI", [generate_key()])
    chain.last_height = _commit(nbc, "nbc", [admin["nbc"]], newcomer)


def _snapshot_often(directory: Path) -> None:
    """A snapshot every 4 blocks, its root 2 blocks later: the audit checks several roots."""
    genesis = decode_genesis((directory / "genesis.json").read_bytes())
    often = encode_genesis(msgspec.structs.replace(genesis, snapshot_interval=4, snapshot_lag=2))
    for path in [directory, *directory.glob("validator-*")]:
        (path / "genesis.json").write_bytes(often)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    directory = tmp_path_factory.mktemp("audit-chain")
    init_localnet(directory, 4)
    _snapshot_often(directory)
    network = Localnet(directory)
    network.start()
    try:
        assert network.wait_for_height(1, UP_S)
        found = Chain(network, 0, 0)
        key = found.key("nbc-gateway")
        with SyncClient(Client(network.children[0].api_url, key)) as nbc:
            _traffic(found, nbc)
        assert network.wait_for_height(found.last_height, UP_S)
        yield found
    finally:
        network.stop()


def _audit(*arguments: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(main, ["audit", *arguments, "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _verify_home(chain: Chain, home: Path) -> tuple[int, dict[str, object]]:
    return _audit("verify", "--genesis", str(chain.genesis), "--home", str(home))


def test_a_real_chain_verifies_from_a_validators_home(chain: Chain) -> None:
    code, report = _verify_home(chain, chain.home)
    assert code == 0, report
    assert report["ok"] is True and report["first_failure"] is None
    assert report["verified_height"] == report["tip_height"]
    assert isinstance(report["verified_height"], int)
    assert report["verified_height"] >= chain.last_height >= 8  # two snapshot roots at least
    assert isinstance(report["transactions"], int) and report["transactions"] >= 9
    assert isinstance(report["snapshot_roots"], int) and report["snapshot_roots"] >= 2


def test_a_real_chain_verifies_from_a_node_as_the_central_bank(chain: Chain) -> None:
    url = chain.network.children[2].api_url
    key_file = chain.key_file("nbc-gateway")
    code, report = _audit(
        "verify", "--genesis", str(chain.genesis), "--from", url, "--key", str(key_file)
    )
    assert code == 0, report
    assert report["ok"] is True and report["verified_height"] == report["tip_height"]
    assert isinstance(report["verified_height"], int)
    assert report["verified_height"] >= chain.last_height


def test_a_participants_key_cannot_read_the_whole_chain(chain: Chain) -> None:
    url = chain.network.children[1].api_url
    result = CliRunner().invoke(
        main,
        ["audit", "verify", "--genesis", str(chain.genesis), "--from", url,
         "--key", str(chain.key_file("aclb-gateway")), "--json"],
    )  # fmt: skip
    assert result.exit_code == 2  # no verdict: the node would not show the whole chain
    assert "central bank's key" in result.output


# -- tampered copies ------------------------------------------------------------------------


def _copy_home(chain: Chain, target: Path) -> Path:
    """A consistent copy of the first validator's store (one read transaction of the live one)."""
    (target / "data").mkdir(parents=True)
    source = lmdb.open(
        str(chain.home / "data"), readonly=True, max_dbs=16, map_size=limits.lmdb_map_bytes_default
    )
    try:
        source.copy(str(target / "data"))
    finally:
        source.close()
    return target


def _change_stored(
    home: Path, db_name: bytes, key: bytes, change: Callable[[bytes], bytes | None]
) -> None:
    env = lmdb.open(str(home / "data"), max_dbs=16, map_size=limits.lmdb_map_bytes_default)
    try:
        with env.begin(write=True) as txn:
            db = env.open_db(db_name, txn=txn, create=False)
            value = txn.get(key, db=db)
            assert value is not None
            changed = change(bytes(value))
            if changed is None:
                txn.delete(key, db=db)
            else:
                assert len(changed) == len(value)
                txn.put(key, changed, db=db)
    finally:
        env.close()


def _change_tip_state(home: Path, key: bytes, change: Callable[[bytes], bytes]) -> None:
    """Change `key`'s value at the store's tip where the store keeps it: in the last kept write
    set that wrote it (`bakong.node.pending_state`), else in `state`."""
    env = lmdb.open(str(home / "data"), max_dbs=16, map_size=limits.lmdb_map_bytes_default)
    try:
        with env.begin(write=True) as txn:
            writes = env.open_db(b"writes", txn=txn, create=False)
            for height, raw in reversed(list(txn.cursor(db=writes))):
                write_set = dict(decode_write_set(bytes(raw)))
                if write_set.get(key) is not None:
                    write_set[key] = change(write_set[key])
                    txn.put(bytes(height), encode_write_set(tuple(write_set.items())), db=writes)
                    return
    finally:
        env.close()
    _change_stored(home, b"state", key, change)


def _flip_at(value: bytes, part: bytes) -> bytes:
    """`value` with one byte of `part` (which occurs in it once) changed."""
    assert value.count(part) == 1
    offset = value.index(part) + len(part) // 2
    return value[:offset] + bytes([value[offset] ^ 0x01]) + value[offset + 1 :]


def _stored(raw: bytes) -> StoredBlock:
    return msgspec.msgpack.decode(raw, type=StoredBlock)


def _memo_byte(raw: bytes) -> bytes | None:
    return _flip_at(raw, MARKER.encode())


def _transaction_signature_byte(raw: bytes) -> bytes | None:
    block = decode_block(_stored(raw).block)
    (marked,) = [tx for tx in block.transactions if MARKER in encode(tx).decode(errors="ignore")]
    return _flip_at(raw, marked.signatures[0].signature)


def _commit_signature_byte(raw: bytes) -> bytes | None:
    return _flip_at(raw, _stored(raw).commit.signatures[0].signature)


def _header_app_hash_byte(raw: bytes) -> bytes | None:
    header = decode_block(_stored(raw).block).header
    # The app hash is in the header and again beside the block: change the header's only.
    assert raw.count(header.app_hash) == 2
    offset = raw.index(header.app_hash) + 3
    return raw[:offset] + bytes([raw[offset] ^ 0x80]) + raw[offset + 1 :]


def _removed(raw: bytes) -> bytes | None:
    return None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_memo_byte, "tx_root"),
        (_transaction_signature_byte, "tx_signature"),
        (_commit_signature_byte, "commit_signature"),
        (_header_app_hash_byte, "block_hash"),
        (_removed, "block_missing"),
    ],
)
def test_a_changed_stored_block_fails_at_its_height(
    chain: Chain, tmp_path: Path, change: Callable[[bytes], bytes | None], reason: str
) -> None:
    home = _copy_home(chain, tmp_path / "copy")
    assert _verify_home(chain, home)[1]["ok"] is True  # the copy itself is sound
    _change_stored(home, b"blocks", struct.pack(">Q", chain.marked_height), change)
    code, report = _verify_home(chain, home)
    assert code == 1
    assert report["ok"] is False
    assert report["first_failure"] is not None
    failure = report["first_failure"]
    assert isinstance(failure, dict)
    assert (failure["height"], failure["reason"]) == (chain.marked_height, reason), failure
    assert report["verified_height"] == chain.marked_height - 1


def test_a_changed_state_value_fails_with_state_mismatch_at_the_last_height(
    chain: Chain, tmp_path: Path
) -> None:
    home = _copy_home(chain, tmp_path / "copy")
    key = account_key("dara@wing")

    def richer(raw: bytes) -> bytes:
        account = decode_value(key, raw)
        assert isinstance(account, Account)
        balances = list(account.balances)
        balances[0] += 1  # one riel more than the ledger paid
        return encode(msgspec.structs.replace(account, balances=tuple(balances)))

    _change_tip_state(home, key, richer)
    code, report = _verify_home(chain, home)
    assert code == 1 and report["ok"] is False
    failure = report["first_failure"]
    assert isinstance(failure, dict)
    assert failure["reason"] == "state_mismatch"
    assert failure["height"] == report["tip_height"] == report["verified_height"]
    assert "a/dara@wing" in str(failure["detail"])
