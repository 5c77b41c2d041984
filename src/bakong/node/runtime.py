"""The validator runtime: one asyncio loop performs everything the consensus host decides.

`Validator` gives the host (`bakong.node.host`) and its replica (`bakong.node.replica`) their
I/O: the LMDB store as chain store and consensus log, the event loop's clock and timers, and
the peer transport. It also is the node's `NodeService` for the HTTP API. Everything runs on
one event loop (uvloop), so the driver and the ledger are only ever called from one place; the
only work done elsewhere is signature verification of transactions (worker processes,
`bakong.node.verifier`).

Rules:
1. Peer payloads are framed by `bakong.node.envelope` (a kind byte and the message); a
   transaction gossip leaves as `txs` (a msgpack array of transactions), one frame per peer
   per loop iteration. A payload that does not decode lowers the peer's score in the
   transport.
2. Admission (`submit`, and transactions gossiped by peers) follows `bakong.node.admission`:
   its prechecks here, the signatures in the worker pool, then its conclusion, and a
   transaction it pooled just now is gossiped. The calls go one way: runtime → admission →
   mempool, and runtime → verifier.
   Gossiped transactions are gathered into one batch per loop iteration; while as many are
   being verified as the mempool holds, more gossip is dropped (the transaction still reaches
   every node in the block that carries it), so a flooding peer cannot grow the queue.
3. Heights (host rule 7): after a commit the next height waits `blocks.interval_ms` when
   transactions are waiting (batching under load) and `blocks.heartbeat_ms` when the mempool
   is empty (an empty heartbeat block, so that time-based rules advance).
4. Every status interval the host ticks: height announcements, catch-up, relays.
5. With verifier workers, a fetch answer (the transactions of a compact proposal this node
   lacked) is decoded here and its signatures verified in the pool before the replica hands
   it to the host, which then executes the block without an Ed25519 check on the event loop.
   If the pool fails, the answer is handed on unverified and execution verifies inline.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import msgspec

from bakong import limits
from bakong.consensus.driver import TimeoutElapsed, ValueReady
from bakong.errors import RemoteError
from bakong.ledger.block import BlockOutcome
from bakong.ledger.result import ResultCode
from bakong.node.admission import Admitter, Candidate
from bakong.node.compact import decode_fetched
from bakong.node.envelope import MessageKind, frame, unframe
from bakong.node.home import Home, parse_address, verify_workers_for
from bakong.node.host import Host, HostLimits
from bakong.node.memo import Memo
from bakong.node.replica import Replica
from bakong.node.service import (
    Admission,
    AdmissionStatus,
    AliasLookup,
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
from bakong.node.verifier import VerifierPool, verify_fetched
from bakong.wire.codec import encode

__all__ = ["Validator"]

log = logging.getLogger(__name__)

_gossip_batch = msgspec.msgpack.Decoder(list[bytes])


_T = TypeVar("_T")


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
        if verify_workers is None:
            cores = len(os.sched_getaffinity(0))
            verify_workers = verify_workers_for(config.mempool.verify_workers, cores)
        self.verifier = VerifierPool(verify_workers, self.memo.signatures)
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
                later_messages_max=limits.later_messages_max,
                status_interval_ms=limits.status_interval_ms,
                sync_request_timeout_ms=2 * limits.status_interval_ms,
                gossip_per_round_max=4 * limits.validators_max + limits.proposals_per_round_max,
            ),
            memo=self.memo,
            store=self.store,
            log=self.store,
            io=self,
        )
        self.replica = Replica(self.host, self)
        self.admitter = Admitter(
            self.chain_id, self.host.mempool, committed=self.host.is_committed, clock_ms=_now_ms
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resume_at: asyncio.Handle | None = None
        self._resume_due = 0.0  # loop time at which _resume_at fires
        self._height_changed = asyncio.Event()
        self._gossiped: list[bytes] = []  # peers' transactions for the next admission batch
        self._outgoing: list[bytes] = []  # admitted transactions for the next gossip frame
        self._outgoing_bytes = 0
        self._relays = 0
        self._ticker: asyncio.Task[None] | None = None
        self._started_monotonic = time.monotonic()
        self.counters: dict[str, int] = {
            "blocks_committed": 0,
            "txs_committed": 0,
            "txs_failed": 0,
            "txs_gossip_dropped": 0,
            "txs_verified_before": 0,  # admitted without a check: a block verified them first
            "fetched_checks_in_workers": 0,  # rule 5
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
        log.info(
            "validator %s started at height %d, verifying in %d worker processes",
            self.home.config.node.name,
            self.host.height,
            self.verifier.workers,
        )

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
            await asyncio.sleep(limits.status_interval_ms / 1000)
            self._guarded(self.replica.tick)

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

    def broadcast(self, kind: MessageKind, data: bytes) -> None:
        self.transport.broadcast(frame(kind, data))

    def _gossip_out(self, data: bytes) -> None:
        """Rule 1: admitted transactions leave in one `txs` frame per loop iteration."""
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush_gossip)
        self._outgoing.append(data)
        self._outgoing_bytes += len(data)
        if self._outgoing_bytes >= limits.gossip_batch_bytes_max:
            self._flush_gossip()

    def _flush_gossip(self) -> None:
        if self._outgoing:
            batch, self._outgoing, self._outgoing_bytes = self._outgoing, [], 0
            self.transport.broadcast(frame(MessageKind.TXS, msgspec.msgpack.encode(batch)))

    def send(self, peer: bytes, kind: MessageKind, data: bytes) -> None:
        self.transport.send(peer, frame(kind, data))

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
        unframed = unframe(payload)
        if unframed is None:
            self._bad_peer(peer, "unknown message kind")
            return
        kind, data = unframed
        if kind is MessageKind.TX:
            self._gossip_in(data)
            return
        if kind is MessageKind.TXS:
            try:
                batch = _gossip_batch.decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                self._bad_peer(peer, "undecodable txs")
                return
            for raw in batch:
                self._gossip_in(raw)
            return
        if kind is MessageKind.FETCHED_TXS and self.verifier.workers:
            asyncio.ensure_future(self._supply_fetched(peer, data))
            return
        if self._guarded(self.replica.receive, peer, kind, data) is False:
            self._bad_peer(peer, f"undecodable {kind}")

    async def _supply_fetched(self, peer: bytes, data: bytes) -> None:
        """Rule 5."""
        try:
            fetched = decode_fetched(data)
        except RemoteError:
            self._bad_peer(peer, f"undecodable {MessageKind.FETCHED_TXS}")
            return
        try:
            checked = await verify_fetched(
                self.verifier, self.memo.signatures, self.host.chain_id, fetched
            )
            self.counters["fetched_checks_in_workers"] += checked
        except Exception:
            log.exception("fetched transactions not verified in the pool; execution will")
        if self._guarded(self.replica.supply, fetched) is False:
            self._bad_peer(peer, f"unasked transactions in {MessageKind.FETCHED_TXS}")

    def _gossip_in(self, data: bytes) -> None:
        """Rule 2: batch, and drop beyond the bound."""
        in_flight = len(self.admitter.in_flight)
        if len(self._gossiped) + in_flight >= self.host.limits.mempool_txs_max:
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

    async def _admit_many(self, raws: Sequence[bytes], gossip: bool) -> list[Admission]:
        admitter = self.admitter
        verdicts: list[Admission | None] = []
        waiting: list[tuple[int, Candidate]] = []
        known = self.memo.signatures
        for index, raw in enumerate(raws):
            checked = admitter.precheck(raw)
            if isinstance(checked, Admission):
                verdicts.append(checked)
            elif all(check in known for check in checked.checks):
                # Verified already: its block reached us before its gossip did.
                self.counters["txs_verified_before"] += 1
                verdicts.append(self._conclude(checked, True, gossip))
            else:
                verdicts.append(None)
                waiting.append((index, checked))
        try:
            results = await self.verifier.verify([c for _, p in waiting for c in p.checks])
        except BaseException:
            for _, candidate in waiting:
                admitter.release(candidate)
            raise
        position = 0
        for index, candidate in waiting:
            ok = all(results[position : position + len(candidate.checks)])
            position += len(candidate.checks)
            verdicts[index] = self._conclude(candidate, ok, gossip)
        if waiting:
            self._transactions_arrived()
            if self.host.incomplete:  # a compact proposal may have waited for these
                self._guarded(self.host.retry_incomplete)
        return [verdict for verdict in verdicts if verdict is not None]

    def _conclude(self, candidate: Candidate, ok: bool, gossip: bool) -> Admission:
        """Admission's verdict; a transaction pooled just now is gossiped (rule 2)."""
        if ok:
            for check in candidate.checks:
                self.memo.signatures.remember(*check)
        verdict = self.admitter.conclude(candidate, ok)
        if gossip and verdict.status is AdmissionStatus.ACCEPTED:
            self._gossip_out(candidate.raw)
        return verdict

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
            catching_up=self.replica.catchup.catching_up,
        )

    def transaction_status(self, tx_hash: bytes) -> TxStatus:
        location = self.store.transaction_location(tx_hash)
        # A location without its block is an index entry of a benchmark's synthetic history
        # (`bakong.bench.state_builder`), or of a block a power loss took from the store and
        # catch-up has not brought back yet (`bakong.node.tx_index` rule 4).
        stored = None if location is None else self.store.stored_block(location[0])
        if location is not None and stored is not None:
            height, index = location
            result = stored.results[index]
            return TxStatus(
                tx_hash, TxState.COMMITTED, height, index, result.code, result.command_index
            )
        if self.admitter.pending(tx_hash):
            return TxStatus(tx_hash, TxState.PENDING)
        reason = self.admitter.rejected(tx_hash)
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

    def record_alias_lookup(self, lookup: AliasLookup) -> int:
        return self.store.append_alias_lookup(lookup)

    def alias_lookups(self, after: int, count: int) -> list[tuple[int, AliasLookup]]:
        return self.store.alias_lookups(after, count)

    def metrics(self) -> list[Metric]:
        host, verifier = self.host, self.verifier
        round = host.driver.round if host.driver else 0
        open_ = int(host.horizon.open)
        samples: list[tuple[str, str, str, float]] = [
            ("height", "gauge", "last committed height", host.height),
            ("round", "gauge", "round of the current height", round),
            ("mempool_txs", "gauge", "transactions in the mempool", len(host.mempool)),
            ("mempool_bytes", "gauge", "bytes in the mempool", host.mempool.bytes),
            ("peers_connected", "gauge", "peers with a live link", len(self.transport.connected())),
            ("signatures_verified_total", "counter", "verifier checks", verifier.verified),
            ("signature_checks_total", "counter", "ed25519 checks", verifier.signature_checks()),
            (
                "signature_checks_in_workers_total", "counter", "ed25519 checks in workers",
                verifier.verified_in_workers,
            ),  # fmt: skip
            ("double_sign_refusals_total", "counter", "signatures the guard refused", host.refused),
            ("guard_horizon", "gauge", "up to it only nil votes", host.horizon.height),
            ("guard_horizon_open", "gauge", "1 while the horizon follows catch-up", open_),
            ("evidence_total", "counter", "equivocations seen", host.evidence),
        ]
        samples += [
            (f"{name}_total", "counter", name.replace("_", " "), value)
            for name, value in sorted(
                {**self.counters, **self.admitter.counts, **host.compact_counts}.items()
            )
        ]
        return [Metric(f"bakong_{name}", kind, text, value) for name, kind, text, value in samples]
