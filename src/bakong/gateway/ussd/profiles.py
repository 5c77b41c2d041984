"""A phone's USSD profile: the language it chose by dialling, stored under a keyed hash of the
number (never the number itself). Having one is what makes a customer a USSD user, who gets
SMS receipts in that language (`service`, and `bakong.gateway.claims` for money sent to a
phone with no wallet)."""

from __future__ import annotations

import hmac

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bakong.gateway import custody, db

__all__ = ["language_of", "phone_hash"]


def phone_hash(kek: bytes, phone: str) -> str:
    """The keyed hash a phone is stored under by the USSD service (never the number)."""
    return hmac.new(custody.derive_key(kek, "ussd/phone"), phone.encode(), "sha256").hexdigest()


def language_of(connection: Connection, kek: bytes, phone: str) -> str | None:
    """The language the phone chose by USSD; None if it never dialled."""
    profiles = db.ussd_profiles
    language = connection.execute(
        sa.select(profiles.c.language).where(profiles.c.phone_hash == phone_hash(kek, phone))
    ).scalar_one_or_none()
    return None if language is None else str(language)
