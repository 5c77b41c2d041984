"""`bakong.client`: the Python SDK for banks and the central bank (docs/sdk.md).

- `builders`: one function per ledger command, `TransactionBuilder`, `sign`, `cosign` (pure).
- `http`: `Client` (async) and `SyncClient` over the node's HTTP API: signed requests, submit,
  `submit_and_wait`, queries.
- `follower`: `Follower` and the pure `verify_message`: the commit stream, every header's
  commit and every Merkle proof verified before a transaction is yielded.
- `responses`: the API's answers as typed structs; `errors`: what the SDK raises.
"""

from __future__ import annotations

from bakong.client.builders import (
    KeyLike,
    TransactionBuilder,
    add_signatory,
    add_validator,
    alias_hash,
    cosign,
    create_account,
    hold,
    hold_id_for,
    issue,
    post,
    redeem,
    register_alias,
    register_participant,
    remove_alias,
    remove_signatory,
    remove_validator,
    replace_signatories,
    set_account_status,
    set_kyc_tier,
    set_limits,
    set_participant_endpoint,
    set_quorum,
    sign,
    transaction_bytes,
    transfer,
    update_participant,
    void,
)
from bakong.client.errors import (
    ApiError,
    Busy,
    NotFound,
    TransactionRejected,
    VerificationError,
    WaitTimeout,
)
from bakong.client.follower import (
    Follower,
    StreamItem,
    StreamMessage,
    TrustState,
    VerifiedBlock,
    decode_stream_message,
    verify_message,
)
from bakong.client.http import Client, SyncClient
from bakong.client.responses import (
    AccountInfo,
    AliasInfo,
    AliasLookup,
    AliasLookupPage,
    BlockInfo,
    BlockTransaction,
    Committed,
    ParticipantInfo,
    Status,
    SubmitResult,
    TransactionStatus,
)
from bakong.ledger.assets import Asset
from bakong.ledger.identifiers import settlement_account, treasury_account
from bakong.ledger.records import AccountKind, AccountStatus, KycTier, ParticipantStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import Transaction, transaction_hash
from bakong.wire.keys import SigningKey, parse_key_file

__all__ = [
    "AccountInfo",
    "AccountKind",
    "AccountStatus",
    "AliasInfo",
    "AliasLookup",
    "AliasLookupPage",
    "ApiError",
    "Asset",
    "BlockInfo",
    "BlockTransaction",
    "Busy",
    "Client",
    "Committed",
    "Follower",
    "KeyLike",
    "KycTier",
    "NotFound",
    "ParticipantInfo",
    "ParticipantStatus",
    "ResultCode",
    "SigningKey",
    "Status",
    "StreamItem",
    "StreamMessage",
    "SubmitResult",
    "SyncClient",
    "Transaction",
    "TransactionBuilder",
    "TransactionRejected",
    "TransactionStatus",
    "TrustState",
    "VerificationError",
    "VerifiedBlock",
    "WaitTimeout",
    "add_signatory",
    "add_validator",
    "alias_hash",
    "cosign",
    "create_account",
    "decode_stream_message",
    "hold",
    "hold_id_for",
    "issue",
    "parse_key_file",
    "post",
    "redeem",
    "register_alias",
    "register_participant",
    "remove_alias",
    "remove_signatory",
    "remove_validator",
    "replace_signatories",
    "set_account_status",
    "set_kyc_tier",
    "set_limits",
    "set_participant_endpoint",
    "set_quorum",
    "settlement_account",
    "sign",
    "transaction_bytes",
    "transaction_hash",
    "transfer",
    "treasury_account",
    "update_participant",
    "verify_message",
    "void",
]
