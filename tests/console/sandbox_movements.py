"""A sandbox chain whose every block goes through `block_movements`, as the console does.

`MovementChain` commits blocks on a real in-memory ledger (`bakong.sandbox`) and derives each
block's movements right after, passing exactly the holds the contract asks for (the due ones and
the ones the block names), so the tests see what the console's follower would store.
"""

from __future__ import annotations

from collections.abc import Sequence

from bakong.console.movements import (
    Movement,
    PendingHold,
    block_movements,
    hold_ids_named,
    ledger_items,
)
from bakong.ledger.assets import Asset
from bakong.ledger.block import TxResult
from bakong.ledger.commands import PlaceHold
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction
from bakong.sandbox import Sandbox


class MovementChain:
    def __init__(self, **sandbox: object) -> None:
        self.chain = Sandbox(**sandbox)  # type: ignore[arg-type]
        self.holds: dict[bytes, PendingHold] = {}
        self.movements: list[Movement] = []
        self.results: list[tuple[TxResult, ...]] = []  # per block, as its execution gave

    def commit(
        self, transactions: Sequence[Transaction], advance_ms: int | None = None
    ) -> list[ResultCode]:
        outcome = self.chain.commit(transactions, advance_ms=advance_ms)
        self.results.append(outcome.results)
        block = self.chain.blocks[-1]
        items = ledger_items(block, outcome.results)
        named = hold_ids_named(items)
        needed = {
            hold_id: hold
            for hold_id, hold in self.holds.items()
            if hold.expires_ms < block.header.time_ms or hold_id in named
        }
        derived = block_movements(block.header, items, needed, central_bank=self.chain.central_bank)
        for hold_id in derived.holds_finished:
            del self.holds[hold_id]
        self.holds.update((hold.hold_id, hold) for hold in derived.holds_placed)
        self.movements.extend(derived.movements)
        return [ResultCode(result.code) for result in outcome.results]

    def ok(self, creator: str, *commands: object) -> None:
        """Commit one transaction that must succeed."""
        codes = self.commit([self.chain.transaction(creator, commands)])  # type: ignore[arg-type]
        assert codes == [ResultCode.ok], codes

    def fund(self) -> None:
        """Liquidity for three banks and a funded customer at each."""
        chain = self.chain
        for bank in ("aclb", "wing", "abaa"):  # one bank per transaction: never mixed
            issues = [
                chain.issue(bank, asset, amount, f"reserve-{bank}-{asset.value}")
                for asset, amount in ((Asset.KHR, 10**10), (Asset.USD, 10**7))
            ]
            self.ok("nbc", *issues)
        for account in ("sokha@aclb", "dara@wing", "vanna@abaa"):
            self.ok(account.split("@")[1], chain.open_account(account))
        for account in ("sokha@aclb", "dara@wing", "vanna@abaa"):
            bank = account.split("@")[1]
            self.ok(
                f"settlement@{bank}",
                chain.transfer(f"settlement@{bank}", account, Asset.KHR, 5_000_000),
                chain.transfer(f"settlement@{bank}", account, Asset.USD, 100_000),
            )

    def hold(
        self, hold_id: bytes, source: str, target: str, amount: int, lifetime_ms: int
    ) -> PlaceHold:
        return PlaceHold(
            hold_id=hold_id,
            source=source,
            target=target,
            poster=target,
            asset=Asset.KHR,
            amount=amount,
            expires_ms=self.chain.time_ms + self.chain.block_interval_ms + lifetime_ms,
            memo="",
            reference=f"ref-{hold_id.hex()[:8]}",
        )
