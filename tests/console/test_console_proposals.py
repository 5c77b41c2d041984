"""Maker/checker: an operator proposes, another staff member (a supervisor) approves, the console
signs as the central bank; on SQLite and PostgreSQL, against a real node API.

What must hold: an approved issue reaches the ledger once and the store's settlement balance
shows it; no one approves or rejects their own proposal (`own_proposal`), an auditor and an
operator cannot approve (`role_forbidden`), a decided proposal is not decided again
(`proposal_decided`); an approval retried, or resent at start-up, never issues twice; a freeze
and an unfreeze change the account on the ledger; inputs are refused with precise codes; and
every act is in the audit log, which refuses UPDATE and DELETE.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from bakong.console import audit_log, proposals, store
from bakong.console.home import ConsoleServices
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import Asset
from bakong.ledger.records import AccountStatus, Participant
from bakong.ledger.state import decode_value, participant_key
from tests.console.console_harness import (
    RunningConsole,
    console,
    console_engine,
    core,
    database_url,
    make_console_services,
    postgres_server,
)

__all__ = ["console", "console_engine", "core", "database_url", "postgres_server"]

T = TypeVar("T")
MILLION_USD = (Asset.USD, 100_000_000)  # a million dollars, in cents


async def _with_services(
    console: RunningConsole, work: Callable[[ConsoleServices], Awaitable[T]]
) -> T:
    """`work` on services of this event loop over the running console's store (a client's
    connections belong to the loop that opened them)."""
    own = make_console_services(console.services.engine, console.core)
    try:
        return await work(own)
    finally:
        await own.node.aclose()


def approve(console: RunningConsole, who: Any, number: int) -> proposals.Proposal:
    staff = console.staff[who] if isinstance(who, str) else who
    return asyncio.run(_with_services(console, lambda own: proposals.approve(own, staff, number)))


def resume(console: RunningConsole) -> None:
    asyncio.run(_with_services(console, proposals.resume_signed))


def _settlement_usd(console: RunningConsole, code: str) -> int:
    with console.services.engine.connect() as connection:
        value = connection.execute(
            sa.select(store.balances.c.available).where(
                store.balances.c.account_id == f"settlement@{code}",
                store.balances.c.asset == "USD",
            )
        ).scalar_one_or_none()
    return int(value or 0)


def _propose_issue(console: RunningConsole, reference: str = "reserve-2026-001") -> int:
    return proposals.propose(
        console.services.engine, console.staff["olga"], "issue", "settlement@aclb", reference,
        console.services.clock_ms(), MILLION_USD,
    )  # fmt: skip


def _code(error: pytest.ExceptionInfo[GatewayProblem]) -> str:
    return error.value.code


def test_an_approved_issue_reaches_the_ledger_once(
    console: RunningConsole,
) -> None:
    services = console.services
    number = _propose_issue(console)
    assert proposals.proposal(services.engine, number).state == "pending"
    assert _settlement_usd(console, "aclb") == 0
    done = approve(console, "sam", number)
    assert done.state == "committed" and done.result == "ok" and done.height is not None
    assert done.decided_by == "sam" and done.proposed_by == "olga"
    console.wait_for_height(done.height)
    assert _settlement_usd(console, "aclb") == 100_000_000
    ledger = console.core.sandbox.account("settlement@aclb")
    assert ledger is not None and ledger.balances[Asset.USD.index] == 100_000_000
    # Retried, and resent as at a start-up: the same bytes, never a second issue.
    with pytest.raises(GatewayProblem) as again:
        approve(console, "sara", number)
    assert _code(again) == "proposal_decided"
    resume(console)
    console.wait_for_height(console.core.height)
    assert _settlement_usd(console, "aclb") == 100_000_000
    actions = [e.action for e in audit_log.entries(services.engine, 50) if e.proposal_id == number]
    assert actions == ["committed", "approve", "propose"]


def test_a_signed_approval_sent_again_issues_once(
    console: RunningConsole,
) -> None:
    services = console.services
    number = _propose_issue(console)
    # The process stopped between storing the signed bytes and sending them.
    signed = proposals._sign(services, console.staff["sam"], number)
    assert signed is not None
    assert proposals.proposal(services.engine, number).state == "signed"
    resume(console)
    resume(console)
    retried = approve(console, "sam", number)
    console.wait_until(lambda: proposals.proposal(services.engine, number).state == "committed")
    console.wait_for_height(console.core.height)
    assert retried.state in ("signed", "committed")
    assert _settlement_usd(console, "wing") == 0
    assert _settlement_usd(console, "aclb") == 100_000_000
    issues = sum(
        1 for block in console.core.sandbox.blocks for tx in block.transactions
        if tx.payload.creator == "nbc"
    )  # fmt: skip
    assert issues == 1


def test_no_one_decides_beyond_their_role(console: RunningConsole) -> None:
    staff = console.staff
    number = _propose_issue(console)
    with pytest.raises(GatewayProblem) as operator:
        proposals._sign(console.services, staff["olga"], number)
    assert _code(operator) == "role_forbidden"  # an operator never approves
    with pytest.raises(GatewayProblem) as auditor:
        approve(console, "ada", number)
    assert _code(auditor) == "role_forbidden"
    with pytest.raises(GatewayProblem) as proposes:
        proposals.propose(
            console.services.engine, staff["ada"], "issue", "settlement@aclb", "r", 0, MILLION_USD
        )
    assert _code(proposes) == "role_forbidden"  # an auditor reads only
    assert proposals.proposal(console.services.engine, number).state == "pending"


def test_no_one_approves_their_own_proposal(console: RunningConsole) -> None:
    engine = console.services.engine
    sam = console.staff["sam"]
    number = proposals.propose(
        engine, sam, "issue", "settlement@aclb", "reserve-7", console.services.clock_ms(),
        MILLION_USD,
    )  # fmt: skip
    with pytest.raises(GatewayProblem) as approving:
        approve(console, "sam", number)
    assert _code(approving) == "own_proposal" and approving.value.http_status == 403
    with pytest.raises(GatewayProblem) as rejecting:
        proposals.reject(engine, sam, number, "no", 0)
    assert _code(rejecting) == "own_proposal"
    assert proposals.proposal(engine, number).state == "pending"
    assert approve(console, "sara", number).state == "committed"  # another supervisor may


def test_a_rejection_records_its_reason_and_moves_nothing(
    console: RunningConsole,
) -> None:
    services = console.services
    number = _propose_issue(console)
    proposals.reject(services.engine, console.staff["sam"], number, "no reserve entry", 1)
    found = proposals.proposal(services.engine, number)
    assert (found.state, found.note, found.decided_by) == ("rejected", "no reserve entry", "sam")
    with pytest.raises(GatewayProblem) as later:
        approve(console, "sara", number)
    assert _code(later) == "proposal_decided"
    assert console.core.sandbox.account("settlement@aclb").balances == (0, 0)  # type: ignore[union-attr]


def test_freeze_and_unfreeze_change_the_account(
    console: RunningConsole,
) -> None:
    services = console.services
    olga, sam = console.staff["olga"], console.staff["sam"]
    now = services.clock_ms()
    freeze = proposals.propose(
        services.engine, olga, "freeze", "settlement@wing", "fraud case 7", now
    )
    approve(console, sam, freeze)
    account = console.core.sandbox.account("settlement@wing")
    assert account is not None and account.status is AccountStatus.frozen
    unfreeze = proposals.propose(
        services.engine, olga, "unfreeze", "settlement@wing", "cleared", now
    )
    done = approve(console, sam, unfreeze)
    assert done.state == "committed"
    console.wait_for_height(console.core.height)
    with services.engine.connect() as connection:
        status = connection.execute(
            sa.select(store.accounts.c.status).where(
                store.accounts.c.account_id == "settlement@wing"
            )
        ).scalar_one()
    assert status == "active"


def _ledger_participant_status(console: RunningConsole, code: str) -> str:
    raw = console.core.sandbox.store.get(participant_key(code))
    assert raw is not None
    record = decode_value(participant_key(code), raw)
    assert isinstance(record, Participant)
    return record.status.value


def _stored_participant_status(console: RunningConsole, code: str) -> str:
    table = store.participants
    with console.services.engine.connect() as connection:
        return str(
            connection.execute(sa.select(table.c.status).where(table.c.code == code)).scalar_one()
        )


def test_pause_and_resume_a_participant_keep_its_keys(console: RunningConsole) -> None:
    olga, engine = console.staff["olga"], console.services.engine
    now = console.services.clock_ms()
    paused = proposals.propose(engine, olga, "pause", "wing", "audit finding 12", now)
    assert approve(console, "sam", paused).state == "committed"
    assert _ledger_participant_status(console, "wing") == "suspended"
    console.wait_for_height(console.core.height)
    assert _stored_participant_status(console, "wing") == "suspended"
    resumed = proposals.propose(engine, olga, "resume", "wing", "finding closed", now)
    assert approve(console, "sara", resumed).state == "committed"
    assert _ledger_participant_status(console, "wing") == "active"
    # Its keys were re-stated as they were: wing's gateway key still signs for wing.
    chain = console.core.sandbox
    height = console.commit("wing", chain.open_account("dara@wing"))
    console.wait_for_height(height)
    assert console.core.sandbox.account("dara@wing") is not None
    assert _stored_participant_status(console, "wing") == "active"


def test_a_command_the_ledger_refuses_is_failed(
    console: RunningConsole,
) -> None:
    services = console.services
    number = proposals.propose(
        services.engine, console.staff["olga"], "redeem", "settlement@aclb", "reserve-9",
        services.clock_ms(), (Asset.KHR, 5_000),
    )  # fmt: skip
    done = approve(console, "sam", number)
    assert done.state == "failed" and done.result == "insufficient_funds"


@pytest.mark.parametrize(
    ("kind", "account", "reference", "money", "code"),
    [
        ("mint", "settlement@aclb", "r", MILLION_USD, "kind_invalid"),
        ("issue", "not an account", "r", MILLION_USD, "account_invalid"),
        ("issue", "settlement@aclb", "", MILLION_USD, "reserve_ref_invalid"),
        ("issue", "settlement@aclb", "x" * 65, MILLION_USD, "reserve_ref_invalid"),
        ("issue", "settlement@aclb", "r", None, "amount_invalid"),
        ("freeze", "sokha@aclb", "  ", None, "reason_invalid"),
        ("freeze", "sokha@aclb", "bad\x00reason", None, "reason_invalid"),
        ("pause", "nbc", "r", None, "participant_invalid"),
        ("pause", "sokha@aclb", "r", None, "participant_invalid"),
    ],
)
def test_a_bad_proposal_is_refused_with_its_code(
    console: RunningConsole,
    kind: str,
    account: str,
    reference: str,
    money: tuple[Asset, int] | None,
    code: str,
) -> None:
    with pytest.raises(GatewayProblem) as refused:
        proposals.propose(
            console.services.engine,
            console.staff["olga"],
            kind,
            account,
            reference,
            0,
            money,
            central_bank="nbc",
        )
    assert _code(refused) == code


@pytest.mark.parametrize(
    ("asset", "text", "minor"),
    [(Asset.USD, "12.34", 1234), (Asset.USD, "1,000", 100_000), (Asset.USD, "0.5", 50),
     (Asset.KHR, "1500", 1500)],
)  # fmt: skip
def test_amounts_are_read_without_floats(asset: Asset, text: str, minor: int) -> None:
    assert proposals.parse_amount(asset, text) == minor


@pytest.mark.parametrize(
    ("asset", "text"),
    [(Asset.USD, "1.234"), (Asset.KHR, "1.5"), (Asset.USD, "0"), (Asset.USD, "-5"),
     (Asset.USD, "1e3"), (Asset.USD, ""), (Asset.KHR, "9" * 19)],
)  # fmt: skip
def test_a_bad_amount_is_refused(asset: Asset, text: str) -> None:
    with pytest.raises(GatewayProblem) as refused:
        proposals.parse_amount(asset, text)
    assert refused.value.code == "amount_invalid"


def test_the_audit_log_is_append_only(console: RunningConsole) -> None:
    _propose_issue(console)
    engine = console.services.engine
    for statement in (
        store.audit_log.update().values(detail="rewritten"),
        store.audit_log.delete(),
    ):
        with pytest.raises(sa.exc.DatabaseError), engine.begin() as connection:
            connection.execute(statement)
    assert [e.action for e in audit_log.entries(engine, 1)] == ["propose"]
