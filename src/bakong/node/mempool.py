"""A node's mempool: signed transactions waiting for a block, oldest first, bounded.

Admission (`bakong.node.admission`) has already decoded the transaction, checked its chain,
its `created_ms` and signatures and that its hash is not in the committed replay window. The
mempool keeps arrival order (a dict is insertion-ordered), refuses duplicates and anything
past its count or byte bound (a full mempool answers "busy", it never grows), and forgets a
transaction once a block that holds it is committed, or once it has aged out of the replay
window (those it remembers, bounded, so that a status query can say so). It lives in memory
only: a crash empties it, and gateways resubmit what they have not seen committed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

from bakong import limits
from bakong.ledger.transaction import Transaction

__all__ = ["Mempool"]


class Mempool:
    def __init__(self, txs_max: int, bytes_max: int) -> None:
        assert txs_max > 0 and bytes_max > 0
        self.txs_max = txs_max
        self.bytes_max = bytes_max
        self.bytes = 0
        self._transactions: dict[bytes, tuple[Transaction, int]] = {}
        self._expired: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._transactions)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._transactions

    def get(self, tx_hash: bytes) -> Transaction | None:
        """The pooled transaction with `tx_hash`, decoded and verified by admission: what a
        follower rebuilds a compact proposal from (`bakong.node.compact`)."""
        entry = self._transactions.get(tx_hash)
        return None if entry is None else entry[0]

    def expired(self, tx_hash: bytes) -> bool:
        """Whether `tx_hash` was dropped, not yet in a block, when it left the replay window."""
        return tx_hash in self._expired

    def full(self, size: int = 0) -> bool:
        return len(self._transactions) >= self.txs_max or self.bytes + size > self.bytes_max

    def add(self, tx_hash: bytes, transaction: Transaction, size: int) -> bool:
        """Keep `transaction` (`size` encoded bytes); False when already here or full."""
        if tx_hash in self._transactions or self.full(size):
            return False
        self._transactions[tx_hash] = (transaction, size)
        self.bytes += size
        assert len(self._transactions) <= self.txs_max and self.bytes <= self.bytes_max
        return True

    def remove(self, tx_hashes: Iterable[bytes]) -> None:
        for tx_hash in tx_hashes:
            entry = self._transactions.pop(tx_hash, None)
            if entry is not None:
                self.bytes -= entry[1]

    def take(
        self, count: int, committed: Callable[[int, bytes], bool], expired_before_ms: int
    ) -> tuple[list[Transaction], list[bytes]]:
        """Up to `count` transactions, oldest first, with their hashes (which the block's
        execution then need not compute again). Dropped on the way: those already committed,
        and those created before `expired_before_ms`, which a block could only reject as
        expired (the edge of the replay window at the block's time)."""
        assert count >= 0
        chosen: list[Transaction] = []
        hashes: list[bytes] = []
        stale: list[bytes] = []
        for tx_hash, (transaction, _) in self._transactions.items():
            if len(chosen) >= count:
                break
            if committed(transaction.payload.created_ms, tx_hash):
                stale.append(tx_hash)
            elif transaction.payload.created_ms < expired_before_ms:
                stale.append(tx_hash)
                self._expired[tx_hash] = None
                if len(self._expired) > limits.expired_txs_remembered_max:
                    self._expired.popitem(last=False)
            else:
                chosen.append(transaction)
                hashes.append(tx_hash)
        self.remove(stale)
        return chosen, hashes

