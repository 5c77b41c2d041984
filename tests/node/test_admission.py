"""Admission into a mempool: every rule of `bakong.node.admission`, in order, with real
signatures, a real mempool and a sandbox chain's committed replay window.

Method: one admitter over a two-transaction mempool and a clock the test sets; each rule is
broken by one transaction built for it, and the verdict's status and code are compared.
"""

from __future__ import annotations

from bakong import limits
from bakong.ledger.assets import Asset
from bakong.ledger.state import seen_key
from bakong.ledger.transaction import (
    SignatureEntry,
    Transaction,
    TransactionPayload,
    sign_transaction,
    transaction_hash,
)
from bakong.node.admission import Admitter, Candidate
from bakong.node.mempool import Mempool
from bakong.node.service import Admission, AdmissionStatus
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire.codec import encode
from bakong.wire.keys import verify

ACCEPTED, COMMITTED = AdmissionStatus.ACCEPTED, AdmissionStatus.COMMITTED
BUSY, REJECTED = AdmissionStatus.BUSY, AdmissionStatus.REJECTED


class Node:
    """An admitter over a sandbox chain, as a validator holds one."""

    def __init__(self) -> None:
        self.sandbox = Sandbox()
        self.now_ms = self.sandbox.time_ms
        self.nonce = 0
        self.mempool = Mempool(txs_max=2, bytes_max=2 * limits.tx_bytes_max)
        self.admitter = Admitter(
            self.sandbox.chain_id,
            self.mempool,
            committed=lambda created_ms, tx_hash: (
                self.sandbox.store.get(seen_key(created_ms, tx_hash)) is not None
            ),
            clock_ms=lambda: self.now_ms,
        )

    def transaction(
        self, *, created_ms: int | None = None, chain_id: str | None = None
    ) -> Transaction:
        """The central bank issues to aclb: a fresh, valid transaction unless told otherwise."""
        self.nonce += 1
        payload = TransactionPayload(
            chain_id=chain_id or self.sandbox.chain_id,
            creator="nbc",
            created_ms=self.now_ms if created_ms is None else created_ms,
            nonce=self.nonce,
            commands=(self.sandbox.issue("aclb", Asset.KHR, 1_000, f"r{self.nonce}"),),
        )
        return sign_transaction(payload, [sandbox_key("nbc/admin")])

    def admit(self, raw: bytes) -> Admission:
        """What the simulator does: rules 1-6, the signatures inline, the conclusion."""
        checked = self.admitter.precheck(raw)
        if isinstance(checked, Admission):
            return checked
        return self.admitter.conclude(checked, all(verify(*c) for c in checked.checks))


def verdict(admission: Admission) -> tuple[AdmissionStatus, str]:
    return admission.status, admission.code


def test_a_valid_transaction_is_pooled_once_and_then_is_pending() -> None:
    node = Node()
    raw = encode(node.transaction())
    first = node.admit(raw)
    assert (first.status, first.message) == (ACCEPTED, "accepted")
    assert first.tx_hash in node.mempool and node.admitter.pending(first.tx_hash)
    again = node.admit(raw)
    assert (again.status, again.message) == (ACCEPTED, "already pending")
    assert len(node.mempool) == 1 and node.admitter.counts["txs_accepted"] == 1


def test_rule_1_bytes_that_do_not_decode_canonically_are_rejected_without_a_hash() -> None:
    node = Node()
    raw = encode(node.transaction())
    for bad in (b"\xc1", raw + b"\x00", b"\x00" * (limits.tx_bytes_max + 1)):
        admission = node.admit(bad)
        assert admission.status is REJECTED and admission.tx_hash is None, admission
    assert len(node.mempool) == 0


def test_rules_2_to_4_chain_window_and_signatures_present() -> None:
    node = Node()
    now = node.now_ms
    other_chain = node.transaction(chain_id="another-chain")
    future = node.transaction(created_ms=now + limits.tx_future_ms_max + 1)
    edge_of_future = node.transaction(created_ms=now + limits.tx_future_ms_max)
    expired = node.transaction(created_ms=now - limits.tx_past_ms_max - 1)
    unsigned = Transaction(payload=node.transaction().payload, signatures=())
    assert verdict(node.admit(encode(other_chain))) == (REJECTED, "chain_id_mismatch")
    assert verdict(node.admit(encode(future))) == (REJECTED, "created_in_future")
    assert verdict(node.admit(encode(expired))) == (REJECTED, "expired")
    assert verdict(node.admit(encode(unsigned))) == (REJECTED, "signature_missing")
    assert verdict(node.admit(encode(edge_of_future))) == (ACCEPTED, "ok")
    tx_hash = transaction_hash(future.payload)
    assert node.admitter.rejected(tx_hash) == "created_in_future"
    node.now_ms += 1  # the node's clock moves on: the same bytes now fall inside the window
    assert verdict(node.admit(encode(future))) == (ACCEPTED, "ok")


def test_rule_5_a_committed_transaction_is_reported_committed_not_pooled() -> None:
    node = Node()
    transaction = node.transaction()
    node.sandbox.commit([transaction])
    node.now_ms = node.sandbox.time_ms
    assert verdict(node.admit(encode(transaction))) == (COMMITTED, "ok")
    assert len(node.mempool) == 0


def test_rule_5_a_transaction_being_verified_is_pending_and_is_pooled_by_its_conclusion() -> None:
    node = Node()
    raw = encode(node.transaction())
    candidate = node.admitter.precheck(raw)
    assert isinstance(candidate, Candidate)
    assert (node.admit(raw).status, len(node.mempool)) == (ACCEPTED, 0)  # in flight
    assert verdict(node.admitter.conclude(candidate, True)) == (ACCEPTED, "ok")
    assert not node.admitter.in_flight and candidate.tx_hash in node.mempool


def test_rule_5_a_block_committed_during_verification_wins() -> None:
    node = Node()
    transaction = node.transaction()
    candidate = node.admitter.precheck(encode(transaction))
    assert isinstance(candidate, Candidate)
    node.sandbox.commit([transaction])
    assert verdict(node.admitter.conclude(candidate, True)) == (COMMITTED, "ok")
    assert len(node.mempool) == 0


def test_rule_6_a_full_mempool_answers_busy_before_any_signature_is_checked() -> None:
    node = Node()
    for _ in range(2):
        assert node.admit(encode(node.transaction())).status is ACCEPTED
    busy = node.admitter.precheck(encode(node.transaction()))
    assert isinstance(busy, Admission) and verdict(busy) == (BUSY, "busy")
    assert node.admitter.counts["txs_busy"] == 1 and not node.admitter.in_flight


def test_rule_7_a_forged_signature_is_rejected_and_remembered() -> None:
    node = Node()
    genuine = node.transaction()
    entry = genuine.signatures[0]
    flipped = bytes([entry.signature[0] ^ 1]) + entry.signature[1:]
    forged = Transaction(genuine.payload, (SignatureEntry(entry.public_key, flipped),))
    admission = node.admit(encode(forged))
    assert verdict(admission) == (REJECTED, "bad_signature")
    assert node.admitter.rejected(transaction_hash(genuine.payload)) == "bad_signature"
    # The forgery does not block the genuine copy of the same payload.
    assert verdict(node.admit(encode(genuine))) == (ACCEPTED, "ok")


def test_a_released_candidate_is_no_longer_pending() -> None:
    node = Node()
    candidate = node.admitter.precheck(encode(node.transaction()))
    assert isinstance(candidate, Candidate) and node.admitter.pending(candidate.tx_hash)
    node.admitter.release(candidate)
    assert not node.admitter.pending(candidate.tx_hash)
