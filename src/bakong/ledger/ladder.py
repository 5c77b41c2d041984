"""The validation ladder: one flat sequence of checks in a fixed, documented order, so every
node reaches the same result code for the same transaction (design section 2).

Envelope rungs, for the transaction as a whole:

 1. `chain_id_mismatch`            the payload names another chain
 2. `created_in_future`            created_ms > block time + 5 min
 3. `expired`                      created_ms < block time - 24 h
 4. `duplicate_transaction`        its hash is already in a block within the window
 5. `creator_invalid`              the creator is neither an account ID nor a participant code
 6. `creator_not_found`            no such account or participant
 7. `creator_not_active`           account frozen or closed, or its participant suspended
                                   (a send-only or receive-only participant is not)
 8. `signature_invalid`            a signature does not verify
 9. `signature_duplicate_key`      two signatures by one key
10. `signature_key_not_signatory`  a signing key is not the creator's
11. `signature_quorum_not_met`     fewer valid signatures than the creator's quorum
12. `participants_mixed`           its commands touch different participants, the central bank
                                   left out (`bakong.ledger.touches`); the command index is
                                   the first one that differs from the first command

Then each command in order, each rung of which is in its handler (`bakong.ledger.execute`):
first the subject lookup it needs (`hold_not_found`, `alias_not_found`), then
`permission_denied` from the permission matrix, then the command's own rungs. A transfer's
and a hold's own rungs end with the direction rungs, right after `target_account_not_active`
and before any debit: `source_participant_receive_only`, then `target_participant_send_only`
(`bakong.ledger.money`); posting a hold placed before a status change is not refused by them
(`bakong.ledger.holds` says why).

This ladder and the command handlers are the only statement of the rules. Where the transfer
lane is compiled (`bakong.ledger.transfer_lane`), one transfer signed once by its account runs
the same rungs in C, and a differential test holds it to this path rung by rung.

A transaction that fails rungs 1-11 is not authentic (or is a replay): it changes nothing and
is not remembered, so a forged copy of someone's payload can never block the real one. A
transaction that passes them is remembered in the replay window whatever its result, a mixed
one (rung 12) included.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bakong import limits
from bakong.ledger.context import Context, Creator
from bakong.ledger.identifiers import is_account_id, is_participant_code
from bakong.ledger.records import Hold, ParticipantStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.state import hold_key, seen_key
from bakong.ledger.touches import first_mixed_command
from bakong.ledger.transaction import Transaction, TransactionPayload

__all__ = ["check_envelope", "check_signers", "check_window", "mixed_command_index"]


def check_envelope(
    context: Context, transaction: Transaction, tx_hash: bytes
) -> tuple[ResultCode, Creator | None]:
    """Rungs 1-11. Returns `ok` with the creator, or the first failing rung's code."""
    payload = transaction.payload
    code = check_window(payload, context.chain_id, context.time_ms)
    if code is not ResultCode.ok:
        return code, None
    seen = seen_key(payload.created_ms, tx_hash)
    if tx_hash in context.seen_in_block or context.view.read(seen) is not None:
        return ResultCode.duplicate_transaction, None
    code, keys, quorum, is_participant = _creator_keys(context, payload.creator)
    if code is not ResultCode.ok:
        return code, None
    code = _check_signatures(context, transaction, tx_hash, keys, quorum)
    if code is not ResultCode.ok:
        return code, None
    return ResultCode.ok, Creator(payload.creator, is_participant)


def check_window(payload: TransactionPayload, chain_id: str, time_ms: int) -> ResultCode:
    """Rungs 1-3: the chain, and `created_ms` within the window around `time_ms`."""
    if payload.chain_id != chain_id:
        return ResultCode.chain_id_mismatch
    if payload.created_ms > time_ms + limits.tx_future_ms_max:
        return ResultCode.created_in_future
    if payload.created_ms < time_ms - limits.tx_past_ms_max:
        return ResultCode.expired
    return ResultCode.ok


def _creator_keys(
    context: Context, creator: str
) -> tuple[ResultCode, tuple[bytes, ...], int, bool]:
    """Rungs 5-7: the creator's signing keys and quorum."""
    if is_participant_code(creator):
        participant = context.participant(creator)
        if participant is None:
            return ResultCode.creator_not_found, (), 0, True
        if participant.status is ParticipantStatus.suspended:
            return ResultCode.creator_not_active, (), 0, True
        return ResultCode.ok, participant.admin_keys, participant.admin_quorum, True
    if not is_account_id(creator):
        return ResultCode.creator_invalid, (), 0, False
    account = context.account(creator)
    if account is None:
        return ResultCode.creator_not_found, (), 0, False
    if not context.account_is_active(account):
        return ResultCode.creator_not_active, (), 0, False
    return ResultCode.ok, account.signatories, account.quorum, False


def _check_signatures(
    context: Context,
    transaction: Transaction,
    tx_hash: bytes,
    keys: tuple[bytes, ...],
    quorum: int,
) -> ResultCode:
    """Rungs 8-11. Every signature must verify; signers must be distinct signatories."""
    assert quorum >= 1, "every creator has a quorum of at least one"
    message = context.signature_prefix + tx_hash
    verify = context.verify
    signatures = transaction.signatures
    for entry in signatures:
        if not verify(entry.public_key, message, entry.signature):
            return ResultCode.signature_invalid
    return check_signers([entry.public_key for entry in signatures], keys, quorum)


def check_signers(signers: Sequence[bytes], keys: Collection[bytes], quorum: int) -> ResultCode:
    """Rungs 9-11, over the keys of signatures that all verified."""
    if len(signers) == 1:  # the common case, without building sets
        if signers[0] not in keys:
            return ResultCode.signature_key_not_signatory
        return ResultCode.ok if quorum == 1 else ResultCode.signature_quorum_not_met
    if len(set(signers)) != len(signers):
        return ResultCode.signature_duplicate_key
    if any(signer not in keys for signer in signers):
        return ResultCode.signature_key_not_signatory
    if len(signers) < quorum:
        return ResultCode.signature_quorum_not_met
    return ResultCode.ok


def mixed_command_index(context: Context, payload: TransactionPayload) -> int:
    """Rung 12: the first command touching other participants than the first, or -1."""
    if len(payload.commands) == 1:  # nearly every transaction: no closure, no lookups
        return -1

    def hold_parties(hold_id: bytes) -> tuple[str, ...]:
        hold: Hold | None = context.view.read(hold_key(hold_id))
        return () if hold is None else (hold.source, hold.target, hold.poster)

    return first_mixed_command(
        payload.commands, payload.creator, context.central_bank, hold_parties
    )
