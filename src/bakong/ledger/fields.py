"""Bounded field types for ledger records: every string, byte string, tuple and integer that
comes from outside has a limit enforced while decoding (a violation is a `DecodeError`).

Formats (an account ID's shape, a positive amount) are *not* checked here but by the
validation ladder, so that each gets its own result code; these types only bound sizes, so
that no input can make the ledger allocate or hash without limit.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from bakong import limits

__all__ = [
    "AccountIdText",
    "AliasHash",
    "AmountInt",
    "ChainIdText",
    "CountInt",
    "HoldId",
    "MemoText",
    "NameText",
    "ParticipantCodeText",
    "PublicKeyBytes",
    "PublicKeys",
    "ReferenceText",
    "SignatureBytes",
    "TimeMsInt",
]

ChainIdText = Annotated[
    str, Meta(pattern="^[a-z0-9][a-z0-9-]*$", min_length=1, max_length=limits.chain_id_chars_max)
]
# An account ID or a participant code (a transaction's creator may be either).
AccountIdText = Annotated[str, Meta(max_length=limits.account_id_chars_max)]
ParticipantCodeText = Annotated[str, Meta(max_length=limits.participant_code_chars_max)]
NameText = Annotated[str, Meta(max_length=limits.participant_name_chars_max)]
MemoText = Annotated[str, Meta(max_length=limits.memo_chars_max)]
ReferenceText = Annotated[str, Meta(max_length=limits.reference_chars_max)]
PublicKeyBytes = Annotated[bytes, Meta(min_length=32, max_length=32)]
PublicKeys = Annotated[tuple[PublicKeyBytes, ...], Meta(max_length=limits.signatories_max)]
SignatureBytes = Annotated[bytes, Meta(min_length=64, max_length=64)]
HoldId = Annotated[bytes, Meta(min_length=16, max_length=16)]
AliasHash = Annotated[bytes, Meta(min_length=32, max_length=32)]
# Signed so that a negative amount decodes and is refused with `amount_must_be_positive`.
AmountInt = Annotated[int, Meta(ge=-limits.amount_max - 1, le=limits.amount_max)]
TimeMsInt = Annotated[int, Meta(ge=0, le=2**63 - 1)]
CountInt = Annotated[int, Meta(ge=0, le=2**31 - 1)]
