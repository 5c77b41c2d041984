"""The messages a link and a foreign switch exchange, ISO 20022-shaped JSON, and their signatures.

Every message is a msgspec Struct decoded strictly (`forbid_unknown_fields`, bounded fields).
Amounts are integers in minor units of the named currency (`MINOR_UNITS`: KHR 0, USD 2, THB 2,
VND 0, MYR 2, LAK 0, CNY 2); ids are ISO Max35Text (letters, digits, `.`, `_`, `:`, `@`, `-`: a KHQR
account id `shop@aclb` is one).

    POST /iso/lookup           Lookup      -> LookupAnswer        (404 `merchant_not_found`)
    POST /iso/pacs008          Pacs008     -> Pacs002             credit transfer, idempotent
    GET  /iso/pacs002/{e2e}                -> Pacs002             status (404 `payment_not_found`)
    POST /iso/camt056          Camt056     -> Camt029             recall of a payment
    GET  /iso/statement/{day}              -> Statement           the link's nostro, one day

An error is `IsoError {code, message}` with an HTTP status (`IsoProblem` raises it).

`Pacs002.status`: `ACCC` credited to the creditor's account (final), `ACSP` accepted and still
settling (ask again), `RJCT` refused (final; `reason` is an ISO reason code, `REASONS`).
A pacs.008 is idempotent on `end_to_end_id`: the same message again answers the first status;
the same id with other content is refused with 409 `end_to_end_id_reused`.

Signatures: every HTTP body, request and answer, is signed with Ed25519 over its exact bytes;
`X-Bakong-Signer` names the key (`key_id`: the public key in hex) and `X-Bakong-Signature`
carries the signature in base64. A body-less request (a GET) signs `GET <path>` instead
(`get_signed_bytes`), so a signed status query cannot be replayed against another path. Each
side keeps the other's public keys in its config; a missing, unknown or wrong signature is
401 (`signature_missing`, `signer_unknown`, `signature_malformed`, `signature_invalid`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Annotated, Final, Literal, TypeVar

import msgspec
from msgspec import Meta

from bakong import limits
from bakong.errors import ConfigError, RemoteError
from bakong.khqr.tags import qr_chars_max
from bakong.wire.keys import SigningKey, public_key_size, signature_size, verify

__all__ = [
    "CURRENCIES",
    "MINOR_UNITS",
    "REASONS",
    "SIGNATURE_HEADER",
    "SIGNER_HEADER",
    "Camt029",
    "Camt056",
    "IsoError",
    "IsoProblem",
    "Lookup",
    "LookupAnswer",
    "Pacs002",
    "Pacs008",
    "Statement",
    "StatementEntry",
    "decode",
    "encode",
    "get_signed_bytes",
    "key_id",
    "parse_key_id",
    "sign_body",
    "verify_body",
]

SIGNER_HEADER: Final = "X-Bakong-Signer"
SIGNATURE_HEADER: Final = "X-Bakong-Signature"

# ISO 4217 alpha codes and the exponent of each as the ledgers here count them (KHR in whole
# riel, as `bakong.ledger.assets` does).
MINOR_UNITS: Final = {"KHR": 0, "USD": 2, "THB": 2, "VND": 0, "MYR": 2, "LAK": 0, "CNY": 2}
CURRENCIES: Final = tuple(MINOR_UNITS)

# The ISO 20022 external status reason codes the two sides use in `reason`.
REASONS: Final = {
    "AC01": "incorrect account number (no such merchant or wallet)",
    "AC04": "closed account",
    "AC06": "blocked account",
    "AM02": "amount not allowed (over a limit)",
    "AM03": "currency not allowed",
    "AM04": "insufficient funds",
    "AM09": "wrong amount (not the amount the code asks)",
    "AB05": "timeout at the creditor agent",
    "AG01": "transaction forbidden (the switch refuses)",
    "CUST": "requested by the customer (a recall)",
    "DUPL": "duplicate payment",
    "FF01": "invalid file format",
    "NARR": "narrative: see the text",
}

Id = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$",
                         max_length=limits.iso_id_chars_max)]  # fmt: skip
Name = Annotated[str, Meta(min_length=1, max_length=limits.iso_name_chars_max)]
Text = Annotated[str, Meta(max_length=limits.iso_text_chars_max)]
Currency = Literal["KHR", "USD", "THB", "VND", "MYR", "LAK", "CNY"]
Amount = Annotated[int, Meta(gt=0, le=limits.iso_amount_max)]
Signed = Annotated[int, Meta(ge=-limits.iso_amount_max, le=limits.iso_amount_max)]
Instant = Annotated[int, Meta(ge=0, lt=2**53)]
Country = Annotated[str, Meta(pattern=r"^[A-Z]{2}$")]
Day = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
Qr = Annotated[str, Meta(min_length=1, max_length=qr_chars_max)]


class Lookup(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Who is behind this QR code? Sent before a pacs.008 so the payer sees the merchant."""

    msg_id: Id
    qr: Qr


class LookupAnswer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The merchant a QR code pays: `merchant_id` is what a pacs.008 names as `creditor_id`;
    `amount` is the code's own amount in `currency` minor units, or null for a static code."""

    scheme: Annotated[str, Meta(pattern=r"^[a-z+]{2,16}$")]
    merchant_id: Id
    merchant_name: Name
    city: Name
    country: Country
    currency: Currency
    amount: Amount | None


class Pacs008(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """FI-to-FI customer credit transfer: pay `amount` of `currency` to `creditor_id`.

    `debtor_agent` is the sending side's participant (the link's code, or the switch's name);
    `remittance` is the reference the creditor's side records (the KHQR md5, or the foreign
    QR's reference). When the sender converted (a foreign wallet in THB paying a KHQR in KHR),
    `settlement_currency` and `settlement_amount` say what the link's nostro at the switch
    moves by (ISO's interbank settlement amount); absent, it is `currency` and `amount`."""

    msg_id: Id
    end_to_end_id: Id
    created_ms: Instant
    debtor_agent: Id
    debtor_name: Name
    creditor_id: Id
    currency: Currency
    amount: Amount
    remittance: Text = ""
    settlement_currency: Currency | None = None
    settlement_amount: Amount | None = None


class Pacs002(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Payment status report for one end-to-end id."""

    end_to_end_id: Id
    status: Literal["ACCC", "ACSP", "RJCT"]
    reason: Text | None = None
    settled_ms: Instant | None = None


class Camt056(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Request to recall a payment (e.g. a credit confirmed after the payer's hold expired)."""

    msg_id: Id
    end_to_end_id: Id
    reason: Text


class Camt029(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Resolution of a recall: ACCEPTED means the credit was reversed (or never happened and
    now never will: the end-to-end id is closed); REJECTED names why in `reason`."""

    end_to_end_id: Id
    status: Literal["ACCEPTED", "REJECTED"]
    reason: Text | None = None


class StatementEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One movement on the link's nostro account at the switch, seen from that account: `debit`
    takes from it (the link paid a merchant here: a pacs.008 from the link), `credit` adds to it
    (a wallet here paid a KHQR through the link, or a recall gave money back); `kind` names why
    (`pacs008`, `recall`, `funding`: the settlement bank topping the account up)."""

    seq: Annotated[int, Meta(ge=1)]
    end_to_end_id: Id
    kind: Literal["pacs008", "recall", "funding"]
    side: Literal["credit", "debit"]
    amount: Amount
    time_ms: Instant


class Statement(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The link's nostro account at the switch for one day (Asia/Phnom_Penh): balances at the
    start and end of the day and every entry between, in order; `closing` = `opening` + credits
    - debits."""

    day: Day
    switch: Id
    account: Id
    currency: Currency
    opening: Signed
    closing: Signed
    entries: Annotated[list[StatementEntry], Meta(max_length=limits.iso_statement_entries_max)]


class IsoError(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An error answer: a stable snake_case code and a message without personal data."""

    code: Annotated[str, Meta(pattern=r"^[a-z0-9_]{1,64}$")]
    message: Text


class IsoProblem(RemoteError):
    """A cross-border message is refused: an HTTP status, a stable code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.http_status = status

    def error(self) -> IsoError:
        return IsoError(self.code, self.message[: limits.iso_text_chars_max])


M = TypeVar("M", bound=msgspec.Struct)


def encode(message: msgspec.Struct) -> bytes:
    """The JSON bytes of a message (the bytes that are signed and sent)."""
    return msgspec.json.encode(message)


def decode(body: bytes, kind: type[M]) -> M:
    """Decode a message strictly; 413 `body_too_large`, 400 `bad_message` (IsoProblem)."""
    if len(body) > limits.iso_body_bytes_max:
        raise IsoProblem(413, "body_too_large", "the body is too large")
    try:
        return msgspec.json.decode(body, type=kind, strict=True)
    except msgspec.ValidationError as error:
        raise IsoProblem(400, "bad_message", str(error)[: limits.iso_text_chars_max]) from None
    except msgspec.DecodeError:
        raise IsoProblem(400, "bad_message", "the body is not valid JSON") from None


def key_id(public_key: bytes) -> str:
    """The name a signer goes by in `X-Bakong-Signer`: its public key in lower-case hex."""
    return public_key.hex()


def parse_key_id(text: str) -> bytes:
    """The public key a config names (hex, as `key_id` writes it); ConfigError if it is not."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) != public_key_size:
        raise ConfigError(f"a public key is {2 * public_key_size} hex digits")
    return key


def get_signed_bytes(path: str) -> bytes:
    """What a body-less GET signs: `GET <path>` (the path without the query)."""
    return f"GET {path}".encode()


def sign_body(key: SigningKey, body: bytes) -> dict[str, str]:
    """The two headers that sign `body` with `key`."""
    signature = base64.b64encode(key.sign(body)).decode()
    return {SIGNER_HEADER: key_id(key.public_key), SIGNATURE_HEADER: signature}


def verify_body(keys: Iterable[bytes], headers: Mapping[str, str], body: bytes) -> bytes:
    """The public key (one of `keys`) that signed `body`, or IsoProblem 401 with a code.

    `headers` may be any mapping; the two names are looked up as written and in lower case
    (Starlette's and httpx's headers are case-insensitive already)."""
    signer = headers.get(SIGNER_HEADER) or headers.get(SIGNER_HEADER.lower())
    signature = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower())
    if not signer or not signature:
        raise IsoProblem(401, "signature_missing", "the body must be signed")
    known = {key_id(key): key for key in keys}
    public_key = known.get(signer[: 2 * public_key_size + 1].lower())
    if public_key is None:
        raise IsoProblem(401, "signer_unknown", "the signer's key is not configured here")
    try:
        raw = base64.b64decode(signature[: 2 * signature_size], validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != signature_size:
        raise IsoProblem(401, "signature_malformed", "the signature is not 64 bytes of base64")
    if not verify(public_key, body, raw):
        raise IsoProblem(401, "signature_invalid", "the signature does not match the body")
    return public_key
