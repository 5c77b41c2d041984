"""An in-memory `NodeService` over one `Sandbox` chain, for the API tests.

Real ledger, real signatures: blocks are built and executed by `bakong.ledger.block` through
the sandbox, and each committed block is stored with a real commit (the sandbox's single
validator signs a precommit). What a validator runtime does with consensus and a mempool is
reduced to: `submit` admits into a bounded list, `commit_pending()` makes a block of it.

The API may run in another thread (Starlette's TestClient runs the app in its own event loop),
so every read and write holds one lock, and `wait_for_height` polls instead of relying on an
event loop it does not share.

Below the service are the fixtures the API and stream tests share: `payments_service()` (four
blocks of payments among three banks' customers), `Signer` (signs requests like a gateway)
and `verify_message` (checks a stream message as a gateway would).
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Sequence
from typing import Any

from bakong.consensus.commit import CommitStatus, build_commit, verify_commit
from bakong.consensus.messages import VoteBody, VoteType, sign_vote
from bakong.errors import DecodeError
from bakong.ledger.assets import Asset
from bakong.ledger.block import BlockHeader, TxResult, block_hash, result_leaf
from bakong.ledger.commands import PlaceHold, PostHold, RegisterAlias
from bakong.ledger.commit import Commit
from bakong.ledger.records import AccountKind, ValidatorSchedule
from bakong.ledger.state import VALIDATORS_KEY, decode_value
from bakong.ledger.transaction import Transaction, decode_transaction, transaction_hash
from bakong.ledger.validators import Validator, ValidatorSet, validator_set_hash
from bakong.node.service import (
    Admission,
    AdmissionStatus,
    AliasLookup,
    Metric,
    NodeStatus,
    StoredBlock,
    TxState,
    TxStatus,
    ValidatorInfo,
)
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire.codec import decode_canonical, encode
from bakong.wire.keys import SigningKey
from bakong.wire.merkle import verify_inclusion
from bakong.wire.request import sign_request

_poll_s = 0.002


class MemoryService:
    """One sandbox chain behind the `NodeService` protocol."""

    def __init__(self, sandbox: Sandbox | None = None, *, mempool_txs_max: int = 100) -> None:
        self.sandbox = sandbox or Sandbox()
        self.mempool_txs_max = mempool_txs_max
        self.mempool: dict[bytes, Transaction] = {}
        self.blocks: list[StoredBlock] = []
        self.committed: dict[bytes, tuple[int, int]] = {}  # tx hash -> (height, index)
        self.rejected: dict[bytes, str] = {}  # tx hash -> admission code
        self.lookups: list[AliasLookup] = []  # the audit trail; sequence = index + 1
        self.lock = threading.RLock()

    @property
    def chain_id(self) -> str:
        return self.sandbox.chain_id

    @property
    def height(self) -> int:
        return len(self.blocks)

    def status(self) -> NodeStatus:
        with self.lock:
            schedule = self._schedule()
            return NodeStatus(
                chain_id=self.chain_id,
                height=self.height,
                app_hash=self.sandbox.state.app_hash,
                block_time_ms=self.sandbox.time_ms,
                validators=tuple(
                    ValidatorInfo(v.name, v.public_key, v.power) for v in schedule.current
                ),
                peers=(),
                mempool_txs=len(self.mempool),
                catching_up=False,
            )

    def _schedule(self) -> ValidatorSchedule:
        raw = self.sandbox.store.get(VALIDATORS_KEY)
        assert raw is not None
        schedule = decode_value(VALIDATORS_KEY, raw)
        assert isinstance(schedule, ValidatorSchedule)
        return schedule

    async def submit(self, transactions: Sequence[bytes]) -> list[Admission]:
        return [self.admit(raw) for raw in transactions]

    def admit(self, raw: bytes) -> Admission:
        try:
            transaction = decode_transaction(raw)
        except DecodeError as error:
            return Admission(None, AdmissionStatus.REJECTED, error.code, error.message)
        tx_hash = transaction_hash(transaction.payload)
        with self.lock:
            if transaction.payload.chain_id != self.chain_id:
                self.rejected[tx_hash] = "chain_id_mismatch"
                return Admission(
                    tx_hash, AdmissionStatus.REJECTED, "chain_id_mismatch", "another chain"
                )
            if tx_hash in self.committed:
                return Admission(tx_hash, AdmissionStatus.COMMITTED, "ok", "already committed")
            if tx_hash in self.mempool:
                return Admission(tx_hash, AdmissionStatus.ACCEPTED, "ok", "already pending")
            if len(self.mempool) >= self.mempool_txs_max:
                return Admission(tx_hash, AdmissionStatus.BUSY, "mempool_full", "try later")
            self.mempool[tx_hash] = transaction
            return Admission(tx_hash, AdmissionStatus.ACCEPTED, "ok", "in the mempool")

    def commit_pending(self) -> StoredBlock:
        """Make a block of everything in the mempool (maybe empty) and commit it."""
        with self.lock:
            transactions = list(self.mempool.values())
            self.mempool.clear()
            return self.commit(transactions)

    def commit(self, transactions: Sequence[Transaction]) -> StoredBlock:
        """Execute `transactions` as the next block and store it with a signed commit."""
        with self.lock:
            deciding = self._schedule().current  # the set that decides this block
            outcome = self.sandbox.commit(transactions)
            block = self.sandbox.blocks[-1]
            height = block.header.height
            hash_ = block_hash(block.header)
            body = VoteBody(VoteType.PRECOMMIT, height, 0, hash_)
            vote = sign_vote(self.chain_id, sandbox_key("validator-1"), body)
            stored = StoredBlock(
                height=height,
                block=encode(block),
                commit=build_commit(height, 0, hash_, [vote]),
                results=outcome.results,
                app_hash=outcome.app_hash,
                validators=deciding,
            )
            for index, result in enumerate(outcome.results):
                self.committed[result.tx_hash] = (height, index)
            self.blocks.append(stored)
            return stored

    def transaction_status(self, tx_hash: bytes) -> TxStatus:
        with self.lock:
            if tx_hash in self.committed:
                height, index = self.committed[tx_hash]
                result = self.blocks[height - 1].results[index]
                return TxStatus(
                    tx_hash,
                    TxState.COMMITTED,
                    height=height,
                    index=index,
                    code=result.code,
                    command_index=result.command_index,
                )
            if tx_hash in self.mempool:
                return TxStatus(tx_hash, TxState.PENDING)
            if tx_hash in self.rejected:
                return TxStatus(tx_hash, TxState.REJECTED, reason=self.rejected[tx_hash])
            return TxStatus(tx_hash, TxState.UNKNOWN)

    def read_state(self, key: bytes) -> bytes | None:
        with self.lock:
            return self.sandbox.store.get(key)

    def stored_block(self, height: int) -> StoredBlock | None:
        with self.lock:
            return self.blocks[height - 1] if 1 <= height <= len(self.blocks) else None

    def snapshot_heights(self) -> list[int]:
        return []  # the sandbox keeps no snapshots: tests/node/test_snapshot.py serves them

    def snapshot_manifest(self, height: int) -> bytes | None:
        return None

    def snapshot_chunk(self, height: int, index: int) -> bytes | None:
        return None

    async def wait_for_height(self, height: int, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while self.height < height and time.monotonic() < deadline:
            await asyncio.sleep(_poll_s)
        return self.height

    def record_alias_lookup(self, lookup: AliasLookup) -> int:
        with self.lock:
            self.lookups.append(lookup)
            return len(self.lookups)

    def alias_lookups(self, after: int, count: int) -> list[tuple[int, AliasLookup]]:
        with self.lock:
            page = self.lookups[after : after + count]
            return [(after + 1 + offset, lookup) for offset, lookup in enumerate(page)]

    def metrics(self) -> list[Metric]:
        return [
            Metric("bakong_height_blocks", "gauge", "Last committed height", float(self.height)),
            Metric("bakong_mempool_txs", "gauge", "Transactions waiting", float(len(self.mempool))),
        ]


# Fixtures shared by the API and stream tests.

#: The API's clock in the tests (the chain's own block times are unrelated to it).
NOW_MS = 1_800_000_000_000
#: The node the API tests talk to: its key is what signed requests name.
NODE_KEY = sandbox_key("validator-1").public_key
ALIAS = hashlib.sha256(b"alias of +85512345678").digest()
HOLD_ID = bytes(range(16))


def gateway_key(participant: str) -> SigningKey:
    return sandbox_key(f"{participant}/gateway")


class Signer:
    """Signs API requests as one key. Each request gets a fresh time: two identical requests
    signed at the same millisecond have the same (deterministic) signature, i.e. a replay."""

    def __init__(self, chain_id: str, key: SigningKey, node_key: bytes = NODE_KEY) -> None:
        self.chain_id = chain_id
        self.key = key
        self.node_key = node_key
        self.time_ms = NOW_MS - 30_000

    def headers(
        self, method: str, target: str, body: bytes = b"", *, time_ms: int | None = None
    ) -> dict[str, str]:
        if time_ms is None:
            self.time_ms += 1
            time_ms = self.time_ms
        return sign_request(self.chain_id, self.node_key, self.key, method, target, body, time_ms)


def payments_service(*, mempool_txs_max: int = 100) -> MemoryService:
    """Four committed blocks of payments between aclb, wing and abaa customers:

    1. issue to aclb, then to wing (one transaction each: a transaction touches one set of
       participants); each bank opens accounts (sokha@aclb, dara/vanna@wing, shop@abaa)
    2. fund sokha and dara; dara pays vanna (wing only); sokha pays dara (aclb and wing);
       aclb registers ALIAS for sokha
    3. sokha places hold HOLD_ID for shop@abaa, shop posts it
    4. shop@abaa posts the hold (names only the hold id: visible to aclb through the hold)
    """
    service = MemoryService(mempool_txs_max=mempool_txs_max)
    sb = service.sandbox
    khr = Asset.KHR
    service.commit(
        [
            sb.transaction("nbc", [sb.issue("aclb", khr, 10_000_000, "r1")]),
            sb.transaction("nbc", [sb.issue("wing", khr, 10_000_000, "r2")]),
            sb.transaction("aclb", [sb.open_account("sokha@aclb")]),
            sb.transaction("wing", [sb.open_account("dara@wing"), sb.open_account("vanna@wing")]),
            sb.transaction("abaa", [sb.open_account("shop@abaa", AccountKind.merchant)]),
        ]
    )
    service.commit(
        [
            sb.transaction(
                "settlement@aclb", [sb.transfer("settlement@aclb", "sokha@aclb", khr, 1_000_000)]
            ),
            sb.transaction(
                "settlement@wing", [sb.transfer("settlement@wing", "dara@wing", khr, 1_000_000)]
            ),
            sb.transaction("dara@wing", [sb.transfer("dara@wing", "vanna@wing", khr, 5_000)]),
            sb.transaction("sokha@aclb", [sb.transfer("sokha@aclb", "dara@wing", khr, 20_000)]),
            sb.transaction("aclb", [RegisterAlias(alias=ALIAS, account="sokha@aclb")]),
        ]
    )
    expires_ms = sb.time_ms + 60_000
    hold = PlaceHold(
        HOLD_ID, "sokha@aclb", "shop@abaa", "shop@abaa", khr, 7_000, expires_ms, "", ""
    )
    service.commit([sb.transaction("sokha@aclb", [hold])])
    service.commit([sb.transaction("shop@abaa", [PostHold(HOLD_ID, 7_000)])])
    for stored in service.blocks:
        assert all(result.code == 0 for result in stored.results), stored.results
    return service


def verify_message(chain_id: str, message: dict[str, Any]) -> list[Transaction]:
    """Check a stream message as a gateway would; return its transactions.

    The header's hash is the commit's block hash, the commit verifies against the validators
    sent (whose hash is the header's), and each transaction and result is proven.
    """
    header = decode_canonical(_bytes(message["header"]), BlockHeader, bytes_max=1 << 20)
    commit = decode_canonical(_bytes(message["commit"]), Commit, bytes_max=1 << 20)
    validators = tuple(
        Validator(v["name"], _bytes(v["public_key"]), v["power"]) for v in message["validators"]
    )
    assert validator_set_hash(chain_id, validators) == header.validators_hash
    status = verify_commit(
        chain_id,
        commit,
        ValidatorSet(validators),
        height=message["height"],
        block_hash=block_hash(header),
    )
    assert status is CommitStatus.OK, status
    size = message["tx_count"]
    transactions = []
    for item in message["transactions"]:
        transaction = decode_transaction(_bytes(item["tx"]))
        tx_hash = transaction_hash(transaction.payload)
        proof = [_bytes(h) for h in item["tx_proof"]]
        assert verify_inclusion(tx_hash, item["index"], size, proof, header.tx_root)
        result = item["result"]
        leaf = result_leaf(chain_id, TxResult(tx_hash, result["code"], result["command_index"]))
        proof = [_bytes(h) for h in item["result_proof"]]
        assert verify_inclusion(leaf, item["index"], size, proof, header.result_root)
        transactions.append(transaction)
    return transactions


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else bytes.fromhex(value)
