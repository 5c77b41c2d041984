"""`StateView.changes`, compiled (`_lane.c`) and in Python, gives the same write set and
records, and both refuse a record of the wrong type for its key."""

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
from bakong.ledger.state import HEAD_KEY, MemoryStore, StateView, account_key, seen_key
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
        view.write(seen_key(rng.randbytes(32)), code)
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
