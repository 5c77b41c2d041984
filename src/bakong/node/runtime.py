"""The validator runtime: one asyncio loop performs everything the consensus host decides.

`Validator` gives the host (`bakong.node.host`) its I/O: the LMDB store as chain store and
consensus log, the event loop's clock and timers, and the peer transport. It also is the
node's `NodeService` for the HTTP API. Everything runs on one event loop (uvloop), so the
driver and the ledger are only ever called from one place; the only work done elsewhere is
signature verification of submitted transactions (worker processes, `bakong.node.verifier`).

Rules:
1. Peer payloads are one kind byte and the message (`proposal`, `vote`, `tx`, `sync`, or
   `txs`: a msgpack array of transactions, which is how gossip leaves, one frame per peer per
   loop iteration). A payload the host cannot decode lowers the peer's score in the transport.
2. Admission (`submit`, and transactions gossiped by peers): bounded size, canonical decode,
   this chain, within the replay window, not committed, not pooled, room in the mempool
   (else "busy"), then every signature verified in the worker pool, then `Host.admit`.
   Verdicts of refused transactions are remembered (bounded) for status queries.
   Gossiped transactions are gathered into one batch per loop iteration; while as many are
   being verified as the mempool holds, more gossip is dropped (the transaction still reaches
   every node in the block that carries it), so a flooding peer cannot grow the queue.
3. Heights (host rule 7): after a commit the next height waits `blocks.interval_ms` when
   transactions are waiting (batching under load) and `blocks.heartbeat_ms` when the mempool
   is empty (an empty heartbeat block, so that time-based rules advance).
4. Every status interval the host ticks: height announcements, catch-up, relays.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from bakong import limits
from bakong.consensus.driver import TimeoutElapsed, ValueReady
from bakong.errors import DecodeError
from bakong.ledger.block import BlockOutcome
from bakong.ledger.result import ResultCode
from bakong.ledger.state import seen_key
from bakong.ledger.transaction import (
    Transaction,
    decode_transaction,
    signing_message,
    transaction_hash,
)
from bakong.node.home import Home, parse_address
from bakong.node.host import Host, HostLimits
from bakong.node.memo import Memo
from bakong.node.service import (
    Admission,
    AdmissionStatus,
    Metric,
    NodeStatus,
    PeerInfo,
    StoredBlock,
    TxState,
    TxStatus,
    ValidatorInfo,
)
from bakong.node.store import LmdbChain
from bakong.node.transport import Transport
from bakong.node.verifier import SignatureCheck, VerifierPool
from bakong.wire.codec import encode

__all__ = ["Validator"]

log = logging.getLogger(__name__)

_kinds = ("proposal", "vote", "tx", "sync", "txs")
#: Gossip leaves in batches: one frame per peer per loop iteration, up to this many bytes.
gossip_batch_bytes_max = 2**20
_gossip_batch = msgspec.msgpack.Decoder(list[bytes])
_kind_bytes = {kind: bytes([index + 1]) for index, kind in enumerate(_kinds)}
status_interval_ms = 500
rejected_remembered_max = 100_000


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Pending:
    """A submitted transaction that passed every check but its signatures."""

    index: int  # in the submitted batch
    raw: bytes
    transaction: Transaction
    tx_hash: bytes
    checks: list[SignatureCheck]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Validator:
    """One validator process's state and I/O (module rules)."""

    def __init__(self, home: Home, *, verify_workers: int | None = None) -> None:
        config = home.config
        self.home = home
        self.chain_id = home.genesis.chain_id
        self.store = LmdbChain(home.data, home.genesis)
        self.memo = Memo(self.chain_id)
        workers = config.mempool.verify_workers if verify_workers is None else verify_workers
        self.verifier = VerifierPool(workers)
        validator_keys = {bytes.fromhex(v.public_key) for v in home.genesis.validators}
        peers = {bytes.fromhex(p.public_key): parse_address(p.address) for p in config.peers}
        known = validator_keys | set(peers)
        self.transport = Transport(
            chain_id=self.chain_id,
            key=home.key,
            listen=parse_address(config.node.p2p_listen),
            peers=peers,
            allowed=known.__contains__,
            on_message=self._on_message,
        )
        self.host = Host(
            key=home.key,
            chain_id=self.chain_id,
            timeouts=config.timeouts,
            limits=HostLimits(
                block_txs_max=config.blocks.txs_max,
                mempool_txs_max=config.mempool.txs_max,
                mempool_bytes_max=config.mempool.bytes_max,
                later_messages_max=4_096,
                status_interval_ms=status_interval_ms,
                sync_request_timeout_ms=2 * status_interval_ms,
                gossip_per_round_max=4 * limits.validators_max + limits.proposals_per_round_max,
            ),
            memo=self.memo,
            store=self.store,
            log=self.store,
            io=self,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resume_at: asyncio.Handle | None = None
        self._resume_due = 0.0  # loop time at which _resume_at fires
        self._height_changed = asyncio.Event()
        self._in_flight: set[bytes] = set()
        self._gossiped: list[bytes] = []  # peers' transactions for the next admission batch
        self._outgoing: list[bytes] = []  # admitted transactions for the next gossip frame
        self._outgoing_bytes = 0
        self._relays = 0
        self._rejected: OrderedDict[bytes, str] = OrderedDict()
        self._ticker: asyncio.Task[None] | None = None
        self._started_monotonic = time.monotonic()
        self.counters: dict[str, int] = {
            "blocks_committed": 0,
            "txs_committed": 0,
            "txs_failed": 0,
            "txs_accepted": 0,
            "txs_rejected": 0,
            "txs_busy": 0,
            "txs_gossip_dropped": 0,
            "txs_verified_before": 0,  # admitted without a check: a block verified them first
            "peer_messages_bad": 0,
        }
        self.last_commit_s = time.monotonic()

    # Life cycle.

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.verifier.warm_up()
        await self.transport.start()
        image = self.store.recover()
        self.host.start(image)
        self._ticker = asyncio.ensure_future(self._tick_forever())
        log.info("validator %s started at height %d", self.home.config.node.name, self.host.height)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._resume_at is not None:
            self._resume_at.cancel()
        await self.transport.close()
        self.verifier.close()
        self.store.close()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(status_interval_ms / 1000)
            self._guarded(self.host.tick)

    def _guarded(self, action: Callable[..., _T], *args: object) -> _T | None:
        """Run a host step from a loop callback: an assertion failure is a bug that must
        stop the node rather than let it run on in an unknown state."""
        try:
            return action(*args)
        except Exception:
            log.critical("the consensus host failed; stopping", exc_info=True)
            assert self._loop is not None
            self._loop.stop()
            return None

    # HostIO.

    def clock_ms(self) -> int:
        return _now_ms()

    def now_ms(self) -> int:
        return int((time.monotonic() - self._started_monotonic) * 1000)

    def schedule_timeout(self, delay_ms: int, timeout: TimeoutElapsed) -> None:
        assert self._loop is not None
        self._loop.call_later(delay_ms / 1000, self._guarded, self.host.on_timer, timeout)

    def value_built(self, ready: ValueReady) -> None:
        assert self._loop is not None
        self._loop.call_soon(self._guarded, self.host.on_value, ready)

    def broadcast(self, kind: str, data: bytes) -> None:
        if kind == "tx":
            self._gossip_out(data)
            return
        self.transport.broadcast(_kind_bytes[kind] + data)

    def _gossip_out(self, data: bytes) -> None:
        """Rule 1: admitted transactions leave in one `txs` frame per loop iteration."""
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush_gossip)
        self._outgoing.append(data)
        self._outgoing_bytes += len(data)
        if self._outgoing_bytes >= gossip_batch_bytes_max:
            self._flush_gossip()

    def _flush_gossip(self) -> None:
        if self._outgoing:
            batch, self._outgoing, self._outgoing_bytes = self._outgoing, [], 0
            self.transport.broadcast(_kind_bytes["txs"] + msgspec.msgpack.encode(batch))

    def send(self, peer: bytes, kind: str, data: bytes) -> None:
        self.transport.send(peer, _kind_bytes[kind] + data)

    def relay_peer(self) -> bytes | None:
        connected = self.transport.connected()
        if not connected:
            return None
        self._relays += 1  # each peer in turn: a restarted peer is reached within n intervals
        return connected[self._relays % len(connected)]

    def defer_height(self) -> bool:
        """Rule 3."""
        self._schedule_resume()
        return True

    def _schedule_resume(self) -> None:
        assert self._loop is not None
        blocks = self.home.config.blocks
        delay_ms = blocks.interval_ms if len(self.host.mempool) else blocks.heartbeat_ms
        self._resume_after(delay_ms / 1000)

    def _resume_after(self, delay_s: float) -> None:
        assert self._loop is not None
        if self._resume_at is not None:
            self._resume_at.cancel()
        # uvloop answers call_later(0) with a plain Handle, which has no when(): keep the time.
        self._resume_due = self._loop.time() + delay_s
        self._resume_at = self._loop.call_later(delay_s, self._resume)

    def _resume(self) -> None:
        self._resume_at = None
        self._guarded(self.host.resume)

    def _transactions_arrived(self) -> None:
        """A waiting height starts `interval_ms` after the last block rather than at the
        heartbeat."""
        if not self.host.waiting or self._resume_at is None:
            return
        assert self._loop is not None
        waited_s = time.monotonic() - self.last_commit_s
        delay_s = max(0.0, self.home.config.blocks.interval_ms / 1000 - waited_s)
        if self._resume_due - self._loop.time() > delay_s:
            self._resume_after(delay_s)

    def committed(self, stored: StoredBlock, outcome: BlockOutcome) -> None:
        self.counters["blocks_committed"] += 1
        self.counters["txs_committed"] += len(outcome.results)
        self.counters["txs_failed"] += sum(1 for r in outcome.results if r.code != ResultCode.ok)
        self.last_commit_s = time.monotonic()
        self._height_changed.set()
        self._height_changed = asyncio.Event()

    def refused_block(self, height: int, reason: str | None) -> None:
        log.warning("a block for height %d with a commit did not check out: %s", height, reason)

    def record(self, line: str) -> None:
        log.info("%s", line)

    # Peers.

    def _on_message(self, peer: bytes, payload: bytes) -> None:
        if not payload or not 1 <= payload[0] <= len(_kinds):
            self._bad_peer(peer, "unknown message kind")
            return
        kind, data = _kinds[payload[0] - 1], payload[1:]
        if kind == "tx":
            self._gossip_in(data)
            return
        if kind == "txs":
            try:
                batch = _gossip_batch.decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                self._bad_peer(peer, "undecodable txs")
                return
            for raw in batch:
                self._gossip_in(raw)
            return
        if self._guarded(self.host.receive, peer, kind, data) is False:
            self._bad_peer(peer, f"undecodable {kind}")

    def _gossip_in(self, data: bytes) -> None:
        """Rule 2: batch, and drop beyond the bound."""
        if len(self._gossiped) + len(self._in_flight) >= self.host.limits.mempool_txs_max:
            self.counters["txs_gossip_dropped"] += 1
            return
        if not self._gossiped:
            asyncio.get_running_loop().call_soon(self._admit_gossiped)
        self._gossiped.append(data)

    def _admit_gossiped(self) -> None:
        batch, self._gossiped = self._gossiped, []
        asyncio.ensure_future(self._admit_many(batch, gossip=False))

    def _bad_peer(self, peer: bytes, reason: str) -> None:
        self.counters["peer_messages_bad"] += 1
        self.transport.penalise(peer, reason)

    # Admission (rule 2).

    def _is_committed(self, tx_hash: bytes) -> bool:
        return self.host.state.store.get(seen_key(tx_hash)) is not None

    def _refuse(self, tx_hash: bytes | None, code: str, message: str) -> Admission:
        self.counters["txs_rejected"] += 1
        if tx_hash is not None:
            self._rejected[tx_hash] = code
            if len(self._rejected) > rejected_remembered_max:
                self._rejected.popitem(last=False)
        return Admission(tx_hash, AdmissionStatus.REJECTED, code, message)

    def _precheck(self, index: int, raw: bytes) -> Admission | _Pending:
        """Everything but the signatures: a verdict, or the checks still to run."""
        try:
            transaction = decode_transaction(raw)
        except DecodeError as error:
            return self._refuse(None, error.code, error.message)
        payload = transaction.payload
        tx_hash = transaction_hash(payload)
        if payload.chain_id != self.chain_id:
            return self._refuse(tx_hash, "chain_id_mismatch", f"this is {self.chain_id}")
        now_ms = _now_ms()
        if payload.created_ms > now_ms + limits.tx_future_ms_max:
            return self._refuse(tx_hash, "created_in_future", "created_ms is ahead of the clock")
        if payload.created_ms < now_ms - limits.tx_past_ms_max:
            return self._refuse(tx_hash, "expired", "created_ms is outside the replay window")
        if not transaction.signatures:
            return self._refuse(tx_hash, "signature_missing", "the transaction is not signed")
        if self._is_committed(tx_hash):
            return Admission(tx_hash, AdmissionStatus.COMMITTED, "ok", "already committed")
        if tx_hash in self.host.mempool or tx_hash in self._in_flight:
            return Admission(tx_hash, AdmissionStatus.ACCEPTED, "ok", "already pending")
        if self.host.mempool.full(len(raw)):
            self.counters["txs_busy"] += 1
            return Admission(tx_hash, AdmissionStatus.BUSY, "busy", "the mempool is full")
        message = signing_message(self.chain_id, tx_hash)
        checks = [(e.public_key, message, e.signature) for e in transaction.signatures]
        return _Pending(index, raw, transaction, tx_hash, checks)

    async def _admit_many(self, raws: Sequence[bytes], gossip: bool) -> list[Admission]:
        verdicts: list[Admission | None] = []
        waiting: list[_Pending] = []
        known = self.memo.signatures
        for index, raw in enumerate(raws):
            checked = self._precheck(index, raw)
            if isinstance(checked, Admission):
                verdicts.append(checked)
                continue
            if all(check in known for check in checked.checks):
                # Verified already: its block reached us before its gossip did.
                self.counters["txs_verified_before"] += 1
                verdicts.append(self._pool(checked, True, gossip))
                continue
            verdicts.append(None)
            self._in_flight.add(checked.tx_hash)
            waiting.append(checked)
        try:
            results = await self.verifier.verify([c for p in waiting for c in p.checks])
        finally:
            for pending in waiting:
                self._in_flight.discard(pending.tx_hash)
        position = 0
        for pending in waiting:
            ok = all(results[position : position + len(pending.checks)])
            position += len(pending.checks)
            verdicts[pending.index] = self._pool(pending, ok, gossip)
        if waiting:
            self._transactions_arrived()
        return [verdict for verdict in verdicts if verdict is not None]

    def _pool(self, pending: _Pending, ok: bool, gossip: bool) -> Admission:
        tx_hash = pending.tx_hash
        if not ok:
            return self._refuse(tx_hash, "bad_signature", "a signature does not verify")
        for check in pending.checks:
            self.memo.signatures.remember(*check)
        if self.host.admit(pending.transaction, tx_hash, pending.raw, gossip=gossip):
            self.counters["txs_accepted"] += 1
            return Admission(tx_hash, AdmissionStatus.ACCEPTED, "ok", "accepted")
        if self._is_committed(tx_hash):
            return Admission(tx_hash, AdmissionStatus.COMMITTED, "ok", "already committed")
        self.counters["txs_busy"] += 1
        return Admission(tx_hash, AdmissionStatus.BUSY, "busy", "the mempool is full")

    # NodeService.

    async def submit(self, transactions: Sequence[bytes]) -> list[Admission]:
        return await self._admit_many(transactions, gossip=True)

    def status(self) -> NodeStatus:
        host = self.host
        validator_set = host.sets[host.height + 1]
        stats = {stat.public_key: stat for stat in self.transport.peer_stats()}
        return NodeStatus(
            chain_id=self.chain_id,
            height=host.height,
            app_hash=host.state.app_hash,
            block_time_ms=host.tip_time_ms,
            validators=tuple(
                ValidatorInfo(v.name, v.public_key, v.power) for v in validator_set.validators
            ),
            peers=tuple(
                PeerInfo(key, stat.address, stat.connected) for key, stat in sorted(stats.items())
            ),
            mempool_txs=len(host.mempool),
            catching_up=host.catching_up,
        )

    def transaction_status(self, tx_hash: bytes) -> TxStatus:
        location = self.store.transaction_location(tx_hash)
        if location is not None:
            height, index = location
            stored = self.store.stored_block(height)
            assert stored is not None
            result = stored.results[index]
            return TxStatus(
                tx_hash, TxState.COMMITTED, height, index, result.code, result.command_index
            )
        if tx_hash in self.host.mempool or tx_hash in self._in_flight:
            return TxStatus(tx_hash, TxState.PENDING)
        reason = self._rejected.get(tx_hash)
        if reason is not None:
            return TxStatus(tx_hash, TxState.REJECTED, reason=reason)
        if self.host.mempool.expired(tx_hash):
            return TxStatus(tx_hash, TxState.REJECTED, reason="expired")
        return TxStatus(tx_hash, TxState.UNKNOWN)

    def read_state(self, key: bytes) -> bytes | None:
        reader = self.store.reader()
        try:
            return reader.get(key)
        finally:
            reader.close()

    def stored_block(self, height: int) -> StoredBlock | None:
        if height > self.host.height:
            return None
        return self.store.stored_block(height)

    def snapshot_heights(self) -> list[int]:
        return self.store.snapshots.heights()

    def snapshot_manifest(self, height: int) -> bytes | None:
        manifest = self.store.snapshots.manifest(height)
        return None if manifest is None else encode(manifest)

    def snapshot_chunk(self, height: int, index: int) -> bytes | None:
        return self.store.snapshots.chunk(height, index)

    async def wait_for_height(self, height: int, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while self.host.height < height:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._height_changed.wait(), remaining)
            except TimeoutError:
                break
        return self.host.height

    def metrics(self) -> list[Metric]:
        host = self.host
        round = host.driver.round if host.driver else 0
        samples: list[tuple[str, str, str, float]] = [
            ("height", "gauge", "last committed height", host.height),
            ("round", "gauge", "round of the current height", round),
            ("mempool_txs", "gauge", "transactions in the mempool", len(host.mempool)),
            ("mempool_bytes", "gauge", "bytes in the mempool", host.mempool.bytes),
            ("peers_connected", "gauge", "peers with a live link", len(self.transport.connected())),
            ("signatures_verified_total", "counter", "admission checks", self.verifier.verified),
            ("double_sign_refusals_total", "counter", "signatures the guard refused", host.refused),
            ("evidence_total", "counter", "equivocations seen", host.evidence),
        ]
        samples += [
            (f"{name}_total", "counter", name.replace("_", " "), value)
            for name, value in sorted(self.counters.items())
        ]
        return [Metric(f"bakong_{name}", kind, text, value) for name, kind, text, value in samples]
