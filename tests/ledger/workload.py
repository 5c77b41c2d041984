"""A random workload for the ledger: operations drawn from a seed (or by hypothesis), applied
to a sandbox chain block by block, checking the invariants after every block.

Each operation becomes one transaction in the current block; `Tick` closes the block and moves
time forward (sometimes past a day boundary or a hold's expiry). Replays resubmit an earlier
transaction verbatim. The checks:
- conservation and non-negativity over the whole store after every block;
- a replayed authentic transaction is always `duplicate_transaction`, and never applies twice;
- a rejected transaction writes nothing but housekeeping keys;
- the same operations give the same app hash (compared across processes by the tests).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from bakong.ledger.assets import Asset
from bakong.ledger.commands import (
    Command,
    Issue,
    PlaceHold,
    PostHold,
    Redeem,
    SetAccountStatus,
    SetKycTier,
    VoidHold,
)
from bakong.ledger.invariants import check_store
from bakong.ledger.records import AccountStatus, KycTier
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction
from bakong.sandbox import Sandbox

PARTICIPANTS = ("aclb", "wing", "abaa")
ACCOUNTS = tuple(f"user{i}@{PARTICIPANTS[i % 3]}" for i in range(12))
TIERS = (KycTier.basic, KycTier.partial, KycTier.full)
# Keys a rejected transaction may still write: the head, replay entries, hold sweeps.
HOUSEKEEPING_PREFIXES = (b"H", b"s/", b"b/", b"x/", b"V")


@dataclass
class Workload:
    chain: Sandbox
    pending: list[Transaction] = field(default_factory=list)
    history: list[tuple[Transaction, int]] = field(default_factory=list)  # tx, code
    holds: list[tuple[bytes, str]] = field(default_factory=list)  # id, poster
    expected_duplicates: set[int] = field(default_factory=set)  # indexes into pending

    def submit(self, creator: str, commands: list[Command]) -> None:
        self.pending.append(self.chain.transaction(creator, commands))

    def replay(self, choice: int) -> None:
        if not self.history:
            return
        transaction, code = self.history[choice % len(self.history)]
        if (
            _is_authentic(code)
            and transaction.payload.created_ms >= self.chain.time_ms - 23 * 3_600_000
        ):
            self.expected_duplicates.add(len(self.pending))
        self.pending.append(transaction)

    def tick(self, advance_ms: int) -> None:
        """Close the block, check everything, and move time on by `advance_ms`."""
        before = dict(self.chain.store.items())
        outcome = self.chain.commit(self.pending, advance_ms=advance_ms)
        check_store(self.chain.store.items())
        for index, (transaction, result) in enumerate(
            zip(self.pending, outcome.results, strict=True)
        ):
            if index in self.expected_duplicates:
                fresh = transaction.payload.created_ms >= self.chain.time_ms - 24 * 3_600_000
                expected = ResultCode.duplicate_transaction if fresh else ResultCode.expired
                assert result.code == expected, ResultCode(result.code)
            self.history.append((transaction, result.code))
        if len(self.pending) == 1 and outcome.results[0].code != ResultCode.ok:
            _assert_only_housekeeping(before, outcome.write_set)
        self.pending = []
        self.expected_duplicates = set()


def _is_authentic(code: int) -> bool:
    return code == ResultCode.ok or code > ResultCode.signature_quorum_not_met


def _assert_only_housekeeping(before: dict[bytes, bytes], write_set: tuple) -> None:  # type: ignore[type-arg]
    for key, value in write_set:
        if key.startswith(HOUSEKEEPING_PREFIXES):
            continue
        # A hold may expire in the block's sweep; that changes accounts legitimately.
        if key.startswith((b"a/", b"h/")) and any(k.startswith(b"x/") for k, _ in write_set):
            continue
        assert before.get(key) == value, f"a rejected transaction changed {key!r}"


def new_workload() -> Workload:
    chain = Sandbox()
    funding = [
        chain.transaction(
            "nbc", [chain.issue(p, asset, 10**12, f"seed-{p}-{asset.value}") for asset in Asset]
        )
        for p in PARTICIPANTS
    ]
    chain.commit(funding)
    opens = [
        chain.transaction(
            account.split("@")[1],
            [chain.open_account(account, tier=TIERS[i % 3])],
        )
        for i, account in enumerate(ACCOUNTS)
    ]
    chain.commit(opens)
    cash_in = [
        chain.transaction(
            f"settlement@{account.split('@')[1]}",
            [chain.transfer(f"settlement@{account.split('@')[1]}", account, asset, 1_500_000)],
        )
        for account in ACCOUNTS
        for asset in Asset
    ]
    chain.commit(cash_in)
    return Workload(chain=chain)


def apply_operation(workload: Workload, operation: tuple[int, ...]) -> None:
    """Interpret one operation: (kind, a, b, c, amount) with small integers."""
    kind, a, b, c, amount = operation
    chain = workload.chain
    source, target = ACCOUNTS[a % 12], ACCOUNTS[b % 12]
    asset = Asset.KHR if c % 2 == 0 else Asset.USD
    if kind == 0:
        workload.submit(source, [Sandbox.transfer(source, target, asset, amount)])
    elif kind == 1:
        hold_id = len(workload.holds).to_bytes(16, "big")
        poster = ACCOUNTS[c % 12]
        workload.holds.append((hold_id, poster))
        expires = chain.time_ms + 90_000 + (amount % 7) * 600_000
        workload.submit(
            source,
            [
                PlaceHold(
                    hold_id=hold_id,
                    source=source,
                    target=target,
                    poster=poster,
                    asset=asset,
                    amount=amount,
                    expires_ms=expires,
                    memo="",
                    reference="",
                )
            ],
        )
    elif kind in (2, 3) and workload.holds:
        hold_id, poster = workload.holds[-1 - a % min(len(workload.holds), 4)]
        signer = poster if c % 4 else ACCOUNTS[c % 12]  # now and then, someone else tries
        post_or_void: Command = (
            PostHold(hold_id=hold_id, amount=amount) if kind == 2 else VoidHold(hold_id=hold_id)
        )
        workload.submit(signer, [post_or_void])
    elif kind == 4:
        participant = PARTICIPANTS[a % 3]
        command: Command = (Issue if b % 2 else Redeem)(
            account=f"settlement@{participant}", asset=asset, amount=amount, reserve_ref="r"
        )
        workload.submit("nbc", [command])
    elif kind == 5:
        status = AccountStatus.frozen if b % 4 == 0 else AccountStatus.active
        workload.submit(source.split("@")[1], [SetAccountStatus(account=source, status=status)])
    elif kind == 6:
        workload.submit(source.split("@")[1], [SetKycTier(account=source, tier=TIERS[b % 3])])
    elif kind == 7:
        # Two commands where the second fails (insufficient funds, or `participants_mixed`
        # when it pays another bank than the first): the first must not survive alone.
        first = Sandbox.transfer(source, target, asset, amount)
        second = Sandbox.transfer(source, ACCOUNTS[c % 12], asset, 10**13)
        workload.submit(source, [first, second])
    elif kind == 8:
        workload.replay(a * 31 + b)
    else:
        workload.tick(advance_ms=[500, 2_000, 60_000, 3_600_000, 86_400_000][amount % 5])


def random_operations(seed: int, count: int) -> list[tuple[int, ...]]:
    rng = random.Random(seed)
    amounts = [1, 7, 100, 5_000, 250_000, 1_999_999, 3_000_000]
    return [
        (
            rng.randrange(10),
            rng.randrange(64),
            rng.randrange(64),
            rng.randrange(64),
            rng.choice(amounts),
        )
        for _ in range(count)
    ]


def run(seed: int, count: int) -> str:
    """Apply a seeded workload and return the final app hash (hex)."""
    workload = new_workload()
    for operation in random_operations(seed, count):
        apply_operation(workload, operation)
    workload.tick(advance_ms=1_000)
    return workload.chain.state.app_hash.hex()
