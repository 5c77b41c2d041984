"""One validator's consensus concerns wired together: peer messages routed, chores run.

The runtime (`bakong.node.runtime`) and the simulator (`bakong.sim.node`) hand every
consensus and catch-up message from a peer to `receive`, and call `tick` every status
interval. Transactions do not pass here: each caller admits them through
`bakong.node.admission` (the runtime in batches, verified in a worker pool).

Calls go one way, downwards: replica → catch-up → host → relays, mempool. A concern that
must act on another's behalf learns it from a return value or from state it reads, never from
a call back up.

Rules:
1. `receive`: a proposal or vote goes to the host (`Host.accept`); its sender is asked for
   blocks when the message is two or more heights past the one we decide (it committed at
   least two more heights than we did). A catch-up message goes to `CatchUp`. Bytes that do not
   decode, or a kind that is not consensus or catch-up, answer False: the caller scores the
   peer.
2. `tick`: announce our height; then, while a height has taken at least a status interval,
   relay what the host keeps of it to one peer (`bakong.node.relay`), each peer in turn as
   the I/O chooses.
3. Compact proposals (`bakong.node.compact`, host rule 9): one goes to the host like a full
   proposal; the fetch requests the host then has are sent (after every message and tick).
   A peer's fetch request is answered with what the host holds of it; a fetch answer goes
   to the host, and one that does not decode, or carries a transaction nobody asked for,
   answers False (a bad answer is a bad peer). A caller that decodes a fetch answer itself
   (the runtime, to verify its signatures in worker processes first) hands it to `supply`.
"""

from __future__ import annotations

from typing import Protocol

from bakong.consensus.messages import Proposal, Vote
from bakong.errors import RemoteError
from bakong.ledger.transaction import Transaction
from bakong.node.catchup import CatchUp, CatchUpIO, decode_sync
from bakong.node.compact import (
    CompactProposal,
    FetchTxs,
    decode_compact_proposal,
    decode_fetch,
    decode_fetched,
    encode_fetched,
)
from bakong.node.envelope import MessageKind
from bakong.node.host import Host
from bakong.wire.codec import encode

__all__ = ["Replica", "ReplicaIO"]


class ReplicaIO(CatchUpIO, Protocol):
    def relay_peer(self) -> bytes | None:
        """A peer to relay to (rule 2), or None when there is none."""
        ...


class Replica:
    """The host and its catch-up, as the peers reach them (module rules)."""

    def __init__(self, host: Host, io: ReplicaIO) -> None:
        self.host = host
        self.io = io
        self.catchup = CatchUp(host, io)

    def receive(self, source: bytes, kind: MessageKind, data: bytes) -> bool:
        """Rules 1 and 3; False when the message is not even decodable (score the peer)."""
        try:
            return self._receive(source, kind, data)
        finally:
            self._send_fetches()

    def _receive(self, source: bytes, kind: MessageKind, data: bytes) -> bool:
        memo = self.host.memo
        message: Proposal | Vote | CompactProposal | None = None
        if kind is MessageKind.PROPOSAL:
            message = memo.proposal(data)
        elif kind is MessageKind.VOTE:
            message = memo.vote(data)
        elif kind is MessageKind.PROPOSAL_COMPACT:
            try:
                message = decode_compact_proposal(self.host.chain_id, data, memo.verify)
            except RemoteError:  # DecodeError is a RemoteError
                return False
        elif kind is MessageKind.SYNC:
            sync = decode_sync(data)
            if sync is None:
                return False
            self.catchup.receive(source, sync)
            return True
        elif kind is MessageKind.FETCH_TXS:
            return self._answer_fetch(source, data)
        elif kind is MessageKind.FETCHED_TXS:
            try:
                fetched = decode_fetched(data)
            except RemoteError:
                return False
            return self.host.supply(fetched)
        if message is None:
            return False
        ahead = message.height > self.host.height + 2
        self.host.accept(message, source)
        if ahead:
            self.catchup.ask(source)
        return True

    def supply(self, fetched: list[tuple[bytes, Transaction]]) -> bool:
        """A fetch answer the caller decoded (and whose signatures it may have verified
        already): as a `fetched_txs` message is received."""
        try:
            return self.host.supply(fetched)
        finally:
            self._send_fetches()

    def _answer_fetch(self, source: bytes, data: bytes) -> bool:
        try:
            request = decode_fetch(data)
        except RemoteError:
            return False
        answer = encode_fetched(self.host.lookup(request.tx_hashes))
        if answer is not None:
            self.io.send(source, MessageKind.FETCHED_TXS, answer)
        return True

    def _send_fetches(self) -> None:
        for peer, tx_hashes in self.host.take_fetches():
            self.io.send(peer, MessageKind.FETCH_TXS, encode(FetchTxs(tuple(tx_hashes))))

    def tick(self) -> None:
        """Rules 2 and 3."""
        self._send_fetches()
        self.catchup.announce()
        host = self.host
        driver = host.driver
        if driver is None or host.waited_ms() < host.limits.status_interval_ms:
            return
        peer = self.io.relay_peer()
        if peer is not None:
            host.relays.relay(driver, lambda kind, data: self.io.send(peer, kind, data))
