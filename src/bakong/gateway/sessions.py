"""Bearer sessions: opaque random tokens, stored hashed, that expire and can be revoked.

Rules:
- A token is `limits.session_token_bytes` random bytes, base64url, behind a `bgs_` prefix
  (so a leaked one is recognisable in a secret scanner). It is shown once, to its holder; the
  store keeps only its SHA-256 (a 256-bit random token needs no slow hash).
- A session has a role: `customer` (a wallet's owner), `officer` (a named bank officer: its
  `customer_id` is the officer's id in `officers`, see `bakong.gateway.officers`),
  `merchant` or `agent` (a cash agent, `bakong.gateway.agents`). A route names the roles
  it accepts, and a token of another role is refused exactly like an unknown one. Signing
  out (`DELETE /v1/sessions`) accepts every role: ending one's own session is always safe.
- A session lasts `limits.session_lifetime_ms` from its opening (an officer's, a shift: at most
  `limits.officer_session_lifetime_ms_max`); an expired or revoked token
  is refused with 401 `unauthenticated`, the same answer as a token never issued, so the
  answer tells a guesser nothing.
- Tokens travel only in the `Authorization: Bearer` header, never in a URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.requests import Request

from bakong import limits
from bakong.gateway import db
from bakong.gateway.problems import GatewayProblem

if TYPE_CHECKING:
    from bakong.gateway.service import GatewayServices

__all__ = [
    "OFFICER",
    "ROLES",
    "Session",
    "authenticate",
    "bearer_token",
    "find_session",
    "new_token",
    "open_session",
    "revoke_session",
    "token_digest",
    "SESSION_COLUMNS",
    "live_session",
    "unauthenticated",
]

_PREFIX = "bgs_"
OFFICER = 0  # the customer_id of what the gateway does itself (a stored onboarding)
ROLES = ("customer", "officer", "merchant", "agent")  # agent: a cash agent (`agents`)


@dataclass(frozen=True)
class Session:
    """An authenticated caller."""

    token_hash: str
    customer_id: int
    role: str
    expires_ms: int


def new_token(random_bytes: Callable[[int], bytes]) -> str:
    raw = random_bytes(limits.session_token_bytes)
    return _PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(_PREFIX):
        return None
    return token


def open_session(
    connection: sa.Connection,
    customer_id: int,
    role: str,
    now_ms: int,
    random_bytes: Callable[[int], bytes],
    lifetime_ms: int = limits.session_lifetime_ms,
) -> tuple[str, Session]:
    """Open a session lasting `lifetime_ms`; the token is returned here and stored nowhere."""
    assert role in ROLES, role
    assert 0 < lifetime_ms <= limits.officer_session_lifetime_ms_max, lifetime_ms
    token = new_token(random_bytes)
    session = Session(token_digest(token), customer_id, role, now_ms + lifetime_ms)
    connection.execute(
        db.sessions.insert().values(
            token_hash=session.token_hash,
            customer_id=customer_id,
            role=role,
            expires_ms=session.expires_ms,
            revoked=0,
        )
    )
    return token, session


#: The session of a token digest (bound as `b_digest`), built once: SQLAlchemy then finds its
#: compiled form at once instead of building and keying a new statement per request.
_BY_DIGEST = sa.select(db.sessions).where(db.sessions.c.token_hash == sa.bindparam("b_digest"))

#: The `sessions` columns as a query joining other tables selects them (`live_session`).
SESSION_COLUMNS = (
    db.sessions.c.token_hash.label("session_token_hash"),
    db.sessions.c.customer_id.label("session_customer_id"),
    db.sessions.c.role.label("session_role"),
    db.sessions.c.expires_ms.label("session_expires_ms"),
    db.sessions.c.revoked.label("session_revoked"),
)


def find_session(connection: sa.Connection, token: str, now_ms: int) -> Session | None:
    """The live session of `token`, or None (unknown, expired or revoked)."""
    digest = token_digest(token)
    row = connection.execute(_BY_DIGEST, {"b_digest": digest}).first()
    if row is None:
        return None
    return _live(digest, now_ms, row.token_hash, row.customer_id, row.role, row.expires_ms,
                 row.revoked)  # fmt: skip


def live_session(row: sa.Row[Any] | None, digest: str, now_ms: int) -> Session | None:
    """The live session in `row` of a query that selected `SESSION_COLUMNS` by `digest`
    (joined with what the caller needs), or None (no row, expired or revoked)."""
    if row is None:
        return None
    return _live(
        digest, now_ms, row.session_token_hash, row.session_customer_id, row.session_role,
        row.session_expires_ms, row.session_revoked,
    )  # fmt: skip


def _live(
    digest: str, now_ms: int, token_hash: str, customer_id: int, role: str, expires_ms: int,
    revoked: int,
) -> Session | None:  # fmt: skip
    if revoked or now_ms >= expires_ms:
        return None
    # The lookup was by the digest; comparing again in constant time keeps a database whose
    # index compares early-exit from leaking anything usable.
    if not hmac.compare_digest(token_hash, digest):
        return None
    return Session(token_hash, customer_id, role, expires_ms)


def _live_session(engine: Engine, token: str, now_ms: int) -> Session | None:
    with engine.connect() as connection:
        return find_session(connection, token, now_ms)


def revoke_session(connection: sa.Connection, token_hash: str) -> None:
    connection.execute(
        db.sessions.update().where(db.sessions.c.token_hash == token_hash).values(revoked=1)
    )


async def authenticate(services: GatewayServices, request: Request, *roles: str) -> Session:
    """The caller's session for a route that accepts one of `roles`, or 401 `unauthenticated`."""
    assert roles and set(roles) <= set(ROLES), roles
    token = bearer_token(request.headers.get("authorization"))
    if token is not None:
        session = await services.db(_live_session, services.engine, token, services.clock_ms())
        if session is not None and session.role in roles:
            return session
    raise unauthenticated()


def unauthenticated() -> GatewayProblem:
    """The one answer to a missing, unknown, expired, revoked or wrong-role token."""
    return GatewayProblem(401, "unauthenticated", "a valid bearer token is required")
