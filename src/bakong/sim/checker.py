"""The checker: the invariants of design section 9, asserted after every step of a run.

Only honest nodes are held to them (a Byzantine node runs the same code, but what it says
proves nothing). The first honest node to commit a height fixes the canonical block there.

- `agreement` (every commit): an honest node commits another block at a height already
  decided; or a Byzantine node decides, with a commit that holds a quorum by the checker's
  own rule (below), another block than the honest nodes' at that height;
- `commit` (every honest commit): the commit the node holds for its block does not hold a
  quorum by the checker's own rule;
- `app_hash` (every honest commit, and every catch-up refusal): the same block left a
  different state; a block with a quorum commit does not re-execute to its header;
- `conservation` (every honest commit): `check_store` over every account written so far and
  the supply: per-asset conservation, no negative balance;
- `hold_expiry` (every honest commit): a hold still pending after a block whose time is past
  its expiry (the ledger voids it at the first such block);
- `executed_twice` (every canonical commit): a transaction executed (not refused at the
  envelope) at two heights;
- `attack_executed` (every canonical commit): a transaction a Byzantine validator forged,
  backdated or pushed over a limit (`bakong.sim.byzantine`) got another result than the
  refusal its attack must get;
- `not_committed` (end of run): an acknowledged transaction never executed;
- `liveness` (every step once the faults stop): no new height for `limits.sim_liveness_ms`;
  or, at the end of the run, an honest node never reached the target height or gateways'
  transactions are still pending;
- `crash` (every step): an assertion or invariant inside the ledger or consensus fired.

The quorum rule is the checker's own, not `bakong.consensus` code that a mutant may patch
(`bakong.sim.mutants`): a commit holds a quorum when validators of the height's set, each
counted once and each signature verifying over its precommit for the block, hold more than
two thirds of the set's power.

"Acknowledged" means accepted into an honest node's mempool (`acknowledge`). A transaction
refused at the envelope (`duplicate_transaction` above all) changed nothing, so it may appear
again in a block (a gateway resubmits what it has not seen committed; a Byzantine proposer
replays); executing it twice is the violation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bakong.consensus.messages import VoteBody, VoteType, vote_sign_bytes
from bakong.ledger.block import TxResult
from bakong.ledger.commit import Commit
from bakong.ledger.context import SignatureVerifier
from bakong.ledger.invariants import InvariantViolation, check_store
from bakong.ledger.records import Head, Hold, HoldStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.state import HEAD_KEY, SUPPLY_KEY, MemoryStore, WriteSet, decode_value
from bakong.ledger.validators import ValidatorSet

__all__ = ["KINDS", "NOT_EXECUTED", "Checker", "Violation"]

#: Every kind of violation, in the module's order.
KINDS = (
    "agreement",
    "commit",
    "app_hash",
    "conservation",
    "hold_expiry",
    "executed_twice",
    "attack_executed",
    "not_committed",
    "liveness",
    "crash",
)

#: Codes of the ladder's envelope rungs 1-11: such a transaction changed nothing and is not
#: remembered (`bakong.ledger.ladder`), so it may legitimately appear again.
NOT_EXECUTED = frozenset(
    int(code) for code in ResultCode if 0 < code < ResultCode.permission_denied
)


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    time_ms: int
    node: int | None
    detail: str

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "time_ms": self.time_ms,
            "node": self.node,
            "detail": self.detail,
        }


class Checker:
    """The module's table, fed by the run as nodes commit and time passes."""

    def __init__(
        self, honest: Sequence[bool], liveness_ms: int, chain_id: str, verify: SignatureVerifier
    ) -> None:
        assert any(honest)
        assert liveness_ms > 0
        self.honest = tuple(honest)
        self.liveness_ms = liveness_ms
        self.chain_id = chain_id
        self.verify = verify
        self.violations: list[Violation] = []
        self.canonical: dict[int, tuple[bytes, bytes]] = {}  # height: (block hash, app hash)
        self.height = 0
        self.transactions = 0
        self.executed: dict[bytes, int] = {}  # tx hash: height where it executed
        self.acknowledged: dict[bytes, int] = {}  # tx hash: when first acknowledged
        self._account_keys: dict[bytes, None] = {}
        self._pending_holds: dict[bytes, int] = {}  # hold key: expires_ms
        self.sets: dict[int, ValidatorSet] = {}  # the honest chain's validator set per height
        self.certified: dict[int, tuple[bytes, int]] = {}  # height: (block hash, Byzantine node)
        self.attacks: dict[bytes, tuple[str, frozenset[int]]] = {}  # tx hash: (attack, codes)
        self.attacks_refused = 0  # canonical results of attack transactions, as expected
        self.last_progress_ms = 0
        self.calm_ms: int | None = None

    def violate(self, kind: str, now_ms: int, node: int | None, detail: str) -> None:
        self.violations.append(Violation(kind, now_ms, node, detail))

    def holds_quorum(self, commit: Commit, height: int, block_hash: bytes) -> bool:
        """The module's own quorum rule, against the honest chain's set of `height`."""
        validator_set = self.sets.get(height)
        if validator_set is None or commit.height != height or commit.block_hash != block_hash:
            return False
        body = VoteBody(VoteType.PRECOMMIT, height, commit.round, block_hash)
        message = vote_sign_bytes(self.chain_id, body)
        counted: dict[bytes, None] = {}
        power = 0
        for entry in commit.signatures:
            weight = validator_set.power_of(entry.validator)
            if weight == 0 or entry.validator in counted:
                continue
            if self.verify(entry.validator, message, entry.signature):
                counted[entry.validator] = None
                power += weight
        return 3 * power > 2 * validator_set.total_power

    def commit(
        self,
        now_ms: int,
        node: int,
        commit: Commit,
        app_hash: bytes,
        results: Sequence[TxResult],
        write_set: WriteSet,
        store: MemoryStore,
    ) -> None:
        """Honest node `node` committed `commit.block_hash` at `commit.height`, which left
        `app_hash`."""
        assert self.honest[node]
        height, block_hash = commit.height, commit.block_hash
        if not self.holds_quorum(commit, height, block_hash):
            signers = len(commit.signatures)
            detail = f"height {height}: {signers} signatures do not make a quorum"
            self.violate("commit", now_ms, node, detail)
        canonical = self.canonical.get(height)
        if canonical is None:
            assert height == self.height + 1, "canonical heights are decided in order"
            self.canonical[height] = (block_hash, app_hash)
            self.height = height
            self.last_progress_ms = now_ms
            self._index(now_ms, node, height, results)
            self._compare_certified(now_ms, height)
        elif canonical[0] != block_hash:
            detail = f"height {height}: {block_hash.hex()} against {canonical[0].hex()}"
            self.violate("agreement", now_ms, node, detail)
        elif canonical[1] != app_hash:
            detail = f"height {height}: app hash {app_hash.hex()} against {canonical[1].hex()}"
            self.violate("app_hash", now_ms, node, detail)
        self._check_state(now_ms, node, height, write_set, store)

    def _check_state(
        self, now_ms: int, node: int, height: int, write_set: WriteSet, store: MemoryStore
    ) -> None:
        """Conservation and hold expiry, on the node's store after `height`."""
        for key, raw in write_set:
            if key.startswith(b"a/"):
                self._account_keys[key] = None
            elif key.startswith(b"h/"):
                hold = None if raw is None else decode_value(key, raw)
                if isinstance(hold, Hold) and hold.status is HoldStatus.pending:
                    self._pending_holds[key] = hold.expires_ms
                else:
                    self._pending_holds.pop(key, None)
        try:
            check_store(self._accounts(store))
        except InvariantViolation as error:
            self.violate("conservation", now_ms, node, f"height {height}: {error}")
        self._check_holds(now_ms, node, height, store)

    def _check_holds(self, now_ms: int, node: int, height: int, store: MemoryStore) -> None:
        raw_head = store.get(HEAD_KEY)
        assert raw_head is not None
        head = decode_value(HEAD_KEY, raw_head)
        assert isinstance(head, Head)
        for key, expires_ms in list(self._pending_holds.items()):
            if expires_ms >= head.time_ms:
                continue
            raw = store.get(key)
            hold = None if raw is None else decode_value(key, raw)
            if isinstance(hold, Hold) and hold.status is HoldStatus.pending:
                detail = f"height {height}: hold {hold.hold_id.hex()} expired at {expires_ms}"
                self.violate("hold_expiry", now_ms, node, detail + f", block time {head.time_ms}")
                return
            del self._pending_holds[key]

    def certify(self, now_ms: int, node: int, commit: Commit) -> None:
        """Byzantine node `node` decided `commit.block_hash`: if its commit holds a quorum by
        the module's rule, no honest node may decide anything else at that height."""
        assert not self.honest[node]
        height = commit.height
        if height in self.certified or not self.holds_quorum(commit, height, commit.block_hash):
            return
        self.certified[height] = (commit.block_hash, node)
        self._compare_certified(now_ms, height)

    def _compare_certified(self, now_ms: int, height: int) -> None:
        certified, canonical = self.certified.get(height), self.canonical.get(height)
        if certified is not None and canonical is not None and certified[0] != canonical[0]:
            detail = (
                f"height {height}: a quorum commit for {certified[0].hex()}, decided by "
                f"Byzantine node {certified[1]}, against {canonical[0].hex()}"
            )
            self.violate("agreement", now_ms, certified[1], detail)

    def expect_refused(self, tx_hash: bytes, attack: str, codes: frozenset[int]) -> None:
        """A Byzantine validator put `tx_hash` in a proposal: any canonical result for it
        must be one of `codes`."""
        assert codes and int(ResultCode.ok) not in codes
        self.attacks.setdefault(tx_hash, (attack, codes))

    def _index(self, now_ms: int, node: int, height: int, results: Sequence[TxResult]) -> None:
        """Exactly once, and attacks refused, as the canonical chain grows."""
        self.transactions += len(results)
        for result in results:
            attack = self.attacks.get(result.tx_hash)
            if attack is not None:
                if result.code not in attack[1]:
                    detail = f"{attack[0]} {result.tx_hash.hex()} at height {height}: "
                    self.violate("attack_executed", now_ms, node, detail + f"code {result.code}")
                else:
                    self.attacks_refused += 1
            if result.code in NOT_EXECUTED:
                continue
            earlier = self.executed.get(result.tx_hash)
            if earlier is not None:
                detail = f"{result.tx_hash.hex()} at heights {earlier} and {height}"
                self.violate("executed_twice", now_ms, node, detail)
            else:
                self.executed[result.tx_hash] = height

    def _accounts(self, store: MemoryStore) -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(self._account_keys):
            raw = store.get(key)
            if raw is not None:
                yield key, raw
        supply = store.get(SUPPLY_KEY)
        if supply is not None:
            yield SUPPLY_KEY, supply

    def acknowledge(self, now_ms: int, tx_hash: bytes) -> None:
        self.acknowledged.setdefault(tx_hash, now_ms)

    def is_committed(self, tx_hash: bytes) -> bool:
        return tx_hash in self.executed

    def calm(self, now_ms: int) -> None:
        """The faults stop now: from here on, liveness is checked."""
        assert self.calm_ms is None
        self.calm_ms = now_ms

    def step(self, now_ms: int) -> None:
        """Liveness, after every event once the faults have stopped."""
        if self.calm_ms is None or self.violations:
            return
        since_ms = max(self.calm_ms, self.last_progress_ms)
        if now_ms - since_ms > self.liveness_ms:
            detail = f"no new height for {now_ms - since_ms} ms after height {self.height}"
            self.violate("liveness", now_ms, None, detail)

    def finish(
        self, now_ms: int, honest_heights: Sequence[int], target_height: int, settled: bool
    ) -> None:
        """The end-of-run checks: every acknowledged transaction executed, everyone caught up
        (and, when the run did not settle for another reason, gateways' work still pending)."""
        if self.violations:
            return
        missing = [tx for tx in self.acknowledged if tx not in self.executed]
        if missing:
            detail = f"{len(missing)} acknowledged, first {missing[0].hex()}"
            self.violate("not_committed", now_ms, None, detail)
        lagging = min(honest_heights) < target_height
        if not settled and (lagging or not missing):
            detail = f"honest heights {list(honest_heights)}, canonical {self.height}"
            self.violate("liveness", now_ms, None, f"the run did not settle: {detail}")
