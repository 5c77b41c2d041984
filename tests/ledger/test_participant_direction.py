"""Send-only and receive-only participants (issue 19): a `send_only` participant's accounts
may pay and place holds but never be paid, a `receive_only` one's the reverse; the codes, their
rung (after `target_account_not_active`, before any debit), the holds placed before a change,
issue and redeem, the central bank, and the record's encoding. Every test runs on both paths:
the compiled transfer lane where it is built, and the general path alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bakong.ledger import block as block_module
from bakong.ledger.assets import Asset
from bakong.ledger.commands import (
    PlaceHold,
    PostHold,
    Redeem,
    SetAccountStatus,
    UpdateParticipant,
    VoidHold,
)
from bakong.ledger.records import AccountStatus, KycTier, Participant, ParticipantStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.state import participant_key
from bakong.ledger.transfer_lane import native_execute_transactions
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire.codec import decode_canonical, encode

NORMAL = "sokha@aclb"
SENDER = "dara@wing"  # wing is made send-only
RECEIVER = "bopha@abaa"  # abaa is made receive-only


@pytest.fixture(params=["lane", "general"])
def chain(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    if request.param == "general":
        monkeypatch.setattr(block_module, "native_execute_transactions", None)
    elif native_execute_transactions is None:
        pytest.skip("the compiled lane is not built (no C compiler)")
    chain = Sandbox()
    issues = [
        chain.transaction("nbc", [chain.issue(code, Asset.KHR, 10**10, f"r-{code}")])
        for code in ("aclb", "wing", "abaa")
    ]
    assert _codes(chain, issues) == [ResultCode.ok] * 3
    chain.commit(
        [
            chain.transaction(user.split("@")[1], [chain.open_account(user, tier=KycTier.full)])
            for user in (NORMAL, SENDER, RECEIVER)
        ]
    )
    fund = [
        chain.transaction(
            f"settlement@{user.split('@')[1]}",
            [chain.transfer(f"settlement@{user.split('@')[1]}", user, Asset.KHR, 1_000_000)],
        )
        for user in (NORMAL, SENDER, RECEIVER)
    ]
    assert _codes(chain, fund) == [ResultCode.ok] * 3
    assert _set_status(chain, "wing", ParticipantStatus.send_only) is ResultCode.ok
    assert _set_status(chain, "abaa", ParticipantStatus.receive_only) is ResultCode.ok
    yield chain


def _codes(chain: Sandbox, transactions: list) -> list[ResultCode]:  # type: ignore[type-arg]
    return [ResultCode(result.code) for result in chain.commit(transactions).results]


def _update(chain: Sandbox, code: str, status: ParticipantStatus) -> UpdateParticipant:
    participant = chain.store.record(participant_key(code))
    assert isinstance(participant, Participant)
    return UpdateParticipant(
        code=code,
        name=participant.name,
        status=status,
        admin_keys=participant.admin_keys,
        admin_quorum=participant.admin_quorum,
        gateway_keys=participant.gateway_keys,
    )


def _set_status(chain: Sandbox, code: str, status: ParticipantStatus) -> ResultCode:
    return _codes(chain, [chain.transaction("nbc", [_update(chain, code, status)])])[0]


def _pay(chain: Sandbox, source: str, target: str, amount: int = 1_000) -> ResultCode:
    transfer = chain.transfer(source, target, Asset.KHR, amount)
    return _codes(chain, [chain.transaction(source, [transfer])])[0]


def _hold(chain: Sandbox, hold_id: bytes, source: str, target: str) -> PlaceHold:
    return PlaceHold(
        hold_id=hold_id,
        source=source,
        target=target,
        poster=target,
        asset=Asset.KHR,
        amount=1_000,
        expires_ms=chain.time_ms + 120_000,
        memo="",
        reference="",
    )


def _place(chain: Sandbox, hold_id: bytes, source: str, target: str) -> ResultCode:
    return _codes(chain, [chain.transaction(source, [_hold(chain, hold_id, source, target)])])[0]


def _balance(chain: Sandbox, account_id: str) -> int:
    account = chain.account(account_id)
    assert account is not None
    return account.balances[0]


def test_a_send_only_participant_pays_but_is_never_paid(chain: Sandbox) -> None:
    assert _pay(chain, SENDER, NORMAL) is ResultCode.ok
    assert _pay(chain, NORMAL, SENDER) is ResultCode.target_participant_send_only
    assert _pay(chain, "settlement@aclb", "settlement@wing") is (
        ResultCode.target_participant_send_only
    )
    # Within its own domain too: no money comes into any of its accounts.
    assert _pay(chain, "settlement@wing", SENDER) is ResultCode.target_participant_send_only
    assert _balance(chain, SENDER) == 999_000 and _balance(chain, NORMAL) == 1_001_000


def test_a_receive_only_participant_is_paid_but_never_pays(chain: Sandbox) -> None:
    assert _pay(chain, NORMAL, RECEIVER) is ResultCode.ok
    assert _pay(chain, RECEIVER, NORMAL) is ResultCode.source_participant_receive_only
    assert _pay(chain, "settlement@abaa", RECEIVER) is ResultCode.source_participant_receive_only
    assert _balance(chain, RECEIVER) == 1_001_000


def test_holds_follow_the_same_direction(chain: Sandbox) -> None:
    assert _place(chain, b"a" * 16, NORMAL, SENDER) is ResultCode.target_participant_send_only
    assert _place(chain, b"b" * 16, RECEIVER, NORMAL) is ResultCode.source_participant_receive_only
    assert _place(chain, b"c" * 16, SENDER, NORMAL) is ResultCode.ok
    assert _place(chain, b"d" * 16, NORMAL, RECEIVER) is ResultCode.ok


def test_a_hold_placed_before_the_change_is_still_posted_or_voided(chain: Sandbox) -> None:
    """A post completes a transfer the ledger already accepted (its money already left the
    source): the status of the moment it is posted does not refuse it."""
    assert _place(chain, b"p" * 16, NORMAL, RECEIVER) is ResultCode.ok
    assert _place(chain, b"v" * 16, RECEIVER, NORMAL) is ResultCode.source_participant_receive_only
    assert _set_status(chain, "abaa", ParticipantStatus.active) is ResultCode.ok
    assert _place(chain, b"v" * 16, RECEIVER, NORMAL) is ResultCode.ok
    assert _set_status(chain, "abaa", ParticipantStatus.send_only) is ResultCode.ok
    post = PostHold(hold_id=b"p" * 16, amount=600)
    void = VoidHold(hold_id=b"v" * 16)
    assert _codes(chain, [chain.transaction(RECEIVER, [post])]) == [ResultCode.ok]
    assert _codes(chain, [chain.transaction(NORMAL, [void])]) == [ResultCode.ok]
    assert _balance(chain, RECEIVER) == 1_000_600  # posted toward a now send-only participant
    assert _pay(chain, NORMAL, RECEIVER) is ResultCode.target_participant_send_only


def test_the_direction_rungs_sit_after_the_account_rungs_and_before_any_debit(
    chain: Sandbox,
) -> None:
    # Before: a missing or frozen target is named first.
    assert _pay(chain, RECEIVER, "ghost@wing") is ResultCode.target_account_not_found
    freeze = chain.transaction(
        "nbc", [SetAccountStatus(account=SENDER, status=AccountStatus.frozen)]
    )
    assert _codes(chain, [freeze]) == [ResultCode.ok]
    assert _pay(chain, NORMAL, SENDER) is ResultCode.target_account_not_active
    assert _pay(chain, RECEIVER, SENDER) is ResultCode.target_account_not_active
    # Between them: the source's rung first.
    assert _pay(chain, RECEIVER, "settlement@wing") is ResultCode.source_participant_receive_only
    # After: insufficient funds and the daily limit are never reached.
    assert _pay(chain, NORMAL, "settlement@wing", 10**9) is ResultCode.target_participant_send_only
    assert _pay(chain, RECEIVER, NORMAL, 10**9) is ResultCode.source_participant_receive_only
    assert _pay(chain, NORMAL, RECEIVER, 10**9) is ResultCode.daily_limit_exceeded
    # And permission first of all: someone else's account as the source.
    stolen = chain.transfer(RECEIVER, NORMAL, Asset.KHR, 1)
    assert _codes(chain, [chain.transaction(NORMAL, [stolen])]) == [ResultCode.permission_denied]


def test_issue_and_redeem_ignore_direction(chain: Sandbox) -> None:
    """The central bank's liquidity operations are not payments: it can still issue to a
    send-only participant and redeem from a receive-only one."""
    issue = chain.issue("wing", Asset.KHR, 5_000, "r-more")
    redeem = Redeem(account="settlement@abaa", asset=Asset.KHR, amount=5_000, reserve_ref="out")
    operations = [chain.transaction("nbc", [issue]), chain.transaction("nbc", [redeem])]
    assert _codes(chain, operations) == [ResultCode.ok, ResultCode.ok]


def test_a_restricted_participant_still_acts_as_a_creator(chain: Sandbox) -> None:
    opened = chain.transaction("abaa", [chain.open_account("new@abaa")])
    assert _codes(chain, [opened]) == [ResultCode.ok]
    assert _pay(chain, NORMAL, "new@abaa") is ResultCode.ok


def test_the_central_bank_cannot_be_restricted(chain: Sandbox) -> None:
    for status in (ParticipantStatus.send_only, ParticipantStatus.receive_only):
        assert _set_status(chain, "nbc", status) is ResultCode.central_bank_cannot_be_restricted
    assert _set_status(chain, "nbc", ParticipantStatus.suspended) is (
        ResultCode.central_bank_cannot_be_suspended
    )
    assert _set_status(chain, "nbc", ParticipantStatus.active) is ResultCode.ok


def test_resuming_lifts_the_restriction(chain: Sandbox) -> None:
    assert _set_status(chain, "wing", ParticipantStatus.active) is ResultCode.ok
    assert _pay(chain, NORMAL, SENDER) is ResultCode.ok


def test_new_statuses_leave_the_encoding_of_existing_records_unchanged() -> None:
    """Statuses are encoded by value: an `active` participant's bytes are what they were."""
    key = sandbox_key("x/admin").public_key
    record = Participant("wing", "Wing", ParticipantStatus.active, (key,), 1, ())
    assert encode(record) == b"\x96\xa4wing\xa4Wing\xa6active\x91\xc4\x20" + key + b"\x01\x90"
    for status in ParticipantStatus:
        restricted = Participant("wing", "Wing", status, (key,), 1, ())
        assert decode_canonical(encode(restricted), Participant, bytes_max=1_024) == restricted
    assert [status.value for status in ParticipantStatus][:2] == ["active", "suspended"]
