"""Byzantine validators attack the ledger: proposals carrying bad transactions, false catch-up.

Proposals (`attack_block`). A Byzantine proposer sends, instead of its block, the same block
with one more transaction, of one of these kinds, which every honest ledger must refuse:

- `forged`: a wallet's transfer with a corrupted signature, or signed by a key that is not
  the wallet's: `signature_invalid`, `signature_key_not_signatory`;
- `replayed`: a transaction of a committed block, still in the replay window:
  `duplicate_transaction`;
- `expired`: a wallet's transfer created over 24 h before the block, or over 5 min after it:
  `expired`, `created_in_future`;
- `over_limit`: a wallet's genuinely signed transfer above its daily limit:
  `daily_limit_exceeded` (or `duplicate_transaction`, when a replay attack repeats it).

Half the time the header tells the truth: the block is valid, honest nodes may decide it, and
the transaction must get its refusal there (the checker's `attack_executed`; a replay is held
to `executed_twice`). Otherwise the header lies: the block is executed as if the rule were off
(forged: a verifier that accepts anything; replayed: a state without its replay entries;
over_limit: a state whose policy has no limit), and honest nodes must refuse the block, since
`valid(v)` re-executes it. An expired transaction has no lying variant: the block time that
decides it is in the header itself.

Catch-up answers (`false_answer`). A Byzantine node answering a block request corrupts the
first block of its answer: a block that is not the commit's (`other_block`), the block of
another height (`other_height`), a commit with one signature (`few_signatures`), or a commit
whose signatures are random bytes (`forged_signatures`). An honest node must refuse each
(`bakong.node.catchup`) and apply none: one it applied would break agreement.

The wallets' keys are sandbox keys, public by construction (`bakong.sim.chain`), which is how
a Byzantine validator here can sign as a customer: it stands for a customer's genuine but
refused transaction, or for one it copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from msgspec.structs import replace

from bakong import limits
from bakong.ledger.assets import Asset
from bakong.ledger.block import Block, LedgerState, build_block, decode_block
from bakong.ledger.policy import LimitsPolicy, daily_limit
from bakong.ledger.records import Account
from bakong.ledger.result import ResultCode
from bakong.ledger.state import POLICY_KEY, StateReader, account_key
from bakong.ledger.transaction import (
    SignatureEntry,
    Transaction,
    TransactionPayload,
    sign_transaction,
    transaction_hash,
)
from bakong.node.catchup import BlockResponse, CommittedBlock, decode_sync, encode_sync
from bakong.sandbox import Sandbox, sandbox_key
from bakong.sim.chain import CHAIN_ID, PARTICIPANTS
from bakong.sim.checker import NOT_EXECUTED
from bakong.sim.workload import accounts_per_participant
from bakong.wire.codec import encode

if TYPE_CHECKING:
    from bakong.sim.node import Node

__all__ = ["ATTACKS", "LYING", "SYNC_LIES", "Attack", "attack_block", "false_answer"]

ATTACKS = ("forged", "replayed", "expired", "over_limit")
LYING = ("forged", "replayed", "over_limit")  # the attacks that can lie in the header
SYNC_LIES = ("other_block", "other_height", "few_signatures", "forged_signatures")
_wallets = [
    f"user{index}@{code}" for code in PARTICIPANTS for index in range(accounts_per_participant)
]


def _accept_any(public_key: bytes, message: bytes, signature: bytes) -> bool:
    return True


class _Doctored:
    """A node's state as a lying proposer executes it: without its replay entries, or with
    no daily limit."""

    def __init__(self, base: StateReader, attack: str) -> None:
        self.base = base
        self.attack = attack
        policy = base.record(POLICY_KEY)
        assert isinstance(policy, LimitsPolicy)
        unlimited = (limits.amount_max, limits.amount_max)
        self.policy = replace(policy, per_day_by_tier=(unlimited, unlimited, unlimited))

    def get(self, key: bytes) -> bytes | None:
        record = self.record(key)
        return None if record is None else encode(record)

    def record(self, key: bytes) -> Any:
        if self.attack == "replayed" and key.startswith(b"s/"):
            return None
        if self.attack == "over_limit" and key == POLICY_KEY:
            return self.policy
        return self.base.record(key)

    def records(self, keys: Sequence[bytes]) -> list[Any]:
        return [self.record(key) for key in keys]


@dataclass(frozen=True, slots=True)
class Attack:
    block: Block  # the block with the attack transaction, under a true or lying header
    tx_hash: bytes  # the attack transaction's
    codes: frozenset[int]  # the results an honest ledger may give it


def attack_block(node: Node, block: Block, attack: str, lying: bool) -> Attack | None:
    """`block`, the node's own next block, with one `attack` transaction added (module
    docstring), under a lying header if `lying`; None when the node's state offers no such
    transaction yet (no wallets, nothing to replay)."""
    assert attack in ATTACKS and (attack in LYING or not lying)
    header = block.header
    made = _transaction(node, attack, header.time_ms, lying)
    if made is None:
        return None
    transaction, codes = made
    state, verify = node.state, node.world.memo.verify
    if lying and attack == "forged":
        verify = _accept_any
    elif lying:
        state = LedgerState(_Doctored(node.state.store, attack), node.state.app_hash)
    built, _ = build_block(
        state,
        time_ms=header.time_ms,
        proposer=node.key.public_key,
        previous_hash=header.previous_hash,
        last_commit=header.last_commit,
        transactions=(*block.transactions, transaction),
        snapshot=header.snapshot,
        verify=verify,
    )
    tx_hash = transaction_hash(transaction.payload)
    if attack != "replayed":  # a replay's first execution is legitimate: `executed_twice`
        node.world.checker.expect_refused(tx_hash, attack, codes)
    node.byzantine.ledger_attacks += 1
    node.world.record(f"byzantine {node.index} {attack}{' lying' if lying else ''}")
    return Attack(built, tx_hash, codes)


def _transaction(
    node: Node, attack: str, time_ms: int, lying: bool
) -> tuple[Transaction, frozenset[int]] | None:
    """One attack transaction and the codes an honest ledger may give it (a forgery a lying
    header hides has a corrupted signature: an intruder's would be refused all the same)."""
    if attack == "replayed":
        replayed = _committed_transaction(node)
        duplicate = frozenset({int(ResultCode.duplicate_transaction)})
        return None if replayed is None else (replayed, duplicate)
    rng, store = node.world.rng, node.state.store
    source, target = rng.sample(_wallets, 2)
    account = store.record(account_key(source))
    if not isinstance(account, Account) or store.record(account_key(target)) is None:
        return None
    asset = rng.choice((Asset.KHR, Asset.USD))
    amount = rng.randint(1, 1_000)
    created_ms = time_ms
    codes: set[ResultCode] = set()
    if attack == "over_limit":
        policy = store.record(POLICY_KEY)
        assert isinstance(policy, LimitsPolicy)
        code = source.split("@")[1]
        amount += daily_limit(policy, code, account.tier, asset.index)
        # Remembered once refused: a later replay of it (this module's own) is a duplicate.
        codes = {ResultCode.daily_limit_exceeded, ResultCode.duplicate_transaction}
    elif attack == "expired":
        future = rng.random() < 0.5
        offset_ms = rng.randint(1, limits.sim_expired_offset_ms_max)
        if future:
            created_ms = time_ms + limits.tx_future_ms_max + offset_ms
        else:
            created_ms = time_ms - limits.tx_past_ms_max - offset_ms
        codes = {ResultCode.created_in_future if future else ResultCode.expired}
    payload = TransactionPayload(
        chain_id=CHAIN_ID,
        creator=source,
        created_ms=created_ms,
        nonce=rng.randrange(2**62),
        commands=(Sandbox.transfer(source, target, asset, amount),),
    )
    if attack != "forged":
        return sign_transaction(payload, [sandbox_key(source)]), frozenset(int(c) for c in codes)
    if not lying and rng.random() < 0.5:
        intruder = sign_transaction(payload, [sandbox_key("sim/intruder")])
        return intruder, frozenset({int(ResultCode.signature_key_not_signatory)})
    genuine = sign_transaction(payload, [sandbox_key(source)]).signatures[0]
    corrupted = bytes([genuine.signature[0] ^ 1]) + genuine.signature[1:]
    forged = Transaction(payload, (SignatureEntry(genuine.public_key, corrupted),))
    return forged, frozenset({int(ResultCode.signature_invalid)})


def _committed_transaction(node: Node) -> Transaction | None:
    """A transaction of a recent committed block that the ledger remembered (so it is in the
    replay window), or None."""
    candidates: list[Transaction] = []
    for stored in node.chain.blocks[-limits.sim_replay_depth_max:]:
        remembered = {r.tx_hash for r in stored.results if r.code not in NOT_EXECUTED}
        for transaction in decode_block(stored.block).transactions:
            if transaction_hash(transaction.payload) in remembered:
                candidates.append(transaction)
    return node.world.rng.choice(candidates) if candidates else None


def false_answer(node: Node, data: bytes, lie: str) -> bytes:
    """`data`, a catch-up message the node sends, with its first block or commit made false
    by `lie` (module docstring) when it is an answer with blocks."""
    assert lie in SYNC_LIES
    message = decode_sync(data)
    if not isinstance(message, BlockResponse):
        return data
    rng = node.world.rng
    first, rest = message.blocks[0], message.blocks[1:]
    commit = first.commit
    if lie == "other_height" and commit.height > 1:
        earlier = node.chain_store.stored_block(commit.height - 1)
        assert earlier is not None
        first = CommittedBlock(earlier.block, commit)
    elif lie == "few_signatures":
        first = CommittedBlock(first.block, replace(commit, signatures=commit.signatures[:1]))
    elif lie == "forged_signatures":
        signatures = tuple(replace(s, signature=rng.randbytes(64)) for s in commit.signatures)
        first = CommittedBlock(first.block, replace(commit, signatures=signatures))
    else:
        lie = "other_block"
        block = decode_block(first.block)
        later = replace(block.header, time_ms=block.header.time_ms + 1)
        first = CommittedBlock(encode(replace(block, header=later)), commit)
    node.byzantine.sync_lies += 1
    node.world.record(f"byzantine {node.index} answers {lie} for {commit.height}")
    return encode_sync(BlockResponse((first, *rest)))
