"""The central bank's staff: named logins with a role, argon2id passwords, sessions, lockout.

Rules:
- A staff member is a row of `staff`: a login name (`[a-z0-9_.-]`, as a bank officer's), a
  role, the password's argon2id hash (the gateway's `pins` profile) and `disabled`. Staff are
  made on the console's host (`bakong console staff add`), never over the web.
- Roles (`ROLES`): an `operator` proposes (issue, redeem, freeze, unfreeze); a `supervisor`
  also proposes, and approves or rejects what another proposed; an `auditor` reads only.
  Every role reads.
- Sign-in locks the login for `limits.pin_lockout_ms` after `limits.pin_failures_max` wrong
  passwords in a row. An unknown or disabled name costs the same argon2 work and gets the same
  answer as a wrong password. Every sign-in, failed or not, is in the audit log.
- A session is a random token in an HttpOnly, SameSite=Strict cookie; the store keeps only its
  SHA-256, with the forms' anti-forgery token (`csrf`) and the expiry (a shift). Signing out
  revokes it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.console import audit_log, store
from bakong.gateway import pins
from bakong.gateway.officers import generate_password, password_problem
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.sessions import new_token

__all__ = [
    "ROLES",
    "Staff",
    "add_staff",
    "generate_password",
    "session_staff",
    "sign_in",
    "sign_out",
    "token_digest",
]

ROLES = ("operator", "supervisor", "auditor")
_NAME = re.compile(r"^[a-z0-9_.-]+$")
# A password checked for nobody: an unknown name pays the same argon2 price as a known one.
_DECOY_HASH = pins.hash_pin("decoy-password-never-issued")


@dataclass(frozen=True)
class Staff:
    """The staff member behind a request."""

    id: int
    name: str
    role: str

    @property
    def who(self) -> tuple[int, str]:
        return self.id, self.name


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_staff(engine: Engine, name: str, role: str, password: str, now_ms: int) -> int:
    """Store a new staff member; its id. Refuses a bad name or role, a weak password, a
    taken name (`staff_invalid`, `staff_exists`)."""
    low, high = limits.officer_name_chars_min, limits.officer_name_chars_max
    if not (low <= len(name) <= high and _NAME.match(name)):
        message = f"a login name is {low} to {high} of a-z, 0-9, '_', '.', '-'"
        raise GatewayProblem(400, "staff_invalid", message)
    if role not in ROLES:
        raise GatewayProblem(400, "staff_invalid", f"a role is one of {', '.join(ROLES)}")
    problem = password_problem(password)
    if problem is not None:
        raise GatewayProblem(400, "staff_invalid", problem)
    password_hash = pins.hash_pin(password)
    table = store.staff
    with engine.begin() as connection:
        if connection.execute(sa.select(table.c.id).where(table.c.name == name)).first():
            raise GatewayProblem(409, "staff_exists", "a staff member has this name")
        inserted = connection.execute(
            table.insert().values(
                name=name, role=role, password_hash=password_hash, created_ms=now_ms
            )
        )
        (staff_id,) = inserted.inserted_primary_key or (None,)
        assert isinstance(staff_id, int) and staff_id > 0
        audit_log.record(connection, None, "staff_added", f"{name} ({role})", now_ms=now_ms)
    return staff_id


def _count_failure(engine: Engine, staff_id: int, name: str, now_ms: int) -> None:
    """One more wrong password, counted atomically, and the lock it may start."""
    table = store.staff
    with engine.begin() as connection:
        failures, locked_until_ms = connection.execute(
            table.update()
            .where(table.c.id == staff_id)
            .values(failures=table.c.failures + 1)
            .returning(table.c.failures, table.c.locked_until_ms)
        ).one()
        lock = pins.after_failure(pins.Lock(failures - 1, locked_until_ms), now_ms)
        if lock.locked_until_ms != locked_until_ms:
            connection.execute(
                table.update()
                .where(table.c.id == staff_id)
                .values(locked_until_ms=lock.locked_until_ms)
            )
        audit_log.record(connection, (staff_id, name), "sign_in_failed", "", now_ms=now_ms)


def sign_in(
    engine: Engine, name: str, password: str, now_ms: int, random_bytes: Callable[[int], bytes]
) -> tuple[str, Staff]:
    """A new session's token and its staff member; 401 `login_failed`, 423 `login_locked`."""
    table = store.staff
    with engine.connect() as connection:
        row = connection.execute(sa.select(table).where(table.c.name == name)).first()
    if row is None or row.disabled:
        pins.pin_matches(_DECOY_HASH, password)
        raise GatewayProblem(401, "login_failed", "the name or the password is wrong")
    lock = pins.Lock(row.failures, row.locked_until_ms)
    if pins.is_locked(lock, now_ms):
        minutes = -(-(lock.locked_until_ms - now_ms) // 60_000)
        raise GatewayProblem(
            423, "login_locked", f"too many wrong passwords: try again in {minutes} min"
        )
    if not pins.pin_matches(row.password_hash, password):
        _count_failure(engine, row.id, row.name, now_ms)
        raise GatewayProblem(401, "login_failed", "the name or the password is wrong")
    token, csrf = new_token(random_bytes), new_token(random_bytes)
    staff = Staff(row.id, row.name, row.role)
    with engine.begin() as connection:
        connection.execute(table.update().where(table.c.id == row.id).values(failures=0))
        connection.execute(
            store.staff_sessions.insert().values(
                token_hash=token_digest(token), staff_id=row.id, csrf=csrf,
                expires_ms=now_ms + limits.console_session_lifetime_ms, revoked=0,
            )
        )  # fmt: skip
        audit_log.record(connection, staff.who, "sign_in", staff.role, now_ms=now_ms)
    return token, staff


def session_staff(engine: Engine, token: str, now_ms: int) -> tuple[Staff, str] | None:
    """The enabled staff member of a live session and its anti-forgery token, or None."""
    sessions, table = store.staff_sessions, store.staff
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(table.c.id, table.c.name, table.c.role, sessions.c.csrf)
            .join(table, table.c.id == sessions.c.staff_id)
            .where(
                sessions.c.token_hash == token_digest(token),
                sessions.c.revoked == 0,
                sessions.c.expires_ms > now_ms,
                table.c.disabled == 0,
            )
        ).first()
    return None if row is None else (Staff(row.id, row.name, row.role), row.csrf)


def sign_out(engine: Engine, token: str, staff: Staff, now_ms: int) -> None:
    sessions = store.staff_sessions
    with engine.begin() as connection:
        connection.execute(
            sessions.update().where(sessions.c.token_hash == token_digest(token)).values(revoked=1)
        )
        audit_log.record(connection, staff.who, "sign_out", "", now_ms=now_ms)
