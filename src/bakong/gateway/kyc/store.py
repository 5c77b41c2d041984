"""KYC submissions in the gateway's store (`db.kyc_submissions`): sealed images and readings,
the states a submission goes through, and the queries of the API and the worker.

States:

    checking  --checks-->  approving  --tier raised-->  verified      (automatic)
              \\--doubts-->  review  --officer-->  approved | rejected

Rules:
- The images (both card sides, the selfie frames) and everything read from them (fields,
  the Khmer text, the zone's lines) are personal data: they are stored only sealed, with
  XSalsa20-Poly1305 under a key derived from the gateway's key-encryption key, the customer's
  id and the column (`custody.derive_key`, as wallet seeds are), with a fresh random nonce.
  A sealed value copied onto another customer's row does not open. They never reach the
  ledger, a log line, an error, a metric or a URL.
- The columns left in the clear are states, doubt codes, numbers and times: what the queue,
  the worker and `/metrics` need without opening anything.
- A customer has at most one submission in `checking`, `approving` or `review` at a time, and
  at most `limits.kyc_submissions_per_day_max` in 24 hours.
"""

from __future__ import annotations

from typing import Any

import msgspec
import nacl.exceptions
import nacl.secret
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.errors import ConfigError
from bakong.gateway import custody, db

__all__ = [
    "NONCE_SIZE",
    "OPEN_STATES",
    "Images",
    "due_approvals",
    "insert",
    "latest",
    "next_to_check",
    "one",
    "open_fields",
    "open_images",
    "postpone",
    "queue",
    "record_checks",
    "refusal",
    "seal_fields",
    "seal_images",
]

OPEN_STATES = ("checking", "approving", "review")
NONCE_SIZE = custody.seal_nonce_size


class Images(msgspec.Struct, frozen=True):
    """What the customer sent, as sent (JPEG, PNG or WebP bytes)."""

    id_front: bytes
    id_back: bytes
    selfie_frames: list[bytes]


def _box(kek: bytes, column: str, customer_id: int) -> nacl.secret.SecretBox:
    return nacl.secret.SecretBox(custody.derive_key(kek, f"kyc/{column}/{customer_id}"))


def _seal(kek: bytes, column: str, customer_id: int, plain: bytes, nonce: bytes) -> bytes:
    return bytes(_box(kek, column, customer_id).encrypt(plain, nonce))


def _open(kek: bytes, column: str, customer_id: int, sealed: bytes) -> bytes:
    try:
        return bytes(_box(kek, column, customer_id).decrypt(sealed))
    except nacl.exceptions.CryptoError:
        raise ConfigError(
            "a sealed KYC record does not open under this gateway's key-encryption key"
        ) from None


def seal_images(kek: bytes, customer_id: int, images: Images, nonce: bytes) -> bytes:
    return _seal(kek, "images", customer_id, msgspec.msgpack.encode(images), nonce)


def open_images(kek: bytes, customer_id: int, sealed: bytes) -> Images:
    return msgspec.msgpack.decode(_open(kek, "images", customer_id, sealed), type=Images)


def seal_fields(kek: bytes, customer_id: int, fields: dict[str, Any], nonce: bytes) -> bytes:
    return _seal(kek, "fields", customer_id, msgspec.json.encode(fields), nonce)


def open_fields(kek: bytes, customer_id: int, sealed: bytes) -> dict[str, Any]:
    decoded = msgspec.json.decode(_open(kek, "fields", customer_id, sealed))
    assert isinstance(decoded, dict)
    return decoded


# -- queries -----------------------------------------------------------------------------------


def refusal(connection: Connection, customer_id: int, now_ms: int) -> tuple[int, str, str] | None:
    """(status, code, message) of why a customer may not submit now, or None when they may."""
    table = db.kyc_submissions
    pending = connection.execute(
        sa.select(table.c.id).where(
            table.c.customer_id == customer_id, table.c.state.in_(OPEN_STATES)
        )
    ).first()
    if pending is not None:
        return 409, "kyc_pending", "a submission of yours is still being checked"
    today = connection.execute(
        sa.select(sa.func.count()).where(
            table.c.customer_id == customer_id,
            table.c.created_ms > now_ms - limits.kyc_submissions_window_ms,
        )
    ).scalar_one()
    if today >= limits.kyc_submissions_per_day_max:
        message = f"at most {limits.kyc_submissions_per_day_max} submissions a day: try tomorrow"
        return 429, "kyc_too_many", message
    return None


def insert(
    connection: Connection, customer_id: int, challenge: str, sealed: bytes, now_ms: int
) -> int:
    inserted = connection.execute(
        db.kyc_submissions.insert().values(
            customer_id=customer_id, state="checking", challenge=challenge,
            images_sealed=sealed, created_ms=now_ms, updated_ms=now_ms,
        )
    )  # fmt: skip
    (submission_id,) = inserted.inserted_primary_key or (None,)
    assert isinstance(submission_id, int)
    return submission_id


def next_to_check(engine: Engine) -> sa.Row[Any] | None:
    """The oldest submission waiting for its checks."""
    table = db.kyc_submissions
    with engine.connect() as connection:
        return connection.execute(
            sa.select(table).where(table.c.state == "checking").order_by(table.c.id).limit(1)
        ).first()


def due_approvals(engine: Engine, now_ms: int) -> list[Any]:
    """Submissions whose checks passed and whose tier change is due (again)."""
    table = db.kyc_submissions
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(table.c.id, table.c.customer_id, table.c.attempts)
                .where(table.c.state == "approving", table.c.next_attempt_ms <= now_ms)
                .order_by(table.c.id)
                .limit(limits.kyc_queue_page_max)
            ).all()
        )


def record_checks(engine: Engine, submission_id: int, values: dict[str, Any], now_ms: int) -> None:
    """The checks' outcome: its state (`approving` or `review`) and what they found."""
    table = db.kyc_submissions
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.id == submission_id, table.c.state == "checking")
            .values(**values, updated_ms=now_ms)
        )


def postpone(engine: Engine, submission_id: int, attempts: int, now_ms: int) -> None:
    table = db.kyc_submissions
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.id == submission_id)
            .values(
                attempts=attempts + 1,
                next_attempt_ms=now_ms + limits.kyc_worker_retry_ms,
                updated_ms=now_ms,
            )
        )


def latest(engine: Engine, customer_id: int) -> sa.Row[Any] | None:
    table = db.kyc_submissions
    columns = [c for c in table.c if c.name not in ("images_sealed", "fields_sealed")]
    with engine.connect() as connection:
        return connection.execute(
            sa.select(*columns)
            .where(table.c.customer_id == customer_id)
            .order_by(table.c.id.desc())
            .limit(1)
        ).first()


def queue(engine: Engine) -> list[Any]:
    """Submissions waiting for an officer, oldest first, with the customer's handle."""
    table, people = db.kyc_submissions, db.customers
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(
                    table.c.id, table.c.doubts, table.c.face_distance_milli,
                    table.c.threshold_milli, table.c.liveness, table.c.created_ms,
                    people.c.handle, people.c.tier,
                )
                .join(people, people.c.id == table.c.customer_id)
                .where(table.c.state == "review")
                .order_by(table.c.id)
                .limit(limits.kyc_queue_page_max)
            ).all()
        )  # fmt: skip


def one(connection: Connection, submission_id: int) -> sa.Row[Any] | None:
    table = db.kyc_submissions
    return connection.execute(sa.select(table).where(table.c.id == submission_id)).first()
