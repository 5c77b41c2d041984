"""Bank officers: named staff who sign in with a password, and the log of everything they do
(issue 16, "Bank officer page"). What they may do to customers is in `officer_desk`.

Rules:
- An officer is a row of `officers`: a login name (`[a-z0-9_.-]`, a staff login, not a
  person's name), its password's argon2id hash (the PIN profile, `pins`) and `disabled`.
  Officers are made on the gateway's host (`bakong gateway officer add`), never over the API.
  Disabling one ends its sessions at once.
- Sign-in (`POST /v1/officer/sessions`) is limited per client address (`throttle`) and locks
  the officer for `limits.pin_lockout_ms` after `limits.pin_failures_max` wrong passwords in a
  row, as a PIN does. An unknown or disabled name costs the same argon2 work and gets the same
  answer as a wrong password. A session is an `officer` session (`sessions`) whose
  `customer_id` is the officer's id, lasting a shift; `bakong gateway officer-token --name`
  opens one on the host. A session naming no enabled officer is refused like no session.
- Every act is written to `officer_actions` (`record_action`) in the database transaction of
  its effect: the officer, the act, the customer's id, the reason given, a detail without
  personal data (`tier 1 -> 2`) and the time. The table is append-only (a trigger refuses
  UPDATE and DELETE); `GET /v1/officer/actions` reads it, newest first.
- Nothing here logs personal data; errors name fields, never values.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.engine import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.gateway import db, pins, sessions
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.service import GatewayServices
from bakong.gateway.throttle import ClientLimiter
from bakong.gateway.wallets import bind, limited, query_params

__all__ = [
    "Officer",
    "OfficerRow",
    "add_officer",
    "authenticate_officer",
    "disable_officer",
    "ensure_officer",
    "generate_password",
    "list_officers",
    "open_officer_session",
    "password_problem",
    "record_action",
    "routes",
]

OfficerName = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9_.-]+$",
        min_length=limits.officer_name_chars_min,
        max_length=limits.officer_name_chars_max,
    ),
]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NAME = re.compile(r"^[a-z0-9_.-]+$")
# A password checked for nobody: an unknown name pays the same argon2 price as a known one.
_DECOY_HASH = pins.hash_pin("decoy-password-never-issued")


@dataclass(frozen=True)
class Officer:
    """The officer behind a request."""

    id: int
    name: str


class OfficerRow(msgspec.Struct, frozen=True):
    """An officer as `bakong gateway officer list` shows it (no hash)."""

    name: str
    disabled: bool
    locked_until_ms: int
    created_ms: int


# -- identities (the host's commands) ----------------------------------------------------------


def password_problem(password: str) -> str | None:
    """Why `password` may not be an officer's (a message for the person), or None."""
    if not limits.officer_password_chars_min <= len(password) <= limits.officer_password_chars_max:
        low, high = limits.officer_password_chars_min, limits.officer_password_chars_max
        return f"a password has {low} to {high} characters"
    if _CONTROL.search(password) or password != password.strip():
        return "a password has no control characters and no spaces at its ends"
    if len(set(password)) < 4:
        return "a password of so few different characters is guessed first"
    return None


def generate_password(random_bytes: Callable[[int], bytes]) -> str:
    """A new password: `limits.officer_password_generated_bytes` random bytes, base64url."""
    raw = random_bytes(limits.officer_password_generated_bytes)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def add_officer(engine: Engine, name: str, password: str, now_ms: int) -> int:
    """Store a new officer; its id. Refuses a malformed name, a weak password, a taken name."""
    problem = _name_problem(name) or password_problem(password)
    if problem is not None:
        raise GatewayProblem(400, "officer_invalid", problem)
    password_hash = pins.hash_pin(password)
    table = db.officers
    with engine.begin() as connection:
        taken = connection.execute(sa.select(table.c.id).where(table.c.name == name)).first()
        if taken is not None:
            raise GatewayProblem(409, "officer_exists", "an officer has this name")
        inserted = connection.execute(
            table.insert().values(name=name, password_hash=password_hash, created_ms=now_ms)
        )
    (officer_id,) = inserted.inserted_primary_key or (None,)
    assert isinstance(officer_id, int) and officer_id > 0
    return officer_id


def ensure_officer(
    engine: Engine, name: str, now_ms: int, random_bytes: Callable[[int], bytes]
) -> None:
    """Make officer `name` if there is none, with a password nobody is told: an identity for
    the host's own scripted work (its sessions come from `open_officer_session`)."""
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(db.officers.c.id).where(db.officers.c.name == name)
        ).first()
    if found is None:
        add_officer(engine, name, generate_password(random_bytes), now_ms)


def list_officers(engine: Engine) -> list[OfficerRow]:
    table = db.officers
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table).order_by(table.c.name)).all()
    return [OfficerRow(r.name, bool(r.disabled), r.locked_until_ms, r.created_ms) for r in rows]


def disable_officer(engine: Engine, name: str) -> bool:
    """Disable officer `name` and end its sessions; False when there is no such officer."""
    table = db.officers
    with engine.begin() as connection:
        officer_id = connection.execute(
            sa.select(table.c.id).where(table.c.name == name)
        ).scalar_one_or_none()
        if officer_id is None:
            return False
        connection.execute(table.update().where(table.c.id == officer_id).values(disabled=1))
        connection.execute(
            db.sessions.update()
            .where(db.sessions.c.customer_id == officer_id, db.sessions.c.role == "officer")
            .values(revoked=1)
        )
    return True


def open_officer_session(
    engine: Engine, name: str, now_ms: int, random_bytes: Callable[[int], bytes], lifetime_ms: int
) -> tuple[str, sessions.Session]:
    """A session of the enabled officer `name`, opened on the gateway's host
    (`bakong gateway officer-token`): how the back office works without the password."""
    with engine.begin() as connection:
        officer = _officer_named(connection, name)
        if officer is None or officer.disabled:
            raise GatewayProblem(404, "officer_not_found", "no enabled officer has this name")
        return sessions.open_session(
            connection, officer.id, "officer", now_ms, random_bytes, lifetime_ms
        )


def _name_problem(name: str) -> str | None:
    low, high = limits.officer_name_chars_min, limits.officer_name_chars_max
    if not (low <= len(name) <= high and _NAME.match(name)):
        return f"an officer's name is {low} to {high} of a-z, 0-9, '_', '.', '-'"
    return None


def _officer_named(connection: Connection, name: str) -> sa.Row[Any] | None:
    table = db.officers
    return connection.execute(sa.select(table).where(table.c.name == name)).first()


# -- signing in --------------------------------------------------------------------------------


class OfficerLogin(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: OfficerName
    password: Annotated[str, Meta(max_length=limits.officer_password_chars_max)]


def _count_failure(engine: Engine, officer_id: int, now_ms: int) -> None:
    """One more wrong password, counted atomically (two guesses at once both count)."""
    table = db.officers
    with engine.begin() as connection:
        failures, locked_until_ms = connection.execute(
            table.update()
            .where(table.c.id == officer_id)
            .values(failures=table.c.failures + 1)
            .returning(table.c.failures, table.c.locked_until_ms)
        ).one()
        lock = pins.after_failure(pins.Lock(failures - 1, locked_until_ms), now_ms)
        if lock.locked_until_ms != locked_until_ms:
            connection.execute(
                table.update()
                .where(table.c.id == officer_id)
                .values(locked_until_ms=lock.locked_until_ms)
            )


def _sign_in(
    services: GatewayServices, body: OfficerLogin, now_ms: int
) -> tuple[str, sessions.Session]:
    with services.engine.connect() as connection:
        row = _officer_named(connection, body.name)
    if row is None or row.disabled:
        pins.pin_matches(_DECOY_HASH, body.password)
        raise GatewayProblem(401, "login_failed", "the name or the password is wrong")
    lock = pins.Lock(row.failures, row.locked_until_ms)
    if pins.is_locked(lock, now_ms):
        minutes = -(-(lock.locked_until_ms - now_ms) // 60_000)
        message = f"too many wrong passwords: try again in {minutes} min"
        raise GatewayProblem(423, "login_locked", message)
    if not pins.pin_matches(row.password_hash, body.password):
        _count_failure(services.engine, row.id, now_ms)
        raise GatewayProblem(401, "login_failed", "the name or the password is wrong")
    table = db.officers
    with services.engine.begin() as connection:
        reset: dict[str, Any] = {"failures": 0}
        if pins.pin_needs_rehash(row.password_hash):
            reset["password_hash"] = pins.hash_pin(body.password)
        connection.execute(table.update().where(table.c.id == row.id).values(**reset))
        return sessions.open_session(
            connection, row.id, "officer", now_ms, services.random_bytes,
            limits.officer_session_lifetime_ms_default,
        )  # fmt: skip


async def sign_in(services: GatewayServices, request: Request) -> Response:
    """An officer signs in with name and password: a bearer token for a shift."""
    body = await read_json(request, OfficerLogin, limits.wallet_body_bytes_max)
    token, session = await services.db(_sign_in, services, body, services.clock_ms())
    answer = {"token": token, "expires_ms": session.expires_ms, "name": body.name}
    return json_response(answer, 201)


def _enabled_officer(engine: Engine, officer_id: int) -> Officer | None:
    table = db.officers
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(table.c.id, table.c.name).where(
                table.c.id == officer_id, table.c.disabled == 0
            )
        ).first()
    return None if row is None else Officer(row.id, row.name)


async def authenticate_officer(services: GatewayServices, request: Request) -> Officer:
    """The enabled officer behind the request's bearer token, or 401 `unauthenticated`."""
    session = await sessions.authenticate(services, request, "officer")
    officer = await services.db(_enabled_officer, services.engine, session.customer_id)
    if officer is None:  # disabled, or a session of the anonymous officers before 0003
        raise GatewayProblem(401, "unauthenticated", "a valid bearer token is required")
    return officer


async def whoami(services: GatewayServices, request: Request) -> Response:
    """The signed-in officer's name, for the page's header."""
    officer = await authenticate_officer(services, request)
    return json_response({"name": officer.name})


# -- the actions log ---------------------------------------------------------------------------


def record_action(
    connection: Connection, officer: Officer, action: str, customer_id: int | None,
    *, reason: str = "", detail: str = "", now_ms: int,
) -> None:  # fmt: skip
    """Append one act to `officer_actions`, in the caller's transaction (with its effect)."""
    connection.execute(
        db.officer_actions.insert().values(
            officer_id=officer.id, action=action, customer_id=customer_id,
            reason=reason, detail=detail, time_ms=now_ms,
        )
    )  # fmt: skip


class LogQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    limit: Annotated[int, Meta(ge=1, le=limits.officer_actions_page_max)] = (
        limits.officer_actions_page_default
    )
    before: Annotated[int, Meta(ge=1)] | None = None  # entries older than this id


def _actions(engine: Engine, query: LogQuery) -> dict[str, Any]:
    acts, staff, people = db.officer_actions, db.officers, db.customers
    select = (
        sa.select(acts, staff.c.name.label("officer"), people.c.handle, people.c.account_id)
        .join(staff, staff.c.id == acts.c.officer_id)
        .outerjoin(people, people.c.id == acts.c.customer_id)
    )
    if query.before is not None:
        select = select.where(acts.c.id < query.before)
    with engine.connect() as connection:
        rows = connection.execute(select.order_by(acts.c.id.desc()).limit(query.limit)).all()
    entries = [
        {"id": row.id, "officer": row.officer, "action": row.action, "handle": row.handle,
         "account_id": row.account_id, "reason": row.reason, "detail": row.detail,
         "time_ms": row.time_ms}
        for row in rows
    ]  # fmt: skip
    more = len(rows) == query.limit
    return {"actions": entries, "next_before": rows[-1].id if more else None}


async def actions(services: GatewayServices, request: Request) -> Response:
    """What officers did, newest first, a page at a time (`before` from the last page)."""
    await authenticate_officer(services, request)
    query = query_params(request, LogQuery)
    return json_response(await services.db(_actions, services.engine, query))


def routes(services: GatewayServices) -> list[BaseRoute]:
    def route(path: str, handler: Any, method: str, body: Any | None = None) -> Route:
        return Route(path, bind(services, handler, body), methods=[method])

    # A bucket of its own: an officer's sign-in is a door like the customers' login.
    logins = ClientLimiter(limits.client_logins_per_min, limits.client_login_burst, "logins")
    return [
        route("/v1/officer/sessions", limited(logins, sign_in), "POST", OfficerLogin),
        route("/v1/officer/session", whoami, "GET"),
        route("/v1/officer/actions", actions, "GET"),
    ]
