"""The permission matrix, walked through real execution: every command x every role.

Each case builds a fresh sandbox chain where `sokha@aclb` is the subject of the command, then
submits the command from each kind of creator and checks that it is refused with
`permission_denied` exactly when the expected table (written here independently of
`bakong.ledger.permissions`) says the creator may not sign it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bakong.ledger import permissions
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
from bakong.ledger.records import AccountStatus, KycTier, ParticipantStatus
from bakong.ledger.result import ResultCode
from bakong.sandbox import Sandbox, sandbox_key

CREATORS = {
    "nbc": permissions.Role.central_bank,
    "aclb": permissions.Role.own_participant,
    "wing": permissions.Role.other_participant,
    "sokha@aclb": permissions.Role.subject_account,
    "dara@wing": permissions.Role.other_account,
}
HOLD_ID = b"h" * 16
ALIAS = b"a" * 32
NEW_KEY = sandbox_key("new-key").public_key


def _key(name: str) -> bytes:
    return sandbox_key(name).public_key


SAMPLES: dict[type[Command], tuple[Callable[[], Command], set[str]]] = {
    RegisterParticipant: (
        lambda: RegisterParticipant(
            code="newb", name="New Bank", admin_keys=(NEW_KEY,), admin_quorum=1, gateway_keys=()
        ),
        {"nbc"},
    ),
    UpdateParticipant: (
        lambda: UpdateParticipant(
            code="wing",
            name="Wing",
            status=ParticipantStatus.active,
            admin_keys=(_key("wing/admin"),),
            admin_quorum=1,
            gateway_keys=(),
        ),
        {"nbc"},
    ),
    AddValidator: (lambda: AddValidator(name="v2", public_key=NEW_KEY, power=1), {"nbc"}),
    RemoveValidator: (lambda: RemoveValidator(public_key=_key("validator-1")), {"nbc"}),
    SetLimits: (lambda: SetLimits(policy=DEFAULT_POLICY), {"nbc"}),
    Issue: (
        lambda: Issue(account="settlement@aclb", asset=Asset.KHR, amount=5, reserve_ref="r"),
        {"nbc"},
    ),
    Redeem: (
        lambda: Redeem(account="settlement@aclb", asset=Asset.KHR, amount=5, reserve_ref="r"),
        {"nbc"},
    ),
    CreateAccount: (lambda: Sandbox.open_account("new1@aclb"), {"aclb"}),
    SetKycTier: (lambda: SetKycTier(account="sokha@aclb", tier=KycTier.partial), {"aclb"}),
    SetAccountStatus: (
        lambda: SetAccountStatus(account="sokha@aclb", status=AccountStatus.frozen),
        {"aclb", "nbc"},
    ),
    ReplaceSignatories: (
        lambda: ReplaceSignatories(account="sokha@aclb", signatories=(NEW_KEY,), quorum=1),
        {"aclb"},
    ),
    SetQuorum: (lambda: SetQuorum(account="sokha@aclb", quorum=1), {"sokha@aclb"}),
    AddSignatory: (
        lambda: AddSignatory(account="sokha@aclb", public_key=_key("another")),
        {"sokha@aclb"},
    ),
    RemoveSignatory: (
        lambda: RemoveSignatory(account="sokha@aclb", public_key=NEW_KEY),
        {"sokha@aclb"},
    ),
    Transfer: (
        lambda: Sandbox.transfer("sokha@aclb", "dara@wing", Asset.KHR, 10),
        {"sokha@aclb"},
    ),
    PlaceHold: (lambda: _hold(b"n" * 16), {"sokha@aclb"}),
    PostHold: (lambda: PostHold(hold_id=HOLD_ID, amount=5), {"sokha@aclb"}),
    VoidHold: (lambda: VoidHold(hold_id=HOLD_ID), {"sokha@aclb"}),
    RegisterAlias: (lambda: RegisterAlias(alias=b"b" * 32, account="sokha@aclb"), {"aclb"}),
    RemoveAlias: (lambda: RemoveAlias(alias=ALIAS), {"aclb"}),
    SetParticipantEndpoint: (
        lambda: SetParticipantEndpoint(code="wing", gateway_url="https://gateway.wing.example"),
        {"nbc"},
    ),
}


def _hold(hold_id: bytes) -> PlaceHold:
    return PlaceHold(
        hold_id=hold_id,
        source="sokha@aclb",
        target="dara@wing",
        poster="sokha@aclb",
        asset=Asset.KHR,
        amount=100,
        expires_ms=Sandbox().time_ms + 3_600_000,
        memo="",
        reference="",
    )


def _prepared_chain() -> Sandbox:
    chain = Sandbox()
    funding = chain.issue("aclb", Asset.KHR, 1_000_000, "reserve-1")
    chain.commit([chain.transaction("nbc", [funding])])
    opened = [chain.open_account("sokha@aclb"), RegisterAlias(alias=ALIAS, account="sokha@aclb")]
    chain.commit(
        [
            chain.transaction("aclb", opened),
            chain.transaction("wing", [chain.open_account("dara@wing")]),
            chain.transaction(
                "settlement@aclb",
                [chain.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 10_000)],
            ),
        ]
    )
    hold = _hold(HOLD_ID)
    chain.commit(
        [
            chain.transaction("sokha@aclb", [hold]),
            chain.transaction(
                "sokha@aclb", [AddSignatory(account="sokha@aclb", public_key=NEW_KEY)]
            ),
        ]
    )
    assert chain.account("sokha@aclb") is not None
    return chain


def test_every_command_has_a_sample() -> None:
    assert set(SAMPLES) == set(COMMAND_TYPES)
    assert set(permissions.PERMISSIONS) == set(COMMAND_TYPES)


@pytest.mark.parametrize("command_type", COMMAND_TYPES, ids=lambda t: t.__name__)
@pytest.mark.parametrize("creator", sorted(CREATORS))
def test_permission_verdict(command_type: type[Command], creator: str) -> None:
    make, allowed = SAMPLES[command_type]
    chain = _prepared_chain()
    outcome = chain.commit([chain.transaction(creator, [make()])])
    code = ResultCode(outcome.results[0].code)
    if creator in allowed:
        assert code is not ResultCode.permission_denied
        assert code is ResultCode.ok or command_type in (RemoveValidator,), code
    else:
        assert code is ResultCode.permission_denied


@pytest.mark.parametrize("command_type", COMMAND_TYPES, ids=lambda t: t.__name__)
def test_matrix_data_matches_the_table(command_type: type[Command]) -> None:
    _, allowed = SAMPLES[command_type]
    allowed_roles = {CREATORS[creator] for creator in allowed}
    for role in permissions.Role:
        assert permissions.is_permitted(command_type, role) == (role in allowed_roles), role
