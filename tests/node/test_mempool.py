"""The mempool: arrival order, bounds, and what `take` drops (committed, aged out)."""

from __future__ import annotations

from bakong.ledger.assets import Asset
from bakong.ledger.transaction import Transaction, transaction_hash
from bakong.limits import tx_past_ms_max
from bakong.node.mempool import Mempool
from bakong.sandbox import Sandbox


def _transactions(chain: Sandbox, count: int, step_ms: int) -> list[Transaction]:
    made = []
    for i in range(count):
        chain.time_ms += step_ms
        transfer = chain.transfer("settlement@aclb", "settlement@wing", Asset.KHR, i + 1)
        made.append(chain.transaction("settlement@aclb", [transfer]))
    return made


def test_take_keeps_arrival_order_and_drops_committed_and_expired() -> None:
    chain = Sandbox()
    hour = 3_600_000
    transactions = _transactions(chain, 6, hour)
    hashes = [transaction_hash(t.payload) for t in transactions]
    pool = Mempool(txs_max=10, bytes_max=10_000)
    for transaction, tx_hash in zip(transactions, hashes, strict=True):
        assert pool.add(tx_hash, transaction, 100)
    assert not pool.add(hashes[0], transactions[0], 100)  # a duplicate
    assert len(pool) == 6 and pool.bytes == 600

    # At a block time one replay window after the second transaction, the first two could
    # only be rejected as expired; the third is committed already.
    block_time = transactions[1].payload.created_ms + tx_past_ms_max + 1
    committed = lambda _, tx_hash: tx_hash == hashes[2]  # noqa: E731
    chosen, chosen_hashes = pool.take(2, committed, block_time - tx_past_ms_max)
    assert chosen == transactions[3:5] and chosen_hashes == hashes[3:5]
    assert [pool.expired(h) for h in hashes] == [True, True, False, False, False, False]
    assert len(pool) == 3 and pool.bytes == 300  # dropped ones leave; chosen ones stay
    pool.remove(chosen_hashes)
    assert len(pool) == 1 and hashes[5] in pool


def test_full_by_count_or_bytes() -> None:
    chain = Sandbox()
    transactions = _transactions(chain, 3, 1)
    pool = Mempool(txs_max=2, bytes_max=250)
    first, second, third = ((transaction_hash(t.payload), t) for t in transactions)
    assert pool.add(*first, 200)
    assert not pool.add(*second, 100)  # 300 bytes > 250
    assert pool.add(*second, 50)
    assert pool.full() and not pool.add(*third, 1)  # 2 transactions
