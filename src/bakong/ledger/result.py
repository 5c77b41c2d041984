"""Result codes: every outcome of a transaction, recorded in its block (TigerBeetle style).

A rejection is a result, never an exception, and a rejected transaction changes nothing.
The numbers are part of the wire format (they are hashed into each block's result root):
append new codes, never renumber. Codes are grouped by the rung of the validation ladder
(`bakong.ledger.ladder`) where they are decided.
"""

from __future__ import annotations

import enum

__all__ = ["ResultCode"]


class ResultCode(enum.IntEnum):
    ok = 0

    # Envelope: the transaction as a whole, checked before any command (ladder rungs 1-10).
    chain_id_mismatch = 1
    created_in_future = 2
    expired = 3
    duplicate_transaction = 4
    creator_invalid = 5
    creator_not_found = 6
    creator_not_active = 7
    signature_invalid = 8
    signature_duplicate_key = 9
    signature_key_not_signatory = 10
    signature_quorum_not_met = 11

    # Every command: who may sign it.
    permission_denied = 20

    # Amounts and assets.
    amount_must_be_positive = 30
    accounts_must_be_different = 31
    insufficient_funds = 32
    balance_overflow = 33
    daily_limit_exceeded = 34
    transfer_cap_exceeded = 35
    balance_cap_exceeded = 36
    supply_overflow = 37

    # Accounts.
    account_id_invalid = 40
    account_not_found = 41
    account_exists = 42
    source_account_not_found = 43
    target_account_not_found = 44
    source_account_not_active = 45
    target_account_not_active = 46
    account_closed = 47
    account_not_empty = 48
    account_kind_not_creatable = 49
    account_kind_not_closable = 50
    account_kind_mismatch = 51
    kyc_tier_invalid = 52
    status_unchanged = 53

    # Signatories and quorum.
    signatories_empty = 60
    signatories_duplicate = 61
    signatories_limit_exceeded = 62
    quorum_invalid = 63
    signatory_exists = 64
    signatory_not_found = 65

    # Participants.
    participant_code_invalid = 70
    participant_exists = 71
    participant_not_found = 72
    participant_not_active = 73
    participants_limit_reached = 74
    central_bank_cannot_be_suspended = 75
    gateway_url_invalid = 76
    central_bank_cannot_be_restricted = 77  # made send-only or receive-only
    source_participant_receive_only = 78  # a transfer or hold from a receive-only participant
    target_participant_send_only = 79  # a transfer or hold toward a send-only participant

    # Validators.
    validator_exists = 80
    validator_not_found = 81
    validator_power_invalid = 82
    validators_limit_reached = 83
    validator_set_would_be_empty = 84
    validator_name_invalid = 85

    # Limits policy.
    limits_policy_invalid = 90

    # Pending (two-phase) transfers.
    hold_exists = 100
    hold_not_found = 101
    hold_expiry_invalid = 102
    hold_expired = 103
    hold_already_posted = 104
    hold_already_voided = 105
    post_amount_exceeds_hold = 106
    holds_limit_reached = 107
    poster_not_found = 108

    # Phone aliases.
    alias_exists = 110
    alias_not_found = 111

    # Privacy: the commands of one transaction touch different participants (ladder rung 12).
    participants_mixed = 120
