"""One-time codes sent by SMS to prove that a person holds a phone number.

Rules:
- A code is `limits.otp_digits` decimal digits, drawn uniformly (rejection sampling) from the
  caller's randomness; these functions read no clock and draw nothing themselves.
- Only a keyed digest is stored: HMAC-SHA256(pepper, purpose, phone, code). Six digits are
  too few to survive a plain hash, so the pepper (derived from the key-encryption key) never
  lives in the database.
- A code lives `limits.otp_lifetime_ms`, is spent by its first correct use, and is spent by
  `limits.otp_attempts_max` wrong tries. Only the newest code of a (phone, purpose) counts:
  issuing one spends the ones before it.
- A phone receives at most `limits.otp_codes_per_window_max` codes per `limits.otp_window_ms`
  (the rate limit on codes; it also bounds SMS cost).
- Digests are compared in constant time.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace

import sqlalchemy as sa

from bakong import limits
from bakong.gateway import db

__all__ = [
    "OtpRecord",
    "Verdict",
    "check_code",
    "code_digest",
    "issue_code",
    "new_code",
    "verify_code",
]

_CODE_SPACE = 10**limits.otp_digits
_DRAW_WIDTH = 4
# The largest multiple of the code space below 2**32: draws at or above it are redrawn, so
# every code is equally likely.
_DRAW_CEILING = (2 ** (8 * _DRAW_WIDTH) // _CODE_SPACE) * _CODE_SPACE


class Verdict(enum.Enum):
    """What checking a code found. Each value is also the API's error code for it."""

    ok = "ok"
    code_wrong = "code_wrong"
    code_expired = "code_expired"
    code_spent = "code_spent"  # used, superseded or out of attempts
    code_missing = "code_missing"  # none was ever sent to this phone for this purpose


@dataclass(frozen=True)
class OtpRecord:
    """A stored code: its digest, expiry and how it has been used."""

    code_hash: str
    expires_ms: int
    attempts: int
    used: bool


def new_code(random_bytes: Callable[[int], bytes]) -> str:
    """A uniformly drawn code of `limits.otp_digits` digits, leading zeros kept."""
    while True:
        draw = int.from_bytes(random_bytes(_DRAW_WIDTH), "big")
        if draw < _DRAW_CEILING:
            return f"{draw % _CODE_SPACE:0{limits.otp_digits}d}"


def code_digest(pepper: bytes, purpose: str, phone: str, code: str) -> str:
    """The stored form of a code, bound to its phone and purpose (a code for one cannot be
    used for another)."""
    message = b"\x00".join((purpose.encode(), phone.encode(), code.encode()))
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def check_code(
    record: OtpRecord | None, digest: str, now_ms: int
) -> tuple[Verdict, OtpRecord | None]:
    """Check a code's digest against the newest stored record; return the verdict and the
    record as it must be stored afterwards (None when nothing changes)."""
    if record is None:
        return Verdict.code_missing, None
    if record.used or record.attempts >= limits.otp_attempts_max:
        return Verdict.code_spent, None
    if now_ms >= record.expires_ms:
        return Verdict.code_expired, None
    if hmac.compare_digest(record.code_hash, digest):
        return Verdict.ok, replace(record, used=True)
    return Verdict.code_wrong, replace(record, attempts=record.attempts + 1)


def issue_code(
    connection: sa.Connection,
    pepper: bytes,
    purpose: str,
    phone: str,
    now_ms: int,
    random_bytes: Callable[[int], bytes],
) -> str | None:
    """Store a new code for (phone, purpose) and return it, spending the earlier ones; None
    when the phone has had its quota of codes in the current window."""
    table = db.otp_codes
    recent = connection.execute(
        sa.select(sa.func.count())
        .select_from(table)
        .where(table.c.phone == phone, table.c.created_ms > now_ms - limits.otp_window_ms)
    ).scalar_one()
    if recent >= limits.otp_codes_per_window_max:
        return None
    connection.execute(
        table.update().where(table.c.phone == phone, table.c.purpose == purpose).values(used=1)
    )
    code = new_code(random_bytes)
    connection.execute(
        table.insert().values(
            phone=phone,
            purpose=purpose,
            code_hash=code_digest(pepper, purpose, phone, code),
            expires_ms=now_ms + limits.otp_lifetime_ms,
            attempts=0,
            used=0,
            created_ms=now_ms,
        )
    )
    return code


def verify_code(
    connection: sa.Connection, pepper: bytes, purpose: str, phone: str, code: str, now_ms: int
) -> Verdict:
    """Check `code` against the newest code sent to `phone` for `purpose`, recording the try
    (a wrong one counts against the attempts; a right one spends the code)."""
    table = db.otp_codes
    row = connection.execute(
        sa.select(table.c.id, table.c.code_hash, table.c.expires_ms, table.c.attempts, table.c.used)
        .where(table.c.phone == phone, table.c.purpose == purpose)
        .order_by(table.c.id.desc())
        .limit(1)
    ).first()
    record = None
    if row is not None:
        record = OtpRecord(row.code_hash, row.expires_ms, row.attempts, bool(row.used))
    verdict, _ = check_code(record, code_digest(pepper, purpose, phone, code), now_ms)
    if row is None:
        return verdict
    # Conditional updates, so that two requests racing on one code cannot both spend it nor
    # lose a wrong try.
    if verdict is Verdict.code_wrong:
        connection.execute(
            table.update().where(table.c.id == row.id).values(attempts=table.c.attempts + 1)
        )
    elif verdict is Verdict.ok:
        spent = connection.execute(
            table.update()
            .where(
                table.c.id == row.id,
                table.c.used == 0,
                table.c.attempts < limits.otp_attempts_max,
            )
            .values(used=1)
        )
        if spent.rowcount != 1:
            return Verdict.code_spent
    return verdict
