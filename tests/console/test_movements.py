"""Movements derived from real ledger blocks: they account for every balance the ledger holds,
record failed transactions without moving anything, follow holds across blocks and leave the
memo out."""

from __future__ import annotations

import random
from collections import Counter

import msgspec
import pytest

from bakong.client import StreamItem
from bakong.console.movements import (
    SWEEP_TX_INDEX,
    Movement,
    MovementKind,
    PendingHold,
    block_movements,
    hold_ids_named,
    ledger_items,
)
from bakong.errors import LocalError
from bakong.ledger.assets import Asset
from bakong.ledger.commands import PostHold, Redeem, VoidHold
from bakong.ledger.result import ResultCode
from tests.console.sandbox_movements import MovementChain

MINUTE_MS = 60_000
PERSONAL_MEMO = "rent for Sokha Chan 012345678"


def _replayed_balances(movements: list[Movement]) -> dict[tuple[str, Asset], list[int]]:
    """(available, held) per account and asset, from the movements alone."""
    balances: dict[tuple[str, Asset], list[int]] = {}

    def add(account: str, asset: Asset, available: int, held: int) -> None:
        if account.startswith("treasury@"):  # issuing creates money; the treasury holds none
            return
        balance = balances.setdefault((account, asset), [0, 0])
        balance[0] += available
        balance[1] += held

    for row in movements:
        if not row.ok:
            continue
        amount = row.amount
        if row.kind in (MovementKind.transfer, MovementKind.issue, MovementKind.redeem):
            add(row.source, row.asset, -amount, 0)
            add(row.target, row.asset, amount, 0)
        elif row.kind is MovementKind.hold_placed:
            add(row.source, row.asset, -amount, amount)
        elif row.kind is MovementKind.hold_posted:
            held = _held_amount(movements, row.hold_id)
            add(row.source, row.asset, held - amount, -held)
            add(row.target, row.asset, amount, 0)
        else:  # voided or expired: the hold returns whole
            add(row.source, row.asset, amount, -amount)
    return balances


def _held_amount(movements: list[Movement], hold_id: bytes) -> int:
    (placed,) = [
        row
        for row in movements
        if row.ok and row.kind is MovementKind.hold_placed and row.hold_id == hold_id
    ]
    return placed.amount


def _scenario() -> MovementChain:
    chain = MovementChain()
    chain.fund()
    sandbox = chain.chain
    paid = sandbox.transfer("sokha@aclb", "dara@wing", Asset.KHR, 40_000, memo=PERSONAL_MEMO)
    too_much = sandbox.transfer("dara@wing", "vanna@abaa", Asset.USD, 200_000)
    place = [
        chain.hold(b"a" * 16, "sokha@aclb", "dara@wing", 10_000, 5 * MINUTE_MS),
        chain.hold(b"b" * 16, "sokha@aclb", "dara@wing", 20_000, 5 * MINUTE_MS),
    ]
    place_c = chain.hold(b"c" * 16, "sokha@aclb", "vanna@abaa", 30_000, 2 * MINUTE_MS)
    codes = chain.commit(
        [
            sandbox.transaction("sokha@aclb", [paid]),
            sandbox.transaction("dara@wing", [too_much]),
            sandbox.transaction("sokha@aclb", place),
            sandbox.transaction("sokha@aclb", [place_c]),
        ]
    )
    assert codes == [ResultCode.ok, ResultCode.insufficient_funds, ResultCode.ok, ResultCode.ok]
    post_a = PostHold(hold_id=b"a" * 16, amount=7_000)
    codes = chain.commit(
        [
            sandbox.transaction("dara@wing", [post_a]),
            sandbox.transaction("dara@wing", [VoidHold(hold_id=b"b" * 16)]),
            sandbox.transaction("dara@wing", [post_a]),  # again: already posted, left out
            sandbox.transaction("vanna@abaa", [PostHold(hold_id=b"c" * 16, amount=30_001)]),
        ]
    )
    assert codes == [
        ResultCode.ok,
        ResultCode.ok,
        ResultCode.hold_already_posted,
        ResultCode.post_amount_exceeds_hold,
    ]
    chain.commit([], advance_ms=3 * MINUTE_MS)  # hold c expires in this block's sweep
    # Placed and posted in one block: the hold never outlives it.
    at_once = chain.hold(b"d" * 16, "sokha@aclb", "vanna@abaa", 5_000, MINUTE_MS)
    post_d = PostHold(hold_id=b"d" * 16, amount=5_000)
    codes = chain.commit(
        [
            sandbox.transaction("sokha@aclb", [at_once]),
            sandbox.transaction("vanna@abaa", [post_d]),
        ]
    )
    assert codes == [ResultCode.ok, ResultCode.ok]
    redeem = Redeem(account="settlement@wing", asset=Asset.USD, amount=5_00, reserve_ref="rd-1")
    chain.ok("nbc", redeem)
    return chain


def test_movements_account_for_every_balance_the_ledger_holds() -> None:
    chain = _scenario()
    replayed = _replayed_balances(chain.movements)
    assert replayed, "the scenario moved money"
    for (account_id, asset), (available, held) in replayed.items():
        account = chain.chain.account(account_id)
        assert account is not None, account_id
        assert account.balances[asset.index] == available, (account_id, asset)
        assert account.held[asset.index] == held, (account_id, asset)
    assert chain.holds == {}, "every hold ended"


def test_rows_are_unique_ordered_and_typed() -> None:
    chain = _scenario()
    keys = [(row.height, row.tx_index, row.command_index) for row in chain.movements]
    assert len(set(keys)) == len(keys)
    assert keys == sorted(keys)
    kinds = Counter(row.kind for row in chain.movements)
    assert set(kinds) == set(MovementKind)
    issue = next(row for row in chain.movements if row.kind is MovementKind.issue)
    assert issue.source == "treasury@nbc" and issue.source_participant == "nbc"
    assert issue.target == "settlement@aclb" and issue.reference == "reserve-aclb-KHR"
    redeem = next(row for row in chain.movements if row.kind is MovementKind.redeem)
    assert (redeem.source, redeem.target, redeem.amount) == ("settlement@wing", "treasury@nbc", 500)


def test_a_failed_transaction_shows_with_its_code_and_moves_nothing() -> None:
    chain = _scenario()
    failed = [row for row in chain.movements if not row.ok]
    assert [(row.kind, row.result, row.amount) for row in failed] == [
        (MovementKind.transfer, "insufficient_funds", 200_000),
        (MovementKind.hold_posted, "post_amount_exceeds_hold", 30_001),
    ]
    assert not any(row.moves_money for row in failed)
    assert failed[0].source_participant == "wing" and failed[0].target_participant == "abaa"


def test_holds_are_followed_across_blocks() -> None:
    chain = _scenario()
    rows = {(row.kind, row.hold_id[:1]): row for row in chain.movements if row.ok and row.hold_id}
    assert rows[(MovementKind.hold_posted, b"a")].amount == 7_000
    assert rows[(MovementKind.hold_posted, b"a")].reference == "ref-61616161"
    assert rows[(MovementKind.hold_voided, b"b")].amount == 20_000
    expired = rows[(MovementKind.hold_expired, b"c")]
    assert (expired.tx_index, expired.tx_hash, expired.amount) == (SWEEP_TX_INDEX, b"", 30_000)
    assert expired.target == "vanna@abaa"
    assert rows[(MovementKind.hold_posted, b"d")].moves_money
    assert not rows[(MovementKind.hold_placed, b"a")].moves_money


def test_no_memo_reaches_a_movement() -> None:
    chain = _scenario()
    encoded = msgspec.json.encode(chain.movements)
    assert PERSONAL_MEMO.encode() not in encoded and b"Sokha" not in encoded
    assert "memo" not in Movement.__struct_fields__


def test_the_same_block_and_holds_give_the_same_rows() -> None:
    chain = MovementChain()
    chain.fund()
    chain.ok("sokha@aclb", chain.hold(b"e" * 16, "sokha@aclb", "dara@wing", 1_000, MINUTE_MS))
    pending = dict(chain.holds)
    chain.ok("dara@wing", PostHold(hold_id=b"e" * 16, amount=1_000))
    items = ledger_items(chain.chain.blocks[-1], chain.results[-1])
    header = chain.chain.blocks[-1].header
    first = block_movements(header, items, pending, central_bank="nbc")
    again = block_movements(header, items, pending, central_bank="nbc")
    assert first == again
    assert first.movements == (chain.movements[-1],)
    assert first.movements[0].kind is MovementKind.hold_posted
    assert first.holds_finished == (b"e" * 16,) and first.holds_placed == ()
    assert pending == chain.holds | {b"e" * 16: pending[b"e" * 16]}, "the input is not changed"


def test_an_ok_post_of_a_hold_not_passed_in_is_refused() -> None:
    chain = MovementChain()
    chain.fund()
    chain.ok("sokha@aclb", chain.hold(b"f" * 16, "sokha@aclb", "dara@wing", 1_000, MINUTE_MS))
    chain.holds.clear()  # a caller that forgot the hold
    with pytest.raises(LocalError, match="not passed in"):
        chain.ok("dara@wing", PostHold(hold_id=b"f" * 16, amount=1_000))


def test_a_stream_item_is_a_block_item() -> None:
    chain = MovementChain()
    chain.fund()
    block = chain.chain.blocks[-1]
    ledger = ledger_items(block, chain.results[-1])
    streamed = [
        StreamItem(block.header.height, item.index, block.header, item.tx_hash, item.transaction,
                   item.result)
        for item in ledger
    ]  # fmt: skip
    from_stream = block_movements(block.header, streamed, {}, central_bank="nbc")
    assert from_stream == block_movements(block.header, ledger, {}, central_bank="nbc")
    assert from_stream.movements == tuple(chain.movements[-2:])
    assert hold_ids_named(streamed) == frozenset()


def test_pending_hold_is_what_the_store_keeps() -> None:
    hold = PendingHold(
        hold_id=b"g" * 16, source="a@aclb", target="b@wing", asset=Asset.KHR, amount=1,
        expires_ms=1, reference="",
    )  # fmt: skip
    assert msgspec.json.decode(msgspec.json.encode(hold), type=PendingHold) == hold


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_traffic_with_holds_replays_to_the_ledger(seed: int) -> None:
    """Random payments, holds posted, voided, left to expire and refused, over many blocks:
    the movements still account for every balance."""
    rng = random.Random(seed)
    chain = MovementChain()
    chain.fund()
    sandbox = chain.chain
    customers = ["sokha@aclb", "dara@wing", "vanna@abaa"]
    placed: list[tuple[bytes, str]] = []  # (hold id, poster)
    for _ in range(40):
        transactions = []
        for _payment in range(rng.randint(1, 4)):
            source, target = rng.sample(customers, 2)
            amount = rng.choice([rng.randint(1, 50_000), 10**9])  # now and then too much
            choice = rng.random()
            if choice < 0.4:
                command: object = sandbox.transfer(source, target, Asset.KHR, amount)
            elif choice < 0.7 or not placed:
                hold_id = rng.randbytes(16)
                lifetime = rng.choice([MINUTE_MS, 3 * MINUTE_MS])
                command = chain.hold(hold_id, source, target, amount, lifetime)
                placed.append((hold_id, target))
            else:
                hold_id, source = placed.pop(rng.randrange(len(placed)))
                if rng.random() < 0.5:
                    command = PostHold(hold_id=hold_id, amount=rng.randint(1, 60_000))
                else:
                    command = VoidHold(hold_id=hold_id)
            transactions.append(sandbox.transaction(source, [command]))  # type: ignore[list-item]
        chain.commit(transactions, advance_ms=rng.choice([1_000, 30_000, 2 * MINUTE_MS]))
    codes = Counter(row.result for row in chain.movements)
    assert codes["ok"] > 50 and len(codes) > 2, codes  # refusals of several kinds happened
    kinds = Counter(row.kind for row in chain.movements if row.ok)
    assert set(kinds) == set(MovementKind) - {MovementKind.redeem}, kinds
    for (account_id, asset), (available, held) in _replayed_balances(chain.movements).items():
        account = chain.chain.account(account_id)
        assert account is not None
        assert (account.balances[asset.index], account.held[asset.index]) == (available, held)
    pending = {row.hold_id for row in chain.movements if row.kind is MovementKind.hold_placed}
    assert set(chain.holds) <= pending


def test_a_hold_expires_in_the_first_block_past_its_expiry_not_at_it() -> None:
    chain = MovementChain()
    chain.fund()
    hold = chain.hold(b"x" * 16, "sokha@aclb", "dara@wing", 1_000, MINUTE_MS)
    chain.ok("sokha@aclb", hold)
    chain.commit([], advance_ms=MINUTE_MS)
    assert chain.chain.time_ms == hold.expires_ms
    assert chain.movements[-1].kind is MovementKind.hold_placed and b"x" * 16 in chain.holds
    at_expiry = chain.chain.blocks[-1]  # derived again with every pending hold passed in
    items = ledger_items(at_expiry, chain.results[-1])
    again = block_movements(at_expiry.header, items, chain.holds, central_bank="nbc")
    assert again.movements == () and again.holds_finished == ()
    chain.commit([], advance_ms=1)
    expired = chain.movements[-1]
    assert expired.kind is MovementKind.hold_expired and chain.holds == {}
    sokha = chain.chain.account("sokha@aclb")
    assert sokha is not None and sokha.held == (0, 0)
