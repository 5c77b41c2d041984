"""The central bank's chain-wide commands: participants, validators and the limits policy.

Rules:
- `register_participant` adds a participant and its `settlement@code` account, whose
  signatories are the participant's admin keys. At most `participants_max` participants.
- `update_participant` replaces name, status and keys; the central bank cannot be suspended
  (`central_bank_cannot_be_suspended`) nor made send-only or receive-only
  (`central_bank_cannot_be_restricted`): it issues, redeems and pays fees both ways. The
  participant's settlement account follows its admin keys.
- Validator changes edit the *next* set (the one for height + 2); a set is never empty and
  never exceeds `validators_max`. `add_validator` of a known key changes its power.
- `set_limits` replaces the policy; caps must name existing participants.
- `set_participant_endpoint` publishes a participant's gateway URL in its own record
  (`e/<code>`), for gateways to find each other; rungs after `permission_denied`:
  `participant_not_found`, then `gateway_url_invalid` (`is_gateway_url`). An empty URL
  withdraws it. A suspended participant may keep its URL: its gateway cannot authenticate to
  the core, and other gateways stop trusting its keys once they read the suspension.
"""

from __future__ import annotations

from msgspec.structs import replace

from bakong import limits
from bakong.ledger.accounts import check_signatories, new_account
from bakong.ledger.commands import (
    AddValidator,
    RegisterParticipant,
    RemoveValidator,
    SetLimits,
    SetParticipantEndpoint,
    UpdateParticipant,
)
from bakong.ledger.context import Context, Creator
from bakong.ledger.identifiers import is_gateway_url, is_participant_code, settlement_account
from bakong.ledger.money import permitted
from bakong.ledger.policy import policy_is_valid
from bakong.ledger.records import (
    AccountKind,
    KycTier,
    Participant,
    ParticipantEndpoint,
    ParticipantIndex,
    ParticipantStatus,
    ValidatorSchedule,
)
from bakong.ledger.result import ResultCode
from bakong.ledger.state import (
    PARTICIPANTS_KEY,
    POLICY_KEY,
    VALIDATORS_KEY,
    StateView,
    account_key,
    endpoint_key,
    participant_key,
)
from bakong.ledger.validators import Validator

__all__ = [
    "add_validator",
    "participant_codes",
    "register_participant",
    "remove_validator",
    "set_limits",
    "set_participant_endpoint",
    "update_participant",
]


def participant_codes(view: StateView) -> tuple[str, ...]:
    index: ParticipantIndex | None = view.read(PARTICIPANTS_KEY)
    return index.codes if index is not None else ()


def _check_keys(
    admin_keys: tuple[bytes, ...], quorum: int, gateway: tuple[bytes, ...]
) -> ResultCode:
    code = check_signatories(admin_keys, quorum)
    if code is ResultCode.ok and len(set(gateway)) != len(gateway):
        return ResultCode.signatories_duplicate
    return code


def register_participant(
    context: Context, command: RegisterParticipant, creator: Creator
) -> ResultCode:
    if not permitted(context, creator, RegisterParticipant, None):
        return ResultCode.permission_denied
    if not is_participant_code(command.code):
        return ResultCode.participant_code_invalid
    if context.participant(command.code) is not None:
        return ResultCode.participant_exists
    codes = participant_codes(context.view)
    if len(codes) >= limits.participants_max:
        return ResultCode.participants_limit_reached
    code = _check_keys(command.admin_keys, command.admin_quorum, command.gateway_keys)
    if code is not ResultCode.ok:
        return code
    participant = Participant(
        code=command.code,
        name=command.name,
        status=ParticipantStatus.active,
        admin_keys=tuple(sorted(command.admin_keys)),
        admin_quorum=command.admin_quorum,
        gateway_keys=tuple(sorted(command.gateway_keys)),
    )
    context.view.write(participant_key(command.code), participant)
    index = ParticipantIndex(codes=tuple(sorted((*codes, command.code))))
    context.view.write(PARTICIPANTS_KEY, index)
    settlement = new_account(
        settlement_account(command.code),
        AccountKind.settlement,
        KycTier.institutional,
        command.admin_keys,
        command.admin_quorum,
    )
    context.view.write(account_key(settlement.account_id), settlement)
    return ResultCode.ok


def update_participant(
    context: Context, command: UpdateParticipant, creator: Creator
) -> ResultCode:
    if not permitted(context, creator, UpdateParticipant, None):
        return ResultCode.permission_denied
    participant = context.participant(command.code)
    if participant is None:
        return ResultCode.participant_not_found
    if command.code == context.central_bank:
        if command.status is ParticipantStatus.suspended:
            return ResultCode.central_bank_cannot_be_suspended
        if command.status is not ParticipantStatus.active:
            return ResultCode.central_bank_cannot_be_restricted
    code = _check_keys(command.admin_keys, command.admin_quorum, command.gateway_keys)
    if code is not ResultCode.ok:
        return code
    updated = replace(
        participant,
        name=command.name,
        status=command.status,
        admin_keys=tuple(sorted(command.admin_keys)),
        admin_quorum=command.admin_quorum,
        gateway_keys=tuple(sorted(command.gateway_keys)),
    )
    context.view.write(participant_key(command.code), updated)
    context.participants_changed()
    settlement = context.account(settlement_account(command.code))
    if settlement is not None:
        rekeyed = replace(settlement, signatories=updated.admin_keys, quorum=updated.admin_quorum)
        context.view.write(account_key(settlement.account_id), rekeyed)
    return ResultCode.ok


def _schedule(context: Context) -> ValidatorSchedule:
    schedule: ValidatorSchedule = context.view.read(VALIDATORS_KEY)
    assert schedule is not None, "genesis writes the validator schedule"
    return schedule


def add_validator(context: Context, command: AddValidator, creator: Creator) -> ResultCode:
    if not permitted(context, creator, AddValidator, None):
        return ResultCode.permission_denied
    if not command.name or not command.name.isprintable():
        return ResultCode.validator_name_invalid
    if not 0 < command.power <= limits.validator_power_max:
        return ResultCode.validator_power_invalid
    schedule = _schedule(context)
    others = [v for v in schedule.next if v.public_key != command.public_key]
    if len(others) == len(schedule.next) and len(others) >= limits.validators_max:
        return ResultCode.validators_limit_reached
    added = Validator(name=command.name, public_key=command.public_key, power=command.power)
    validators = tuple(sorted((*others, added), key=lambda v: v.public_key))
    context.view.write(VALIDATORS_KEY, replace(schedule, next=validators))
    return ResultCode.ok


def remove_validator(context: Context, command: RemoveValidator, creator: Creator) -> ResultCode:
    if not permitted(context, creator, RemoveValidator, None):
        return ResultCode.permission_denied
    schedule = _schedule(context)
    validators = tuple(v for v in schedule.next if v.public_key != command.public_key)
    if len(validators) == len(schedule.next):
        return ResultCode.validator_not_found
    if not validators:
        return ResultCode.validator_set_would_be_empty
    context.view.write(VALIDATORS_KEY, replace(schedule, next=validators))
    return ResultCode.ok


def set_limits(context: Context, command: SetLimits, creator: Creator) -> ResultCode:
    if not permitted(context, creator, SetLimits, None):
        return ResultCode.permission_denied
    if not policy_is_valid(command.policy, frozenset(participant_codes(context.view))):
        return ResultCode.limits_policy_invalid
    context.view.write(POLICY_KEY, command.policy)
    context.set_policy(command.policy)
    return ResultCode.ok


def set_participant_endpoint(
    context: Context, command: SetParticipantEndpoint, creator: Creator
) -> ResultCode:
    if not permitted(context, creator, SetParticipantEndpoint, None):
        return ResultCode.permission_denied
    if context.participant(command.code) is None:
        return ResultCode.participant_not_found
    if command.gateway_url and not is_gateway_url(command.gateway_url):
        return ResultCode.gateway_url_invalid
    key = endpoint_key(command.code)
    if command.gateway_url:
        context.view.write(key, ParticipantEndpoint(gateway_url=command.gateway_url))
    elif context.view.read(key) is not None:  # withdrawing: delete only what exists
        context.view.write(key, None)
    return ResultCode.ok
