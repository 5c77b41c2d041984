"""Which participants each command touches, and the ledger rung built on it (ladder rung 12).

The table of expected touches is written here independently of `bakong.ledger.touches`. The
rung is driven through real blocks on a sandbox chain: the multi-bank payment and the central
bank's multi-bank issue of issue 14 are refused with `participants_mixed`, change nothing, are
remembered (a replay is `duplicate_transaction`), and unmixed multi-command transactions,
the central bank's own accounts aside, still apply.
"""

from __future__ import annotations

import pytest

from bakong.ledger.assets import Asset
from bakong.ledger.commands import (
    COMMAND_TYPES,
    AddSignatory,
    AddValidator,
    Command,
    CreateAccount,
    Issue,
    PlaceHold,
    PostHold,
    Redeem,
    RegisterAlias,
    RegisterParticipant,
    RemoveAlias,
    RemoveSignatory,
    RemoveValidator,
    ReplaceSignatories,
    SetAccountStatus,
    SetKycTier,
    SetLimits,
    SetParticipantEndpoint,
    SetQuorum,
    Transfer,
    UpdateParticipant,
    VoidHold,
)
from bakong.ledger.policy import DEFAULT_POLICY
from bakong.ledger.records import AccountKind, AccountStatus, KycTier, ParticipantStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.touches import command_touches, first_mixed_command
from bakong.sandbox import Sandbox, sandbox_key

KEY = sandbox_key("some key").public_key
ALIAS = b"\x07" * 32
HOLD = b"\x01" * 16
KHR = Asset.KHR

# One sample of every command type and the participants it touches, by a central-bank creator.
_samples: list[tuple[Command, set[str]]] = [
    (RegisterParticipant("newb", "New Bank", (KEY,), 1, ()), {"newb"}),
    (UpdateParticipant("wing", "Wing", ParticipantStatus.active, (KEY,), 1, ()), {"wing"}),
    (AddValidator("validator-2", KEY, 1), set()),
    (RemoveValidator(KEY), set()),
    (SetLimits(DEFAULT_POLICY), set()),
    (Issue("settlement@aclb", KHR, 1, "ref"), {"aclb"}),
    (Redeem("settlement@wing", Asset.USD, 1, "ref"), {"wing"}),
    (CreateAccount("kim@abaa", AccountKind.personal, KycTier.basic, (KEY,), 1), {"abaa"}),
    (SetKycTier("kim@aclb", KycTier.full), {"aclb"}),
    (SetAccountStatus("kim@wing", AccountStatus.frozen), {"wing"}),
    (ReplaceSignatories("kim@abaa", (KEY,), 1), {"abaa"}),
    (SetQuorum("kim@aclb", 1), {"aclb"}),
    (AddSignatory("kim@wing", KEY), {"wing"}),
    (RemoveSignatory("kim@abaa", KEY), {"abaa"}),
    (Transfer("kim@aclb", "sok@wing", KHR, 1, "", "", ""), {"aclb", "wing"}),
    (
        PlaceHold(HOLD, "kim@aclb", "sok@wing", "shop@abaa", KHR, 1, 1, "", ""),
        {"aclb", "wing", "abaa"},
    ),
    (PostHold(HOLD, 1), {"aclb", "wing", "abaa"}),
    (VoidHold(HOLD), {"aclb", "wing", "abaa"}),
    (RegisterAlias(ALIAS, "kim@wing"), {"wing"}),
    (RemoveAlias(ALIAS), {"nbc"}),  # the creator's: only the alias's own bank may remove it
    (SetParticipantEndpoint("abaa", "https://gw.abaa.example"), {"abaa"}),
]


def _hold_parties(hold_id: bytes) -> tuple[str, ...]:
    return ("kim@aclb", "sok@wing", "shop@abaa") if hold_id == HOLD else ()


def test_the_samples_cover_every_command_type() -> None:
    assert sorted(type(c).__name__ for c, _ in _samples) == sorted(
        t.__name__ for t in COMMAND_TYPES
    )


@pytest.mark.parametrize(("command", "touched"), _samples, ids=lambda v: type(v).__name__)
def test_each_command_touches_the_participants_it_names(
    command: Command, touched: set[str]
) -> None:
    assert command_touches(command, "nbc", _hold_parties) == touched
    by_account = command_touches(command, "teller@mfi", _hold_parties)
    assert by_account == (touched - {"nbc"}) | (
        {"mfi"} if isinstance(command, RemoveAlias) else set()
    )


def test_strings_that_are_not_identifiers_touch_nobody() -> None:
    assert (
        command_touches(Transfer("Nope", "x@y", KHR, 1, "", "", ""), "nbc", _hold_parties) == set()
    )
    assert command_touches(PostHold(b"\x02" * 16, 1), "nbc", _hold_parties) == set()
    assert command_touches(RemoveAlias(ALIAS), "not a creator", _hold_parties) == set()


def test_the_first_command_that_differs_is_named_the_central_bank_aside() -> None:
    pay_wing = Transfer("kim@aclb", "sok@wing", KHR, 1, "", "", "")
    pay_abaa = Transfer("kim@aclb", "ly@abaa", KHR, 1, "", "", "")
    from_treasury = Transfer("treasury@nbc", "settlement@aclb", KHR, 1, "", "", "")
    issue = Issue("settlement@aclb", KHR, 1, "r")

    def first(*commands: Command) -> int:
        return first_mixed_command(commands, "nbc", "nbc", _hold_parties)

    assert first(pay_wing) == -1
    assert first(pay_wing, pay_wing, pay_abaa) == 2
    assert first(issue, from_treasury) == -1  # both touch aclb once nbc is left out
    assert first(issue, Issue("settlement@wing", KHR, 1, "r")) == 1
    assert first(SetLimits(DEFAULT_POLICY), issue) == 1  # chain-wide touches nobody
    assert first(SetLimits(DEFAULT_POLICY), AddValidator("v", KEY, 1)) == -1


# The rung, through real blocks.


@pytest.fixture
def chain() -> Sandbox:
    chain = Sandbox()
    chain.commit([chain.transaction("nbc", [chain.issue("aclb", KHR, 10**9, "r")])])
    opens = [
        chain.transaction("aclb", [chain.open_account("probe1@aclb")]),
        chain.transaction("wing", [chain.open_account("probew@wing")]),
        chain.transaction("abaa", [chain.open_account("probea@abaa")]),
    ]
    chain.commit(opens)
    fund = chain.transfer("settlement@aclb", "probe1@aclb", KHR, 1_000_000)
    chain.commit([chain.transaction("settlement@aclb", [fund])])
    return chain


def _balances(chain: Sandbox) -> list[int]:
    names = ("probe1@aclb", "probew@wing", "probea@abaa", "settlement@aclb", "settlement@wing")
    balances = []
    for name in names:
        account = chain.account(name)
        assert account is not None
        balances.append(account.balances[0])
    return balances


def test_a_payment_to_two_banks_in_one_transaction_is_refused_and_remembered(
    chain: Sandbox,
) -> None:
    before = _balances(chain)
    mixed = chain.transaction(
        "probe1@aclb",
        [
            chain.transfer("probe1@aclb", "probew@wing", KHR, 1_000),
            chain.transfer("probe1@aclb", "probea@abaa", KHR, 2_000),
        ],
    )
    (result,) = chain.commit([mixed]).results
    assert (ResultCode(result.code), result.command_index) == (ResultCode.participants_mixed, 1)
    assert _balances(chain) == before
    (replayed,) = chain.commit([mixed]).results
    assert replayed.code == ResultCode.duplicate_transaction


def test_the_rung_comes_after_the_signatures_and_before_any_command(chain: Sandbox) -> None:
    commands = [
        chain.transfer("probe1@aclb", "probew@wing", KHR, 10**12),  # would be insufficient
        chain.transfer("probe1@aclb", "probea@abaa", KHR, 1),
    ]
    forged = chain.transaction("probe1@aclb", commands, signers=["someone else"])
    (result,) = chain.commit([forged]).results
    assert result.code == ResultCode.signature_key_not_signatory
    (result,) = chain.commit([chain.transaction("probe1@aclb", commands)]).results
    assert result.code == ResultCode.participants_mixed


def test_the_central_bank_issues_to_one_bank_per_transaction(chain: Sandbox) -> None:
    before = _balances(chain)
    both = [chain.issue("aclb", KHR, 5, "r1"), chain.issue("wing", KHR, 5, "r2")]
    (result,) = chain.commit([chain.transaction("nbc", both)]).results
    assert (ResultCode(result.code), result.command_index) == (ResultCode.participants_mixed, 1)
    assert _balances(chain) == before
    each = [chain.transaction("nbc", [issue]) for issue in both]
    assert [r.code for r in chain.commit(each).results] == [ResultCode.ok, ResultCode.ok]


def test_unmixed_multi_command_transactions_apply(chain: Sandbox) -> None:
    two_payments = [
        chain.transfer("probe1@aclb", "probew@wing", KHR, 1_000),
        chain.transfer("probe1@aclb", "probew@wing", Asset.KHR, 2_000),
    ]
    open_and_alias = [
        chain.open_account("probe2@aclb"),
        RegisterAlias(alias=ALIAS, account="probe2@aclb"),
    ]
    # Two commands of the central bank on one bank: both touch aclb, so rung 12 passes and the
    # command's own rung decides.
    status_and_issue = [
        SetAccountStatus(account="probe1@aclb", status=AccountStatus.active),
        chain.issue("aclb", KHR, 5, "r3"),
    ]
    results = chain.commit(
        [
            chain.transaction("probe1@aclb", two_payments),
            chain.transaction("aclb", open_and_alias),
        ]
    ).results
    assert [ResultCode(r.code) for r in results] == [ResultCode.ok, ResultCode.ok]
    assert _balances(chain)[1] == 3_000
    (result,) = chain.commit([chain.transaction("nbc", status_and_issue)]).results
    assert ResultCode(result.code) is ResultCode.status_unchanged  # past rung 12


def test_a_post_touches_its_holds_parties(chain: Sandbox) -> None:
    hold = PlaceHold(
        HOLD, "probe1@aclb", "probew@wing", "probe1@aclb", KHR, 500, chain.time_ms + 60_000, "", ""
    )
    chain.commit([chain.transaction("probe1@aclb", [hold])])
    same_parties = [PostHold(HOLD, 100), chain.transfer("probe1@aclb", "probew@wing", KHR, 1)]
    internal = [PostHold(HOLD, 100), chain.transfer("probe1@aclb", "settlement@aclb", KHR, 1)]
    results = chain.commit(
        [
            chain.transaction("probe1@aclb", internal),
            chain.transaction("probe1@aclb", same_parties),
        ]
    ).results
    assert [ResultCode(r.code) for r in results] == [ResultCode.participants_mixed, ResultCode.ok]
