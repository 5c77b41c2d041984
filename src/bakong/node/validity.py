"""valid(v) (Algorithm 1, L23, L29, L36, L50): a proposed block, checked by the host.

A validator at height h holds a committed state (after h - 1). A proposed value is the
canonical bytes of a block and its id, the block hash. It is valid when, in this order:

1. the bytes decode canonically as a block and the header hashes to the value id;
2. the header names this chain and height h, and the previous block hash is ours;
3. its proposer is in the validator set of height h (not necessarily the proposer of the
   round that carries it: a valid value may be re-proposed by another proposer, L16);
4. its time is at most `block_time_drift_ms_max` ahead of our own clock (a block time after
   the previous block's is the ledger's own rule, step 6);
5. the previous block's commit verifies against the set that decided h - 1 (none at h = 1);
6. re-executing its transactions on our state (`execute_block`) succeeds and every header field
   the execution determines agrees (`check_header`: tx root, result root, app hash,
   validators hash);
7. it carries a snapshot root exactly when one is due at its height, and that root is the one
   we computed (`bakong.node.snapshot` rules 1 and 4).

A block that arrives with a commit (catch-up, or a decision replayed after a restart) is
checked without rule 4: 2f+1 validators already accepted its time against their clocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bakong.consensus.commit import CommitStatus
from bakong.errors import DecodeError, LocalError
from bakong.ledger.block import (
    Block,
    BlockOutcome,
    LedgerState,
    block_hash,
    check_header,
    decode_block,
    execute_block,
)
from bakong.ledger.commit import Commit
from bakong.ledger.context import SignatureVerifier
from bakong.ledger.validators import ValidatorSet
from bakong.limits import block_time_drift_ms_max

__all__ = ["Checked", "CommitVerifier", "Tip", "check_block"]

#: verify_commit(commit, validator_set, height, block_hash), memoised by the run.
CommitVerifier = Callable[[Commit, ValidatorSet, int, bytes], CommitStatus]


@dataclass(frozen=True, slots=True)
class Tip:
    """A node's committed view, against which a block for `height` is checked."""

    chain_id: str
    height: int  # the height being decided
    state: LedgerState  # after height - 1
    previous_hash: bytes
    validator_set: ValidatorSet  # decides `height`
    previous_set: ValidatorSet | None  # decided height - 1; None at height 1
    snapshot_height: int | None = None  # the snapshot whose root this height carries
    snapshot_root: bytes | None = None  # our root for it; None when we lost it (rule 7)


@dataclass(frozen=True, slots=True)
class Checked:
    reason: str | None  # None: valid
    block: Block | None = None
    outcome: BlockOutcome | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None


def check_block(
    tip: Tip,
    value: bytes,
    value_id: bytes,
    *,
    now_ms: int | None,
    verify: SignatureVerifier,
    verify_commit: CommitVerifier,
    decoded: tuple[Block, Sequence[bytes]] | None = None,
) -> Checked:
    """The module's rules 1-7 (rule 4 only when `now_ms` is given). `decoded` is `value`
    already decoded, with its transactions' hashes, when the caller rebuilt it from verified
    transactions (`bakong.node.compact`): rule 1 then need not decode and hash them again."""
    assert tip.height >= 1
    if decoded is not None:
        block, tx_hashes = decoded
    else:
        try:
            block = decode_block(value)
        except DecodeError:
            return Checked("undecodable")
        tx_hashes = None
    header = block.header
    if block_hash(header) != value_id:
        return Checked("value_id")
    if header.chain_id != tip.chain_id or header.height != tip.height:
        return Checked("height")
    if header.previous_hash != tip.previous_hash:
        return Checked("previous_hash")
    if tip.validator_set.power_of(header.proposer) == 0:
        return Checked("proposer")
    if now_ms is not None and header.time_ms > now_ms + block_time_drift_ms_max:
        return Checked("time_future")
    reason = _last_commit_problem(tip, block, verify_commit) or _snapshot_problem(tip, block)
    if reason is not None:
        return Checked(reason)
    try:
        outcome = execute_block(
            tip.state,
            height=header.height,
            time_ms=header.time_ms,
            transactions=block.transactions,
            verify=verify,
            tx_hashes=tx_hashes,
        )
    except LocalError:
        return Checked("execution")
    if check_header(block, outcome):
        return Checked("header")
    assert outcome.app_hash == header.app_hash
    return Checked(None, block, outcome)


def _snapshot_problem(tip: Tip, block: Block) -> str | None:
    carried = block.header.snapshot
    if tip.snapshot_height is None:
        return None if carried is None else "snapshot"
    if carried is None or carried.height != tip.snapshot_height:
        return "snapshot"
    if tip.snapshot_root is not None and carried.root != tip.snapshot_root:
        return "snapshot"
    return None


def _last_commit_problem(tip: Tip, block: Block, verify_commit: CommitVerifier) -> str | None:
    last_commit = block.header.last_commit
    if tip.previous_set is None:
        assert tip.height == 1
        return None if last_commit is None else "last_commit"
    if last_commit is None:
        return "last_commit"
    status = verify_commit(last_commit, tip.previous_set, tip.height - 1, tip.previous_hash)
    return None if status is CommitStatus.OK else "last_commit"
