"""A node's mempool: signed transactions waiting for a block, oldest first, bounded.

Admission (`Node.check_tx`) has already decoded the transaction, checked its chain and
signatures and that its hash is not in the committed replay window. The mempool keeps
arrival order (a dict is insertion-ordered), refuses duplicates and anything past
`capacity`, and forgets a transaction once a block that holds it is committed. It lives in
memory only: a crash empties it, and gateways resubmit what they have not seen committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bakong.ledger.transaction import Transaction

__all__ = ["Mempool"]


class Mempool:
    def __init__(self, capacity: int) -> None:
        assert capacity > 0
        self.capacity = capacity
        self._transactions: dict[bytes, Transaction] = {}

    def __len__(self) -> int:
        return len(self._transactions)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._transactions

    def add(self, tx_hash: bytes, transaction: Transaction) -> bool:
        """Keep `transaction`; False when it is already here or the mempool is full."""
        if tx_hash in self._transactions or len(self._transactions) >= self.capacity:
            return False
        self._transactions[tx_hash] = transaction
        assert len(self._transactions) <= self.capacity
        return True

    def remove(self, tx_hashes: Iterable[bytes]) -> None:
        for tx_hash in tx_hashes:
            self._transactions.pop(tx_hash, None)

    def take(self, count: int, committed: Callable[[bytes], bool]) -> list[Transaction]:
        """Up to `count` transactions, oldest first, dropping any already committed."""
        assert count >= 0
        chosen: list[Transaction] = []
        stale: list[bytes] = []
        for tx_hash, transaction in self._transactions.items():
            if len(chosen) >= count:
                break
            if committed(tx_hash):
                stale.append(tx_hash)
            else:
                chosen.append(transaction)
        self.remove(stale)
        return chosen

    def clear(self) -> None:
        self._transactions.clear()
