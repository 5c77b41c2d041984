"""`StateView.changes`, `StateView.account_deltas` and `DecodedRecords.records`, compiled
(`_lane.c`) and in Python, give the same answers: the same write set and records (both refusing
a record of the wrong type for its key), the same conservation deltas and negative account
(beyond 64 bits too), and the same records read, kept and evicted."""

from __future__ import annotations

import random

import pytest

from bakong.ledger import state as state_module
from bakong.ledger.records import (
    Account,
    AccountKind,
    AccountStatus,
    Head,
    KycTier,
    SeenTransaction,
)
from bakong.ledger.state import (
    HEAD_KEY,
    DecodedRecords,
    MemoryStore,
    StateView,
    account_key,
    seen_key,
)
from bakong.wire.codec import encode

needs_compiled = pytest.mark.skipif(
    state_module._compiled_changes is None, reason="the compiled lane is not built"
)


def _account(name: str, balance: int) -> Account:
    return Account(
        account_id=name,
        kind=AccountKind.personal,
        tier=KycTier.full,
        status=AccountStatus.active,
        signatories=(bytes(32),),
        quorum=1,
        balances=(balance, 0),
        held=(0, 0),
        holds_pending=0,
        day=0,
        outgoing=(0, 0),
    )


def _view(seed: int) -> StateView:
    """A block's view with account writes, deletions, shared replay entries and the head."""
    rng = random.Random(seed)
    names = [f"user{i}@aclb" for i in range(300)]
    store = MemoryStore({account_key(name): encode(_account(name, 10)) for name in names})
    view = StateView(store)
    shared = [SeenTransaction(height=5, code=code) for code in (0, 4, 32)]
    for name in rng.sample(names, 200):
        key = account_key(name)
        view.read(key)
        if rng.random() < 0.1:
            view.write(key, None)
            view.commit_transaction()
        else:
            view.put(key, _account(name, rng.randrange(10**12)))
    for _ in range(400):  # more result codes than the compiled memo's 64 slots
        code = rng.choice((*shared, SeenTransaction(height=5, code=rng.randrange(100))))
        view.write(seen_key(rng.randrange(2**40), rng.randbytes(32)), code)
    head = Head(height=5, time_ms=1, seen_prune_height=1, hold_expiry_minute=0, holds_pending=0)
    view.write(HEAD_KEY, head)
    view.commit_transaction()
    return view


@needs_compiled
@pytest.mark.parametrize("seed", range(4))
def test_compiled_and_python_changes_agree(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = _view(seed).changes()
    monkeypatch.setattr(state_module, "_compiled_changes", None)
    python = _view(seed).changes()
    assert compiled == python
    write_set, written = compiled
    assert [key for key, _ in write_set] == sorted(key for key, _ in written)
    assert any(value is None for _, value in write_set)


@pytest.mark.parametrize("compiled", [pytest.param(True, marks=needs_compiled), False])
def test_a_record_of_the_wrong_type_is_refused(
    compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not compiled:
        monkeypatch.setattr(state_module, "_compiled_changes", None)
    view = StateView(MemoryStore())
    view.write(account_key("user@aclb"), SeenTransaction(height=1, code=0))
    view.commit_transaction()
    with pytest.raises(AssertionError):
        view.changes()


@needs_compiled
@pytest.mark.parametrize("seed", range(4))
def test_compiled_and_python_account_deltas_agree(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = _view(seed).account_deltas()
    monkeypatch.setattr(state_module, "_compiled_deltas", None)
    python = _view(seed).account_deltas()
    assert compiled == python
    assert compiled[2] is None


@pytest.mark.parametrize("compiled", [pytest.param(True, marks=needs_compiled), False])
def test_account_deltas_name_a_negative_account_and_sum_beyond_64_bits(
    compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not compiled:
        monkeypatch.setattr(state_module, "_compiled_deltas", None)
    names = ["a@aclb", "b@aclb", "c@aclb"]
    store = MemoryStore({account_key(name): encode(_account(name, 0)) for name in names})
    view = StateView(store)
    for name in names:
        view.read(account_key(name))
    view.put(account_key("a@aclb"), _account("a@aclb", 2**63 - 1))
    view.put(account_key("b@aclb"), _account("b@aclb", 2**63 - 1))
    assert view.account_deltas() == (2**64 - 2, 0, None)
    negative = _account("c@aclb", -3)
    view.put(account_key("c@aclb"), negative)
    assert view.account_deltas() == (2**64 - 5, 0, negative)
    view.put(account_key("c@aclb"), _account("c@aclb", 2**64))  # beyond 64 bits
    assert view.account_deltas() == (2**65 - 2, 0, None)


@needs_compiled
@pytest.mark.parametrize("seed", range(4))
def test_compiled_and_python_decoded_records_agree(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    stored = {account_key(f"user{i}@aclb"): encode(_account(f"user{i}@aclb", i)) for i in range(50)}
    for i in range(9):
        stored[seen_key(i, bytes([i]) * 32)] = encode(SeenTransaction(height=1, code=i))
    reads = [
        rng.sample(sorted(stored) + [account_key("ghost@aclb"), seen_key(0, bytes(32))], 20)
        for _ in range(30)
    ]

    def run() -> tuple[list[list[object]], list[bytes]]:
        decoded = DecodedRecords(entries_max=16)  # small: evictions happen
        answers = [decoded.records(keys, stored.get) for keys in reads]
        answers.append([decoded.record(account_key("user3@aclb"), stored.get)])
        return answers, list(decoded._records)

    compiled = run()
    monkeypatch.setattr(state_module, "_compiled_records", None)
    python = run()
    assert compiled == python
    assert any(answer is None for answers in compiled[0] for answer in answers)
    assert not any(key[:1] == b"s" for key in compiled[1])  # replay entries are never kept


@needs_compiled
def test_both_name_the_same_negative_account_of_several(monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"user{i}@aclb" for i in range(40)]
    view = StateView(MemoryStore({account_key(name): encode(_account(name, 0)) for name in names}))
    for name in names:
        view.read(account_key(name))
        view.put(account_key(name), _account(name, -1))
    compiled = view.account_deltas()
    monkeypatch.setattr(state_module, "_compiled_deltas", None)
    assert view.account_deltas()[2] is compiled[2]
