"""Admission: whether a transaction may enter a validator's mempool.

Gateways submit transactions to a validator's API and peers gossip them; the validator runtime
(`bakong.node.runtime`) and the simulator (`bakong.sim.node`) both admit through this module,
so every simulated seed checks the rules a real node applies. A transaction is checked, in
this order (the first failure is the verdict):

1. bounded size and canonical decode (`decode_transaction`): else REJECTED with its code;
2. this chain: else `chain_id_mismatch`;
3. `created_ms` within the replay window of the node's own clock: at most `tx_future_ms_max`
   ahead (`created_in_future`), at most `tx_past_ms_max` behind (`expired`);
4. signed at all: else `signature_missing`;
5. not executed in the committed replay window (COMMITTED), not pooled nor being verified
   (ACCEPTED again: submitting is idempotent);
6. room in the mempool: else BUSY;
7. every signature verifies over the chain's signing message: else `bad_signature`.

`precheck` runs rules 1-6 and hands back the signature checks of rule 7 (`Candidate.checks`),
which the caller runs inline (the simulator) or in a worker pool (the runtime,
`bakong.node.verifier`) before it calls `conclude`. Calls go one way: the caller calls
admission, admission fills the mempool; it never calls back. `conclude` answers ACCEPTED
only for a transaction it pooled just now: that is the one the caller gossips, once, to every
peer. Refused verdicts are remembered (the newest `limits.rejected_txs_remembered_max`) for status
queries.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from bakong import limits
from bakong.errors import DecodeError
from bakong.ledger.transaction import (
    Transaction,
    decode_transaction,
    transaction_hash,
)
from bakong.node.mempool import Mempool
from bakong.node.service import Admission, AdmissionStatus
from bakong.node.verifier import SignatureCheck, signature_checks

__all__ = ["Admitter", "Candidate"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A transaction that passed rules 1-6; `checks` are its signatures (rule 7)."""

    raw: bytes
    transaction: Transaction
    tx_hash: bytes
    checks: list[SignatureCheck]


class Admitter:
    """One node's admission into `mempool` (module rules). `committed(created_ms, tx_hash)`
    answers from the committed replay window; `clock_ms()` is the node's wall clock, Unix ms."""

    def __init__(
        self,
        chain_id: str,
        mempool: Mempool,
        *,
        committed: Callable[[int, bytes], bool],
        clock_ms: Callable[[], int],
    ) -> None:
        self.chain_id = chain_id
        self.mempool = mempool
        self.committed = committed
        self.clock_ms = clock_ms
        self.in_flight: set[bytes] = set()  # candidates whose signatures are being verified
        self.counts = {"txs_accepted": 0, "txs_rejected": 0, "txs_busy": 0}
        self._rejected: OrderedDict[bytes, str] = OrderedDict()

    def pending(self, tx_hash: bytes) -> bool:
        """Pooled, or being verified."""
        return tx_hash in self.mempool or tx_hash in self.in_flight

    def rejected(self, tx_hash: bytes) -> str | None:
        """The code this node refused `tx_hash` with, if it still remembers."""
        return self._rejected.get(tx_hash)

    def precheck(self, raw: bytes) -> Admission | Candidate:
        """Rules 1-6: a verdict, or a candidate now in flight until `conclude` or `release`."""
        try:
            transaction = decode_transaction(raw)
        except DecodeError as error:
            return self._refuse(None, error.code, error.message)
        payload = transaction.payload
        tx_hash = transaction_hash(payload)
        if payload.chain_id != self.chain_id:
            return self._refuse(tx_hash, "chain_id_mismatch", f"this is {self.chain_id}")
        now_ms = self.clock_ms()
        if payload.created_ms > now_ms + limits.tx_future_ms_max:
            return self._refuse(tx_hash, "created_in_future", "created_ms is ahead of the clock")
        if payload.created_ms < now_ms - limits.tx_past_ms_max:
            return self._refuse(tx_hash, "expired", "created_ms is outside the replay window")
        if not transaction.signatures:
            return self._refuse(tx_hash, "signature_missing", "the transaction is not signed")
        if self.committed(payload.created_ms, tx_hash):
            return Admission(tx_hash, AdmissionStatus.COMMITTED, "ok", "already committed")
        if self.pending(tx_hash):
            return Admission(tx_hash, AdmissionStatus.ACCEPTED, "ok", "already pending")
        if self.mempool.full(len(raw)):
            return self._busy(tx_hash)
        self.in_flight.add(tx_hash)
        return Candidate(
            raw, transaction, tx_hash, signature_checks(self.chain_id, tx_hash, transaction)
        )

    def conclude(self, candidate: Candidate, signatures_ok: bool) -> Admission:
        """Rule 7's verdict, and the candidate pooled if it passed (module rules)."""
        tx_hash = candidate.tx_hash
        self.release(candidate)
        if not signatures_ok:
            return self._refuse(tx_hash, "bad_signature", "a signature does not verify")
        created_ms = candidate.transaction.payload.created_ms
        if self.committed(created_ms, tx_hash):  # its block was committed while it was verified
            return Admission(tx_hash, AdmissionStatus.COMMITTED, "ok", "already committed")
        assert tx_hash not in self.mempool, "a candidate is pooled only by its own conclusion"
        if not self.mempool.add(tx_hash, candidate.transaction, len(candidate.raw)):
            return self._busy(tx_hash)
        self.counts["txs_accepted"] += 1
        return Admission(tx_hash, AdmissionStatus.ACCEPTED, "ok", "accepted")

    def release(self, candidate: Candidate) -> None:
        """The candidate is no longer being verified (concluded, or its check failed)."""
        self.in_flight.discard(candidate.tx_hash)

    def _busy(self, tx_hash: bytes) -> Admission:
        self.counts["txs_busy"] += 1
        return Admission(tx_hash, AdmissionStatus.BUSY, "busy", "the mempool is full")

    def _refuse(self, tx_hash: bytes | None, code: str, message: str) -> Admission:
        self.counts["txs_rejected"] += 1
        if tx_hash is not None:
            self._rejected[tx_hash] = code
            if len(self._rejected) > limits.rejected_txs_remembered_max:
                self._rejected.popitem(last=False)
        return Admission(tx_hash, AdmissionStatus.REJECTED, code, message)
