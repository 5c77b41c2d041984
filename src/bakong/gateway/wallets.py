"""The wallet API: registration by phone, PIN login, balances, history, "my QR", request money.
Payments are in `payments`, live events in `events`, what bank officers do in `officers`.

Rules:
- Registration proves the phone with a one-time code (`otp`, sent through `sms`), then creates
  a basic-tier personal account `handle@participant` on the ledger with the phone's alias
  (`HMAC(alias_key, phone)`), in one transaction signed by the participant's admin key. The
  name, phone and birth date are stored in `customers` only; the ledger sees the handle, the
  alias hash and the public key.
- Onboarding is restartable (`onboard`). The customer row (reserving handle and phone), the
  code's spending and the onboarding transaction, signed and stored as a submission
  (`submission.store_signed`, key `onboard:<customer id>`, by the gateway), are written in one
  database transaction; only then is anything sent. A crash after it leaves bytes the
  resubmitter sends again after the restart, so the account reaches the ledger once, with its
  alias. The same request sent again (same phone and handle, the code it spent, the same PIN)
  resumes that onboarding instead of failing: 201 with a session once the account is on the
  ledger, 202 while it is on its way. If the ledger refuses it for good, the row and its
  submission are removed again: by the retry, or by the sweeper (`run_onboarding_sweeper`)
  when nobody retries, so a refused registration never keeps a handle or phone taken. An
  already-taken handle is answered `handle_taken` without spending the code.
- A bank officer opens a merchant the same way (`officers`, `onboard` with a row of its own):
  a full-tier merchant account with a custodial key and no phone alias (the phone is the
  owner's, to sign in; payers reach a till by its KHQR). Login gives a session whose role
  follows the row's kind: `merchant` for a merchant (the till's routes), `customer` for a
  person. A wallet a bank officer froze cannot sign in (`account_frozen`, told only to the
  holder of the right PIN).
- Login and code requests are also limited per client address (`throttle`): 429
  `rate_limited` with `Retry-After`, besides the per-wallet lockout and per-phone code quota.
- Custody is custodial unless the body brings the customer's own public key: then the gateway
  keeps no seed and relays only what that key signs (`custody`).
- Login checks the PIN (`pins`) under lockout; an unknown phone or handle costs the same
  argon2 work and gets the same answer as a wrong PIN, so login does not say who is a customer.
- Every route but registration and login needs a session of its role (`sessions`). A customer
  reads only its own wallet: there is no route that takes another customer's ID.
- Nothing personal reaches a log, an error or a URL: handles are the only identifiers in paths.
- The codes go out through `services.sms_provider` when one is configured: `workers` runs
  its sender (`sms.run_sender`) with the app.
"""

from __future__ import annotations

import asyncio
import datetime
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.engine import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import (
    AccountKind,
    Committed,
    KycTier,
    TransactionBuilder,
    alias_hash,
    create_account,
    register_alias,
)
from bakong.gateway import (
    claim_history,
    custody,
    db,
    merchants,
    otp,
    pins,
    sessions,
    sms,
    submission,
)
from bakong.gateway.crossborder import history as foreign_history
from bakong.gateway.openapi import describe
from bakong.gateway.parties import display_name
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.service import GatewayServices, Worker
from bakong.gateway.throttle import ClientLimiter
from bakong.khqr import Generated, Options, generate_individual
from bakong.khqr import tags as khqr_tags
from bakong.ledger.assets import Asset
from bakong.ledger.identifiers import is_account_id
from bakong.ledger.transaction import Transaction, transaction_hash
from bakong.qrimage.render import render_png, render_svg
from bakong.wire.keys import SigningKey, public_key_size, seed_size

__all__ = [
    "Onboarding",
    "PhoneNumber",
    "bind",
    "check_pin",
    "complete_onboarding",
    "customer_by_id",
    "limited",
    "onboard",
    "onboarding_key",
    "query_params",
    "role_of",
    "routes",
    "run_onboarding_sweeper",
    "submit_as_participant",
    "wallet_keys",
    "sweep_rejected_onboardings",
    "Handle",
    "workers",
]

log = logging.getLogger(__name__)

REGISTER = "register"
KHQR_CITY = "Phnom Penh"  # tag 60 of a customer's QR: the bank's city, not the person's
PhoneNumber = Annotated[str, Meta(pattern=rf"^\+[1-9][0-9]{{7,{limits.phone_digits_max - 1}}}$")]
Handle = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9_.]+$",
        min_length=limits.handle_chars_min,
        max_length=limits.account_name_chars_max,
    ),
]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A PIN checked for nobody: an unknown login pays the same argon2 price as a known one.
_DECOY_HASH = pins.hash_pin("730194")


class RegisterStart(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    phone: PhoneNumber


class RegisterFinish(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    phone: PhoneNumber
    code: Annotated[str, Meta(pattern=rf"^[0-9]{{{limits.otp_digits}}}$")]
    handle: Handle
    name: Annotated[str, Meta(min_length=1, max_length=limits.customer_name_chars_max)]
    birth_date: Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pin: Annotated[str, Meta(max_length=limits.pin_digits_max)]
    public_key: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")] | None = None  # self-custody


class Login(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pin: Annotated[str, Meta(max_length=limits.pin_digits_max)]
    phone: PhoneNumber | None = None
    handle: Handle | None = None


class WalletRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    amount: Annotated[int, Meta(gt=0, le=limits.amount_max)]
    asset: Annotated[str, Meta(pattern=r"^(KHR|USD)$")]
    lifetime_ms: Annotated[
        int, Meta(ge=limits.khqr_expiry_ms_min, le=limits.khqr_expiry_ms_max)
    ] = limits.khqr_expiry_ms_default
    image: Annotated[str, Meta(pattern=r"^svg$")] | None = None  # add the code drawn as SVG


def customer_by_id(connection: Connection, customer_id: int) -> sa.Row[Any]:
    row = connection.execute(
        sa.select(db.customers).where(db.customers.c.id == customer_id)
    ).first()
    if row is None:  # a session outlived its customer: treat it as no session
        raise GatewayProblem(401, "unauthenticated", "a valid bearer token is required")
    return row


async def submit_as_participant(services: GatewayServices, *commands: Any) -> Committed:
    """Sign the participant's own commands with its admin key and wait for their block."""
    builder = (await services.core.builder(services.participant)).add(*commands)
    transaction = builder.sign(services.admin_key)
    return await services.core.submit_and_wait(transaction, timeout_s=limits.gateway_submit_wait_s)


# -- registration --------------------------------------------------------------------------------


def _send_code(services: GatewayServices, phone: str, now_ms: int) -> bool:
    pepper = custody.derive_key(services.kek, "otp")
    with services.engine.begin() as connection:
        code = otp.issue_code(connection, pepper, REGISTER, phone, now_ms, services.random_bytes)
        if code is None:
            return False
        sms.queue_sms(connection, phone, sms.code_message(code), now_ms)
        return True


async def register_start(services: GatewayServices, request: Request) -> Response:
    """Send a one-time code to a phone, to prove it before registering."""
    body = await read_json(request, RegisterStart, limits.wallet_body_bytes_max)
    if not await services.db(_send_code, services, body.phone, services.clock_ms()):
        raise GatewayProblem(429, "too_many_codes", "too many codes for this phone: try later")
    return json_response({"sent": True, "expires_in_ms": limits.otp_lifetime_ms}, 202)


def _check_registration(body: RegisterFinish, participant: str, now_ms: int) -> None:
    if not is_account_id(f"{body.handle}@{participant}"):
        raise GatewayProblem(400, "handle_invalid", "this handle does not make an account ID")
    if body.name != body.name.strip() or _CONTROL.search(body.name):
        raise GatewayProblem(400, "name_invalid", "the name has control characters or padding")
    try:
        born = datetime.date.fromisoformat(body.birth_date)
    except ValueError:
        raise GatewayProblem(400, "birth_date_invalid", "the birth date is not a date") from None
    today = datetime.datetime.fromtimestamp(now_ms / 1000, datetime.UTC).date()
    if born >= today:
        raise GatewayProblem(400, "birth_date_invalid", "the birth date is not in the past")
    problem = pins.pin_problem(body.pin)
    if problem is not None:
        raise GatewayProblem(400, "pin_invalid", problem)


class Onboarding(msgspec.Struct, frozen=True, kw_only=True):
    """A new customer or merchant as it will be stored and put on the ledger."""

    handle: str
    account_id: str
    phone: str
    name: str
    birth_date: str | None
    kind: str  # 'personal' (with its phone alias on the ledger) | 'merchant' (without)
    tier: int
    public_key: bytes
    sealed: bytes | None
    pin_hash: str


def _ledger_commands(services: GatewayServices, onboarding: Onboarding) -> list[Any]:
    opened = create_account(
        onboarding.account_id, [onboarding.public_key],
        kind=AccountKind(onboarding.kind), tier=KycTier(onboarding.tier),
    )  # fmt: skip
    if onboarding.kind != "personal":
        # A merchant's phone is its owner's, for signing in; payers reach a till by its KHQR.
        return [opened]
    return [opened, register_alias(alias_hash(services.alias_key, onboarding.phone),
                                   onboarding.account_id)]  # fmt: skip


def _onboarding_transaction(services: GatewayServices, onboarding: Onboarding) -> Transaction:
    builder = TransactionBuilder(
        chain_id=services.chain_id, creator=services.participant,
        created_ms=services.clock_ms(), nonce=services.nonces(),
    )  # fmt: skip
    return builder.add(*_ledger_commands(services, onboarding)).sign(services.admin_key)


def onboarding_key(customer_id: int) -> str:
    """The idempotency key of a customer's onboarding submission (by the gateway, id 0)."""
    return f"onboard:{customer_id}"


class _Resume(msgspec.Struct, frozen=True):
    customer_id: int


#: Rows of its own an onboarding writes with the customer row (a merchant's `merchants` row).
Also = Callable[[Connection], None]


def _insert(
    connection: Connection, onboarding: Onboarding, transaction: Transaction, now_ms: int,
    also: Also | None,
) -> int:  # fmt: skip
    """The customer row and its signed onboarding submission, in the caller's transaction."""
    inserted = connection.execute(db.customers.insert().values(
        handle=onboarding.handle, account_id=onboarding.account_id, phone=onboarding.phone,
        name=onboarding.name, birth_date=onboarding.birth_date, tier=onboarding.tier,
        kind=onboarding.kind, pin_hash=onboarding.pin_hash, pin_failures=0, locked_until_ms=0,
        custody="custodial" if onboarding.sealed else "self", key_sealed=onboarding.sealed,
        public_key=onboarding.public_key, created_ms=now_ms,
    ))  # fmt: skip
    (customer_id,) = inserted.inserted_primary_key or (None,)
    assert isinstance(customer_id, int)
    if also is not None:
        also(connection)
    submission.store_signed(
        connection, sessions.OFFICER, onboarding_key(customer_id),
        transaction_hash(transaction.payload).hex(), transaction, now_ms,
    )  # fmt: skip
    return customer_id


def _code_was_spent_here(connection: Connection, pepper: bytes, phone: str, code: str) -> bool:
    """Whether `code` is the newest registration code of `phone` and was spent (by the
    registration being retried): the proof a retry must bring besides the PIN."""
    table = db.otp_codes
    row = connection.execute(
        sa.select(table.c.code_hash, table.c.used)
        .where(table.c.phone == phone, table.c.purpose == REGISTER)
        .order_by(table.c.id.desc())
        .limit(1)
    ).first()
    if row is None or not row.used:
        return False
    return hmac.compare_digest(row.code_hash, otp.code_digest(pepper, REGISTER, phone, code))


def _is_retry(
    connection: Connection, pepper: bytes, row: Any, onboarding: Onboarding,
    code: str | None, pin: str, now_ms: int,
) -> bool:  # fmt: skip
    """Whether the stored `row` is this onboarding's, sent again: same handle, the spent
    code (an officer needs none), the same PIN, and the wallet not locked."""
    if row.handle != onboarding.handle or row.pin_hash is None:
        return False
    if pins.is_locked(pins.Lock(row.pin_failures, row.locked_until_ms), now_ms):
        return False
    if code is not None and not _code_was_spent_here(connection, pepper, onboarding.phone, code):
        return False
    return pins.pin_matches(row.pin_hash, pin)


def _enrol(
    services: GatewayServices, onboarding: Onboarding, transaction: Transaction,
    code: str | None, pin: str, now_ms: int, also: Also | None,
) -> int | _Resume:  # fmt: skip
    """Reserve handle and phone and store the signed onboarding, in one transaction (spending
    the code, when a customer registers itself); the customer's id. A retry of an onboarding
    already stored (same handle and phone, the spent code, the same PIN) is a `_Resume`.
    A taken handle is refused before the code is looked at (handles are public: they are
    printed on QR codes), so the code stays good for another handle."""
    pepper = custody.derive_key(services.kek, "otp")
    table = db.customers
    with services.engine.begin() as connection:
        taken = connection.execute(
            sa.select(
                table.c.id,
                table.c.handle,
                table.c.phone,
                table.c.pin_hash,
                table.c.pin_failures,
                table.c.locked_until_ms,
            ).where((table.c.handle == onboarding.handle) | (table.c.phone == onboarding.phone))
        ).all()
        if any(row.phone != onboarding.phone for row in taken):
            raise GatewayProblem(409, "handle_taken", "this handle is taken: choose another")
        if taken and _is_retry(connection, pepper, taken[0], onboarding, code, pin, now_ms):
            if _resumable(connection, taken[0].id, onboarding, now_ms):
                return _Resume(taken[0].id)
        verdict = otp.Verdict.ok
        if code is not None:
            verdict = otp.verify_code(connection, pepper, REGISTER, onboarding.phone, code, now_ms)
        if verdict is otp.Verdict.ok and not taken:
            return _insert(connection, onboarding, transaction, now_ms, also)
    # Outside the `with`: the wrong try is counted (committed) before the refusal.
    if verdict is not otp.Verdict.ok:
        raise GatewayProblem(400, verdict.value, _CODE_MESSAGES[verdict])
    raise GatewayProblem(409, "phone_registered", "this phone already has a wallet")


def _resumable(
    connection: Connection, customer_id: int, onboarding: Onboarding, now_ms: int
) -> bool:
    """Whether a retry may resume the stored onboarding of `customer_id`, claimed from the
    sweeper first: the touch makes the sweeper's delete (conditional on a submission left
    untouched) spare it, and holds the write lock, so the row read after it is the latest.
    A row the sweeper removed meanwhile (its id perhaps reused by a newer registration) is
    not resumed."""
    submission.touch_rejected(connection, sessions.OFFICER, onboarding_key(customer_id), now_ms)
    table = db.customers
    row = connection.execute(
        sa.select(table.c.handle, table.c.phone).where(table.c.id == customer_id)
    ).first()
    return row is not None and (row.handle, row.phone) == (onboarding.handle, onboarding.phone)


_CODE_MESSAGES = {
    otp.Verdict.code_wrong: "the code is wrong",
    otp.Verdict.code_expired: "the code has expired: ask for a new one",
    otp.Verdict.code_spent: "the code was used or tried too often: ask for a new one",
    otp.Verdict.code_missing: "no code was sent to this phone: ask for one",
}


def _stored_onboarding(engine: Engine, customer_id: int) -> submission.Submission | None:
    with engine.connect() as connection:
        return submission.find_submission(connection, sessions.OFFICER, onboarding_key(customer_id))


def _undo(
    engine: Engine, customer_id: int, submission_id: int, untouched_since_ms: int | None = None
) -> bool:
    """The ledger refused the onboarding for good: free its handle and phone again. Only
    whoever discards the rejected submission removes the rows, so a retry and the sweeper
    racing each other cannot remove a later customer that reused the id. The sweeper passes
    the time it looked (`untouched_since_ms`): a retry that claimed the onboarding since
    (`_resumable`) undoes it itself. True if this call removed them."""
    with engine.begin() as connection:
        if not submission.discard_rejected(connection, submission_id, untouched_since_ms):
            return False
        account_id = connection.execute(
            sa.select(db.customers.c.account_id).where(db.customers.c.id == customer_id)
        ).scalar_one_or_none()
        connection.execute(db.merchants.delete().where(db.merchants.c.account_id == account_id))
        connection.execute(db.customers.delete().where(db.customers.c.id == customer_id))
        return True


def _rejected_onboardings(engine: Engine, finished_before_ms: int) -> list[tuple[int, int]]:
    """(customer id, submission id) of onboardings the ledger refused before the time given."""
    table = db.submissions
    prefix = onboarding_key(0).removesuffix("0")
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.id, table.c.idempotency_key)
            .where(
                table.c.customer_id == sessions.OFFICER,
                table.c.state == submission.State.rejected.value,
                table.c.idempotency_key.startswith(prefix, autoescape=True),
                table.c.updated_ms <= finished_before_ms,
            )
            .order_by(table.c.id)
            .limit(limits.gateway_resume_batch_max)
        ).all()
    return [(int(row.idempotency_key.removeprefix(prefix)), int(row.id)) for row in rows]


async def sweep_rejected_onboardings(services: GatewayServices) -> int:
    """Undo every onboarding the ledger refused that nobody sent again, as a retry would
    (`_undo`), once it has been refused for `limits.onboarding_sweep_grace_ms` (a retry in
    flight undoes its own); the number undone."""
    before_ms = services.clock_ms() - limits.onboarding_sweep_grace_ms
    found = await services.db(_rejected_onboardings, services.engine, before_ms)
    undone = 0
    for customer_id, submission_id in found:
        undone += await services.db(_undo, services.engine, customer_id, submission_id, before_ms)
    return undone


async def run_onboarding_sweeper(services: GatewayServices) -> None:
    """`sweep_rejected_onboardings` every `limits.onboarding_sweep_s`, until cancelled."""
    while True:
        try:
            swept = await sweep_rejected_onboardings(services)
            if swept:
                log.info("refused onboardings undone", extra={"count": swept})
        except sa.exc.OperationalError:  # the database is briefly unavailable: next round
            log.warning("onboarding sweeper: database unavailable")
        await asyncio.sleep(limits.onboarding_sweep_s)


async def complete_onboarding(services: GatewayServices, customer_id: int) -> bool:
    """Drive a stored onboarding to the ledger (again, after a crash: the same bytes); True
    once the account is there, False while it is on its way; a refusal is raised."""
    stored = await services.db(_stored_onboarding, services.engine, customer_id)
    if stored is None:  # opened before onboardings were stored: on the ledger long since
        return True
    found = await submission.send_signed(services, stored)
    if found.state is submission.State.committed:
        return True
    if found.state is not submission.State.rejected:
        return False
    await services.db(_undo, services.engine, customer_id, found.id)
    if found.result == "account_exists":
        raise GatewayProblem(409, "handle_taken", "this handle is taken: choose another")
    raise GatewayProblem(502, "ledger_refused", f"the ledger refused: {found.result}")


async def onboard(
    services: GatewayServices, onboarding: Onboarding, code: str | None, pin: str,
    also: Also | None = None,
) -> tuple[int, bool]:  # fmt: skip
    """Store and drive an onboarding (or resume the stored one it repeats): the customer's id
    and whether the account is on the ledger yet."""
    transaction = _onboarding_transaction(services, onboarding)
    enrolled = await services.db(
        _enrol, services, onboarding, transaction, code, pin, services.clock_ms(), also
    )
    customer_id = enrolled.customer_id if isinstance(enrolled, _Resume) else enrolled
    return customer_id, await complete_onboarding(services, customer_id)


def wallet_keys(
    services: GatewayServices, public_key_hex: str | None, account_id: str
) -> tuple[bytes, bytes | None]:
    if public_key_hex is not None:
        return bytes.fromhex(public_key_hex), None
    seed = services.random_bytes(seed_size)
    nonce = services.random_bytes(custody.seal_nonce_size)
    sealed = custody.seal_seed(services.kek, account_id, seed, nonce)
    return bytes(SigningKey(seed).public_key), sealed


async def _onboarded_answer(
    services: GatewayServices, customer_id: int, account_id: str, on_ledger: bool, role: str
) -> Response:
    if not on_ledger:  # stored and sent: the same request again finishes it
        return json_response({"account_id": account_id, "state": "submitted"}, 202)
    token, session = await services.db(_open, services.engine, customer_id, role, services)
    answer: dict[str, Any] = {
        "account_id": account_id,
        "token": token,
        "expires_ms": session.expires_ms,
    }
    return json_response(answer, 201)


async def register_finish(services: GatewayServices, request: Request) -> Response:
    """Open a basic-tier wallet: the code, a handle, name, birth date and PIN. Sent again with
    the same details after a failure, it finishes the same registration (202 until then)."""
    body = await read_json(request, RegisterFinish, limits.wallet_body_bytes_max)
    _check_registration(body, services.participant, services.clock_ms())
    account_id = f"{body.handle}@{services.participant}"
    public_key, sealed = wallet_keys(services, body.public_key, account_id)
    assert len(public_key) == public_key_size
    onboarding = Onboarding(
        handle=body.handle, account_id=account_id, phone=body.phone, name=body.name,
        birth_date=body.birth_date, kind="personal", tier=int(KycTier.basic),
        public_key=public_key, sealed=sealed, pin_hash=await services.db(pins.hash_pin, body.pin),
    )  # fmt: skip
    customer_id, on_ledger = await onboard(services, onboarding, body.code, body.pin)
    return await _onboarded_answer(services, customer_id, account_id, on_ledger, "customer")


def _open(
    engine: Engine, customer_id: int, role: str, services: GatewayServices
) -> tuple[str, sessions.Session]:
    with engine.begin() as connection:
        return sessions.open_session(
            connection, customer_id, role, services.clock_ms(), services.random_bytes
        )


# -- login -----------------------------------------------------------------------------------------


def role_of(kind: str) -> str:
    """The session role a customer row's kind signs in to: a merchant's owner gets the till,
    a cash agent the agent's routes (`agents`)."""
    return kind if kind in ("merchant", "agent") else "customer"


def _login(
    services: GatewayServices, body: Login, now_ms: int
) -> tuple[str, sessions.Session, str]:
    table = db.customers
    where = table.c.phone == body.phone if body.phone is not None else table.c.handle == body.handle
    with services.engine.connect() as connection:
        row = connection.execute(sa.select(table).where(where)).first()
    if row is None or row.pin_hash is None:
        pins.pin_matches(_DECOY_HASH, body.pin)
        raise _wrong_pin(pins.Lock(1, 0), now_ms)
    check_pin(services.engine, row, body.pin, now_ms)
    if row.status == "frozen":
        raise GatewayProblem(403, "account_frozen", "this wallet is frozen: contact the bank")
    with services.engine.begin() as connection:
        reset: dict[str, Any] = {"pin_failures": 0}
        if pins.pin_needs_rehash(row.pin_hash):
            reset["pin_hash"] = pins.hash_pin(body.pin)
        connection.execute(table.update().where(table.c.id == row.id).values(**reset))
        token, session = sessions.open_session(
            connection, row.id, role_of(row.kind), now_ms, services.random_bytes
        )
    return token, session, row.account_id


def _wrong_pin(lock: pins.Lock, now_ms: int) -> GatewayProblem:
    """401 `login_failed` after a wrong PIN, with the attempts left before the wallet locks
    (and when the lock ends, once it has locked)."""
    details: dict[str, Any] = {"attempts_left": pins.attempts_left(lock)}
    if pins.is_locked(lock, now_ms):
        details["locked_until_ms"] = lock.locked_until_ms
    return GatewayProblem(401, "login_failed", "the PIN or the phone or handle is wrong", details)


def check_pin(engine: Engine, row: Any, pin: str, now_ms: int) -> None:
    """`pin` checked against the customer `row` under its lockout (argon2 work: run it in a
    worker thread): 423 `pin_locked` with `locked_until_ms` while locked; 401 `login_failed`
    with `attempts_left` when wrong (counted). The caller resets the count when it is right.
    An unknown phone answers as a wallet's first wrong PIN does; the count of a real one
    tells a guesser the phone has a wallet, which paying that phone would tell any customer."""
    lock = pins.Lock(row.pin_failures, row.locked_until_ms)
    if pins.is_locked(lock, now_ms):
        minutes = -(-(lock.locked_until_ms - now_ms) // 60_000)
        raise GatewayProblem(
            423, "pin_locked", f"too many wrong PINs: try again in {minutes} min",
            {"locked_until_ms": lock.locked_until_ms},
        )  # fmt: skip
    if not pins.pin_matches(row.pin_hash, pin):
        raise _wrong_pin(_count_failure(engine, row.id, now_ms), now_ms)


def _count_failure(engine: Engine, customer_id: int, now_ms: int) -> pins.Lock:
    """One more wrong PIN, counted atomically (two guesses at once both count); the lock
    after it."""
    table = db.customers
    with engine.begin() as connection:
        failures = connection.execute(
            table.update()
            .where(table.c.id == customer_id)
            .values(pin_failures=table.c.pin_failures + 1)
            .returning(table.c.pin_failures, table.c.locked_until_ms)
        ).one()
        lock = pins.after_failure(pins.Lock(failures[0] - 1, failures[1]), now_ms)
        if lock.locked_until_ms != failures[1]:
            connection.execute(
                table.update()
                .where(table.c.id == customer_id)
                .values(locked_until_ms=lock.locked_until_ms)
            )
    return lock


async def login(services: GatewayServices, request: Request) -> Response:
    """Log in with phone or handle and PIN: a bearer token (PINs lock after failures)."""
    body = await read_json(request, Login, limits.wallet_body_bytes_max)
    if (body.phone is None) == (body.handle is None):
        raise GatewayProblem(400, "bad_request", "give exactly one of phone and handle")
    token, session, account_id = await services.db(_login, services, body, services.clock_ms())
    answer = {"account_id": account_id, "token": token, "expires_ms": session.expires_ms,
              "role": session.role}  # fmt: skip
    return json_response(answer, 201)


async def logout(services: GatewayServices, request: Request) -> Response:
    """End this session (a customer's, a merchant's till's or an officer's): its token is
    refused from now on."""
    session = await sessions.authenticate(services, request, *sessions.ROLES)

    def revoke() -> None:
        with services.engine.begin() as connection:
            sessions.revoke_session(connection, session.token_hash)

    await services.db(revoke)
    return Response(status_code=204)


# -- the wallet ----------------------------------------------------------------------------------


def _wallet(engine: Engine, customer_id: int) -> dict[str, Any]:
    with engine.connect() as connection:
        customer = customer_by_id(connection, customer_id)
        rows = connection.execute(
            sa.select(db.balances).where(db.balances.c.account_id == customer.account_id)
        ).all()
    found = {row.asset: {"available": row.available, "held": row.held} for row in rows}
    empty = {"available": 0, "held": 0}
    return {
        "account_id": customer.account_id,
        "tier": customer.tier,
        "custody": customer.custody,
        "balances": {asset: found.get(asset, empty) for asset in ("KHR", "USD")},
    }


async def wallet(services: GatewayServices, request: Request) -> Response:
    """The customer's balances (KHR, USD) as of the last block the gateway applied."""
    session = await sessions.authenticate(services, request, "customer")
    return json_response(await services.db(_wallet, services.engine, session.customer_id))


class HistoryQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    cursor: Annotated[int, Meta(ge=0)] | None = None  # entries older than this id
    limit: Annotated[int, Meta(ge=1, le=limits.history_page_max)] = limits.history_page_default
    direction: Annotated[str, Meta(pattern=r"^(in|out)$")] | None = None
    asset: Annotated[str, Meta(pattern=r"^(KHR|USD)$")] | None = None
    since_ms: Annotated[int, Meta(ge=0)] | None = None  # entries at or after this time
    until_ms: Annotated[int, Meta(ge=0)] | None = None  # entries before this time
    tx_hash: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")] | None = None  # one receipt's


def query_params(request: Request, kind: type[msgspec.Struct]) -> Any:
    """The query string decoded strictly as `kind` (numbers from their text), or 400."""
    try:
        return msgspec.convert(dict(request.query_params), kind, strict=False)
    except msgspec.ValidationError as error:
        raise GatewayProblem(400, "bad_request", str(error)) from None


def _history(engine: Engine, customer_id: int, query: HistoryQuery) -> dict[str, Any]:
    table = db.history
    with engine.connect() as connection:
        account_id = customer_by_id(connection, customer_id).account_id
        select = sa.select(table).where(table.c.account_id == account_id)
        if query.cursor is not None:
            select = select.where(table.c.id < query.cursor)
        if query.direction is not None:
            select = select.where(table.c.direction == query.direction)
        if query.asset is not None:
            select = select.where(table.c.asset == query.asset)
        if query.since_ms is not None:
            select = select.where(table.c.time_ms >= query.since_ms)
        if query.until_ms is not None:
            select = select.where(table.c.time_ms < query.until_ms)
        if query.tx_hash is not None:
            select = select.where(table.c.tx_hash == bytes.fromhex(query.tx_hash))
        rows = connection.execute(select.order_by(table.c.id.desc()).limit(query.limit)).all()
    entries = [
        {
            "id": row.id, "height": row.height, "tx_hash": row.tx_hash.hex(),
            "direction": row.direction, "counterparty": row.counterparty, "asset": row.asset,
            "amount": row.amount, "memo": row.memo, "reference": row.reference,
            "result": row.result, "time_ms": row.time_ms,
        }
        for row in rows
    ]  # fmt: skip
    more = len(rows) == query.limit
    with engine.connect() as connection:  # money sent to phones with no wallet, shown too
        entries = claim_history.merged(connection, account_id, query, entries, more)
        entries = foreign_history.annotated(connection, account_id, entries)  # paid abroad
    return {"entries": entries, "next_cursor": rows[-1].id if more else None}


async def history(services: GatewayServices, request: Request) -> Response:
    """The customer's payments, newest first, a page at a time (`cursor` from the last page)."""
    session = await sessions.authenticate(services, request, "customer")
    query = query_params(request, HistoryQuery)
    return json_response(await services.db(_history, services.engine, session.customer_id, query))


# -- my QR and request money -------------------------------------------------------------------


class QrQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: Annotated[str, Meta(pattern=r"^(json|png|svg)$")] = "json"
    asset: Annotated[str, Meta(pattern=r"^(KHR|USD)$")] = "KHR"


def _qr_answer(generated: Generated, format_: str, extra: dict[str, Any]) -> Response:
    if format_ == "png":
        return Response(render_png(generated.qr), media_type="image/png")
    if format_ == "svg":
        return Response(render_svg(generated.qr), media_type="image/svg+xml")
    return json_response({"qr": generated.qr, "md5": generated.md5, **extra})


def _payee(engine: Engine, customer_id: int) -> tuple[str, str]:
    with engine.connect() as connection:
        customer = customer_by_id(connection, customer_id)
    return customer.account_id, display_name(customer.name)


async def my_qr(services: GatewayServices, request: Request) -> Response:
    """The customer's static KHQR (tag 29): the payer types the amount. JSON, PNG or SVG."""
    session = await sessions.authenticate(services, request, "customer")
    query = query_params(request, QrQuery)
    account_id, name = await services.db(_payee, services.engine, session.customer_id)
    currency = khqr_tags.KHR if query.asset == "KHR" else khqr_tags.USD
    generated = generate_individual(
        account_id, name, KHQR_CITY, Options(currency=currency), now_ms=services.clock_ms()
    )
    return _qr_answer(generated, query.format, {})


def _store_request(
    engine: Engine, generated: Generated, account_id: str, body: WalletRequest, bill: str,
    expires_ms: int, now_ms: int,
) -> None:  # fmt: skip
    with engine.begin() as connection:
        merchants.store_code(
            connection, generated, account_id=account_id, asset=Asset(body.asset),
            amount=body.amount, bill=bill, expires_ms=expires_ms, now_ms=now_ms,
        )  # fmt: skip


async def request_money(services: GatewayServices, request: Request) -> Response:
    """A one-time KHQR (tag 29) for an amount, paid at most once before it expires."""
    session = await sessions.authenticate(services, request, "customer")
    body = await read_json(request, WalletRequest, limits.wallet_body_bytes_max)
    account_id, name = await services.db(_payee, services.engine, session.customer_id)
    now_ms = services.clock_ms()
    asset = Asset(body.asset)
    bill = merchants.bill_number(services.random_bytes(limits.bill_number_bytes))
    expires_ms = now_ms + body.lifetime_ms
    options = Options(
        currency=khqr_tags.KHR if asset is Asset.KHR else khqr_tags.USD,
        amount=merchants.khqr_amount(asset, body.amount),
        bill_number=bill,
        expiration_timestamp=expires_ms,
    )
    generated = generate_individual(account_id, name, KHQR_CITY, options, now_ms=now_ms)
    await services.db(
        _store_request, services.engine, generated, account_id, body, bill, expires_ms, now_ms
    )
    extra: dict[str, Any] = {"expires_ms": expires_ms, "bill_number": bill}
    if body.image == "svg":  # a page shows the code it cannot draw itself
        extra["svg"] = render_svg(generated.qr)
    return _qr_answer(generated, "json", extra)


# -- routes --------------------------------------------------------------------------------------

Handler = Callable[[GatewayServices, Request], Awaitable[Response]]


def bind(services: GatewayServices, handler: Handler, body: Any | None = None) -> Any:
    """`handler` as a Starlette endpoint over `services`, described for the OpenAPI document."""

    async def endpoint(request: Request) -> Response:
        return await handler(services, request)

    endpoint.__doc__ = handler.__doc__
    endpoint.__name__ = handler.__name__
    return describe(endpoint, body=body)


def limited(limiter: ClientLimiter, handler: Handler) -> Handler:
    """`handler` behind `limiter`: a caller whose bucket is empty gets its 429 instead."""

    async def guarded(services: GatewayServices, request: Request) -> Response:
        refused = limiter.refusal(request, services.clock_ms())
        return refused if refused is not None else await handler(services, request)

    guarded.__doc__ = handler.__doc__
    guarded.__name__ = handler.__name__
    return guarded


def workers(services: GatewayServices) -> list[Worker]:
    """The sweeper of refused onboardings, and the SMS sender when a real provider is
    configured (without one the outbox is the sink)."""
    running: list[Worker] = [lambda: run_onboarding_sweeper(services)]
    provider = services.sms_provider
    if provider is not None:
        running.append(lambda: sms.run_sender(services.engine, provider, services.clock_ms))
    return running


def routes(services: GatewayServices) -> list[BaseRoute]:
    def route(path: str, handler: Handler, method: str, body: Any | None = None) -> Route:
        return Route(path, bind(services, handler, body), methods=[method])

    # One pair of buckets per app: the app is the process's one gateway.
    logins = ClientLimiter(limits.client_logins_per_min, limits.client_login_burst, "logins")
    codes = ClientLimiter(limits.client_codes_per_min, limits.client_code_burst, "code requests")
    return [
        route("/v1/register/start", limited(codes, register_start), "POST", RegisterStart),
        route("/v1/register/finish", register_finish, "POST", RegisterFinish),
        route("/v1/sessions", limited(logins, login), "POST", Login),
        route("/v1/sessions", logout, "DELETE"),
        route("/v1/wallet", wallet, "GET"),
        route("/v1/wallet/history", history, "GET"),
        route("/v1/wallet/qr", my_qr, "GET"),
        route("/v1/wallet/request", request_money, "POST", WalletRequest),
    ]
