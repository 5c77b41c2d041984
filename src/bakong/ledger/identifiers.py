"""Identifiers of the ledger model (design section 2): participant codes and account IDs.

- Participant code: 3-8 lower-case ASCII letters (`nbc`, `aclb`, `abaa`, `wing`).
- Account ID: `name@participant`, at most 32 characters (the KHQR Bakong ID limit), the name
  drawn from `[a-z0-9_.]`, neither starting nor ending with a dot.
- Settlement account of participant `p`: `settlement@p`; the central bank's treasury:
  `treasury@<central bank>`.
- Gateway URL (`set_participant_endpoint`): at most `gateway_url_chars_max` characters of
  `http` or `https`, `://`, a lower-case host (DNS name, IPv4 or bracketed IPv6), an optional
  port 1-65535 and an optional path; no user info, query or fragment. It is matched by one
  regular expression rather than `urllib.parse`, whose leniency has changed between Python
  releases: every node must reach the same verdict.
"""

from __future__ import annotations

import functools
import re

from bakong import limits
from bakong.types import AccountId, ParticipantCode

__all__ = [
    "account_id",
    "is_account_id",
    "is_gateway_url",
    "is_participant_code",
    "participant_of",
    "settlement_account",
    "treasury_account",
]

_participant_pattern = re.compile(
    f"[a-z]{{{limits.participant_code_chars_min},{limits.participant_code_chars_max}}}"
)
_account_pattern = re.compile(
    r"[a-z0-9_](?:[a-z0-9_.]*[a-z0-9_])?@"
    f"[a-z]{{{limits.participant_code_chars_min},{limits.participant_code_chars_max}}}"
)

_label = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_gateway_url_pattern = re.compile(
    r"https?://"
    rf"(?:{_label}(?:\.{_label})*|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
    r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?"
)


@functools.lru_cache(maxsize=4096)
def is_participant_code(text: str) -> bool:
    return _participant_pattern.fullmatch(text) is not None


# Validation is pure and the same IDs recur in every block, so results are memoised.
@functools.lru_cache(maxsize=65536)
def is_account_id(text: str) -> bool:
    return len(text) <= limits.account_id_chars_max and _account_pattern.fullmatch(text) is not None


def participant_of(account: str) -> ParticipantCode:
    """The participant part of an account ID (the caller has checked the format)."""
    assert "@" in account, account
    return ParticipantCode(account.rsplit("@", 1)[1])


def account_id(name: str, participant: str) -> AccountId:
    text = f"{name}@{participant}"
    assert is_account_id(text), text
    return AccountId(text)


def settlement_account(participant: str) -> AccountId:
    return account_id("settlement", participant)


def treasury_account(central_bank: str) -> AccountId:
    return account_id("treasury", central_bank)


def is_gateway_url(text: str) -> bool:
    """Whether `text` may be published as a participant's gateway URL (module rules)."""
    if len(text) > limits.gateway_url_chars_max:
        return False
    match = _gateway_url_pattern.fullmatch(text)
    if match is None:
        return False
    port = match.group("port")
    return port is None or 0 < int(port) <= 65535
