"""The checker: the invariants of design section 9, asserted after every step of a run.

Only honest nodes are held to them (a Byzantine node runs the same code, but what it says
proves nothing). The first honest node to commit a height fixes the canonical block there.

- `agreement` (every commit): an honest node commits another block at a height already
  decided; or a Byzantine node decides, with a commit that verifies against the honest
  chain's validator set (2f+1 precommits: what a light client would trust), another block
  than the honest nodes' at that height;
- `app_hash` (every honest commit): the same block left a different state (app hash);
- `conservation` (every honest commit): `check_store` over every account written so far and
  the supply: per-asset conservation, no negative balance;
- `executed_twice` (every canonical commit): a transaction executed (not refused at the
  envelope) at two heights;
- `not_committed` (end of run): an acknowledged transaction never executed;
- `liveness` (every step once the faults stop): no new height for `liveness_ms`; or, at the
  end of the run, an honest node never caught up or transactions are still pending;
- `crash` (every step): an assertion or invariant inside the ledger or consensus fired.

"Acknowledged" means accepted into an honest node's mempool (`acknowledge`). A transaction
refused at the envelope (`duplicate_transaction` above all) changed nothing, so it may appear
again in a block (a gateway resubmits what it has not seen committed; a Byzantine proposer
replays); executing it twice is the violation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bakong.ledger.block import TxResult
from bakong.ledger.invariants import InvariantViolation, check_store
from bakong.ledger.result import ResultCode
from bakong.ledger.state import SUPPLY_KEY, MemoryStore, WriteSet
from bakong.ledger.validators import ValidatorSet

__all__ = ["Checker", "Violation"]

#: Codes of the ladder's envelope rungs 1-11: such a transaction changed nothing and is not
#: remembered (`bakong.ledger.ladder`), so it may legitimately appear again.
_not_executed = frozenset(
    int(code) for code in ResultCode if 0 < code < ResultCode.permission_denied
)


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    time_ms: int
    node: int | None
    detail: str

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "time_ms": self.time_ms,
            "node": self.node,
            "detail": self.detail,
        }


class Checker:
    """The module's table, fed by the run as nodes commit and time passes."""

    def __init__(self, honest: Sequence[bool], liveness_ms: int) -> None:
        assert any(honest)
        assert liveness_ms > 0
        self.honest = tuple(honest)
        self.liveness_ms = liveness_ms
        self.violations: list[Violation] = []
        self.canonical: dict[int, tuple[bytes, bytes]] = {}  # height: (block hash, app hash)
        self.height = 0
        self.transactions = 0
        self.executed: dict[bytes, int] = {}  # tx hash: height where it executed
        self.acknowledged: dict[bytes, int] = {}  # tx hash: when first acknowledged
        self._account_keys: dict[bytes, None] = {}
        self.sets: dict[int, ValidatorSet] = {}  # the honest chain's validator set per height
        self.certified: dict[int, tuple[bytes, int]] = {}  # height: (block hash, Byzantine node)
        self.last_progress_ms = 0
        self.calm_ms: int | None = None

    def violate(self, kind: str, now_ms: int, node: int | None, detail: str) -> None:
        self.violations.append(Violation(kind, now_ms, node, detail))

    def commit(
        self,
        now_ms: int,
        node: int,
        height: int,
        hashes: tuple[bytes, bytes],
        results: Sequence[TxResult],
        write_set: WriteSet,
        store: MemoryStore,
    ) -> None:
        """Node `node` committed `height` with (block hash, app hash) `hashes`."""
        assert self.honest[node]
        canonical = self.canonical.get(height)
        if canonical is None:
            assert height == self.height + 1, "canonical heights are decided in order"
            self.canonical[height] = hashes
            self.height = height
            self.last_progress_ms = now_ms
            self._index(now_ms, node, height, results)
            self._compare_certified(now_ms, height)
        elif canonical[0] != hashes[0]:
            detail = f"height {height}: {hashes[0].hex()} against {canonical[0].hex()}"
            self.violate("agreement", now_ms, node, detail)
        elif canonical[1] != hashes[1]:
            detail = f"height {height}: app hash {hashes[1].hex()} against {canonical[1].hex()}"
            self.violate("app_hash", now_ms, node, detail)
        for key, _ in write_set:
            if key.startswith(b"a/"):
                self._account_keys[key] = None
        try:
            check_store(self._accounts(store))
        except InvariantViolation as error:
            self.violate("conservation", now_ms, node, f"height {height}: {error}")

    def certify(self, now_ms: int, node: int, height: int, block_hash: bytes) -> None:
        """Byzantine node `node` decided `block_hash` with a commit that verifies against
        `sets[height]`: no honest node may decide anything else there."""
        assert not self.honest[node]
        if height not in self.certified:
            self.certified[height] = (block_hash, node)
            self._compare_certified(now_ms, height)

    def _compare_certified(self, now_ms: int, height: int) -> None:
        certified, canonical = self.certified.get(height), self.canonical.get(height)
        if certified is not None and canonical is not None and certified[0] != canonical[0]:
            detail = (
                f"height {height}: a valid commit for {certified[0].hex()}, decided by "
                f"Byzantine node {certified[1]}, against {canonical[0].hex()}"
            )
            self.violate("agreement", now_ms, certified[1], detail)

    def _index(self, now_ms: int, node: int, height: int, results: Sequence[TxResult]) -> None:
        """Exactly once, as the canonical chain grows."""
        self.transactions += len(results)
        for result in results:
            if result.code in _not_executed:
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

    def finish(self, now_ms: int, honest_heights: Sequence[int], done: bool) -> None:
        """The end-of-run checks: everyone caught up, every acknowledged transaction executed."""
        if self.violations:
            return
        if not done:
            lagging = f"honest heights {list(honest_heights)}, canonical {self.height}"
            self.violate("liveness", now_ms, None, f"the run did not settle: {lagging}")
        missing = [tx for tx in self.acknowledged if tx not in self.executed]
        if missing:
            detail = f"{len(missing)} acknowledged, first {missing[0].hex()}"
            self.violate("not_committed", now_ms, None, detail)
