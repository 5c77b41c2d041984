"""The USSD service's I/O edge: the aggregators' routes, their authentication, the sessions.

    POST /ussd/callback   the de-facto form callback (`adapters.FormAdapter`): `CON `/`END `
    POST /ussd/json       the JSON family, one input per hit (`adapters.JsonAdapter`)

Rules:
- Without a `[ussd] service_code` the routes answer 404 `ussd_disabled`. An aggregator
  authenticates with HTTP Basic (its name and shared secret, checked against the configured
  SHA-256 in constant time; an unknown name costs the same): 401 `aggregator_unauthenticated`
  otherwise. It calls the route of the shape it is configured with (403 `wrong_shape`), for
  the configured service code (404 `service_code_unknown`).
- A session is stored in `ussd_sessions` under the SHA-256 of (aggregator, sessionId), with
  the caller's phone as a keyed hash (never the number), the menu's state (never a PIN), the
  number of inputs taken, and for the form shape a keyed digest of the text so far: a hit whose
  text is the stored one is a replay and gets the same screen again without doing anything; a
  hit that adds inputs to it goes on; any other is out of order and ends the session. A
  session belongs to the phone that dialled it (409 `ussd_session_mismatch`). The hits of one
  session are taken one at a time in this process; another process's write loses a
  compare-and-set and is not stored.
- The raw `text` and the inputs are never logged or stored: a log line names the aggregator,
  the screen and whether it ended. Errors name fields, never values (`adapters`).
- The session lasts `limits.ussd_session_ms` from the dial and `limits.ussd_input_ms` between
  inputs (the menu ends it); rows are deleted `limits.ussd_session_kept_ms` after expiry
  (`run_sweeper`, a worker).
- SMS receipts: a customer who uses the USSD service (a row in `ussd_profiles`: the language
  chosen) gets an SMS for every payment made or received, in that language, queued in the
  projection's own transaction (the `payment_applied` hook), so a receipt exists exactly when
  its payment is applied, whichever channel made it. Money sent to a phone with no wallet is
  receipted when its hold commits (`claims`), so the post of a claim is not receipted again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.gateway import custody, db, parties, sms
from bakong.gateway.claim_records import REFERENCE_PREFIX
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.projection import Payment
from bakong.gateway.service import GatewayServices, Worker
from bakong.gateway.ussd import menu, texts
from bakong.gateway.ussd.actions import Caller, KeyedLocks, perform
from bakong.gateway.ussd.adapters import ADAPTERS, Hit
from bakong.gateway.ussd.config import UssdConfig, secret_digest
from bakong.gateway.ussd.profiles import language_of, phone_hash
from bakong.ledger.assets import Asset
from bakong.ledger.identifiers import participant_of

__all__ = ["phone_hash", "routes", "session_key", "sweep_sessions", "workers"]

log = logging.getLogger(__name__)

_DECOY_DIGEST = "0" * 64  # compared when the name is unknown, so it costs the same
_PATHS = {"form": "/ussd/callback", "json": "/ussd/json"}


def session_key(aggregator: str, session_id: str) -> str:
    return hashlib.sha256(f"{aggregator}\x00{session_id}".encode()).hexdigest()


def _text_digest(kek: bytes, key: str, text: str) -> str:
    message = f"{key}\x00{text}".encode()
    return hmac.new(custody.derive_key(kek, "ussd/text"), message, "sha256").hexdigest()


def _aggregator(ussd: UssdConfig, request: Request, shape: str) -> str:
    """The name of the aggregator that authenticated this request (module rules)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    name = secret = ""
    if scheme.lower() == "basic" and len(encoded) <= 2 * limits.ussd_secret_chars_max:
        try:
            name, _, secret = (
                base64.b64decode(encoded, validate=True).decode("ascii").partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            name = secret = ""
    aggregator = ussd.aggregators.get(name)
    expected = _DECOY_DIGEST if aggregator is None else aggregator.secret_sha256
    matches = hmac.compare_digest(secret_digest(secret), expected)
    if aggregator is None or not matches or len(secret) < limits.ussd_secret_chars_min:
        raise GatewayProblem(401, "aggregator_unauthenticated", "a configured aggregator's "
                             "name and secret are required (HTTP Basic)")  # fmt: skip
    if aggregator.shape != shape:
        raise GatewayProblem(
            403, "wrong_shape", f"this aggregator calls {_PATHS[aggregator.shape]}"
        )
    return name


# -- the store ------------------------------------------------------------------------------------


def _load(engine: Engine, key: str) -> Any:
    with engine.connect() as connection:
        table = db.ussd_sessions
        return connection.execute(sa.select(table).where(table.c.session_key == key)).first()


def _save(engine: Engine, key: str, row: Any, values: dict[str, Any], now_ms: int) -> None:
    """Insert a new session or move a stored one on, if no other process moved it first."""
    table = db.ussd_sessions
    try:
        with engine.begin() as connection:
            if row is None:
                connection.execute(table.insert().values(
                    session_key=key, created_ms=now_ms, updated_ms=now_ms,
                    expires_ms=now_ms + limits.ussd_session_ms, **values,
                ))  # fmt: skip
            else:
                connection.execute(
                    table.update()
                    .where(table.c.session_key == key, table.c.inputs == row.inputs)
                    .values(updated_ms=now_ms, **values)
                )
    except sa.exc.IntegrityError:  # another process stored this new session first
        log.info("ussd session stored elsewhere first")


def _bank(services: GatewayServices) -> str:
    names = {entry.code: entry.name for entry in services.genesis.participants}
    return names.get(services.participant, services.participant.upper())


def _caller(
    services: GatewayServices, phone: str, hashed: str, key: str
) -> tuple[Caller, menu.Facts]:
    with services.engine.connect() as connection:
        customer = connection.execute(
            sa.select(db.customers).where(db.customers.c.phone == phone)
        ).first()
        language = connection.execute(
            sa.select(db.ussd_profiles.c.language).where(db.ussd_profiles.c.phone_hash == hashed)
        ).scalar_one_or_none()
    ussd = services.config.ussd
    digest_key = hmac.new(
        custody.derive_key(services.kek, "ussd/pin-check"), key.encode(), "sha256"
    ).digest()
    facts = menu.Facts(
        bank=_bank(services), service_code=ussd.service_code, country_code=ussd.country_code,
        phone=phone, registered=customer is not None,
        account_id="" if customer is None else customer.account_id,
        frozen=customer is not None and customer.status == "frozen",
        language=language, digest_key=digest_key,
        banks=tuple(participant.code for participant in services.genesis.participants),
    )  # fmt: skip
    return Caller(phone, hashed, key, customer), facts


# -- one hit ------------------------------------------------------------------------------------


class _Sessions:
    """The routes' state: one lock per session in this process."""

    def __init__(self, services: GatewayServices) -> None:
        self.services = services
        self.locks = KeyedLocks()

    async def _drive(self, caller: Caller, facts: menu.Facts, outcome: menu.Outcome) -> menu.Reply:
        """Perform what the menu asks until it answers a screen (a result always does)."""
        for _ in range(2):
            if isinstance(outcome, menu.Reply):
                return outcome
            result = await perform(self.services, caller, outcome.action)
            outcome = menu.step(outcome.state, result, facts, self.services.clock_ms())
        assert isinstance(outcome, menu.Reply), "a result is answered with a screen"
        return outcome

    async def _run(
        self, caller: Caller, facts: menu.Facts, state: menu.State | None, events: list[menu.Event]
    ) -> menu.Reply:
        reply: menu.Reply | None = None
        for event in events:
            outcome = menu.step(state, event, facts, self.services.clock_ms())
            reply = await self._drive(caller, facts, outcome)
            state = reply.state
            if reply.end:
                break
        assert reply is not None, "every hit carries at least one event"
        return reply

    def _events(
        self, key: str, hit: Hit, row: Any, state: menu.State | None
    ) -> list[menu.Event] | None:
        """What this hit adds to the stored session; None when it adds nothing (a replay);
        an empty list when it is out of order."""
        kek = self.services.kek
        if hit.inputs is None:  # one input a hit: its first is the dial
            if row is None:
                return [menu.Dial()] if hit.new else []
            return None if hit.new else [menu.Entry(hit.latest or "")]
        if row is None:
            return [menu.Dial(), *(menu.Entry(entry) for entry in hit.inputs)]
        taken = row.inputs
        seen = _text_digest(kek, key, "*".join(hit.inputs[:taken]))
        if len(hit.inputs) < taken or not hmac.compare_digest(seen, row.text_digest):
            return []
        if len(hit.inputs) == taken:
            return None
        return [menu.Entry(entry) for entry in hit.inputs[taken:]]

    async def answer(self, key: str, aggregator: str, hit: Hit) -> menu.Reply:
        services = self.services
        hashed = phone_hash(services.kek, hit.phone)
        row = await services.db(_load, services.engine, key)
        if row is not None and not hmac.compare_digest(row.phone_hash, hashed):
            raise GatewayProblem(409, "ussd_session_mismatch", "this session is another phone's")
        caller, facts = await services.db(_caller, services, hit.phone, hashed, key)
        state = None if row is None else msgspec.json.decode(row.state, type=menu.State)
        events = self._events(key, hit, row, state)
        if events is None:  # a replay: the same screen again, nothing done
            assert state is not None
            return menu.Reply(menu.render(state, facts), state.ended, state)
        if events:
            reply = await self._run(caller, facts, state, events)
            taken = len(hit.inputs) if hit.inputs is not None else (row.inputs if row else 0) + 1
            digest = _text_digest(services.kek, key, hit.text)
        else:  # out of order, or a session nobody dialled: it ends here, as it stood
            base = state or menu.step(None, menu.Dial(), facts, services.clock_ms()).state
            ended = msgspec.structs.replace(base, screen="ended", values={}, items=(), ended=True)
            reply = menu.Reply(menu.render(ended, facts), True, ended)
            taken = row.inputs if row is not None else 0
            digest = row.text_digest if row is not None else _text_digest(services.kek, key, "")
        values = {
            "phone_hash": hashed, "state": msgspec.json.encode(reply.state).decode(),
            "inputs": taken, "text_digest": digest,
        }  # fmt: skip
        await services.db(_save, services.engine, key, row, values, services.clock_ms())
        log.info("ussd hit", extra={"aggregator": aggregator, "screen": reply.state.screen,
                                    "end": reply.end})  # fmt: skip
        services.metrics.count("ussd_hits")
        return reply

    def endpoint(self, shape: str) -> Callable[[Request], Awaitable[Response]]:
        adapter = ADAPTERS[shape]

        async def callback(request: Request) -> Response:
            """A USSD aggregator's callback: the next screen of the caller's session."""
            ussd = self.services.config.ussd
            if not ussd.enabled:
                raise GatewayProblem(404, "ussd_disabled", "this gateway has no USSD service")
            aggregator = _aggregator(ussd, request, shape)
            hit = await adapter.parse(request)
            if hit.service_code != ussd.service_code:
                raise GatewayProblem(404, "service_code_unknown", "this is not our service code")
            key = session_key(aggregator, hit.session_id)
            async with self.locks.hold(key):
                reply = await self.answer(key, aggregator, hit)
            return adapter.answer(hit, reply.text, reply.end)

        callback.__name__ = f"ussd_{shape}"
        return callback


# -- SMS receipts ---------------------------------------------------------------------------------


def _receipt_hook(services: GatewayServices) -> Callable[[Connection, Payment], None]:
    bank = _bank(services)

    def on_payment_applied(connection: Connection, payment: Payment) -> None:
        """Queue the receipt of an applied payment for a USSD customer (module rules)."""
        if not services.config.ussd.enabled:
            return
        customers = db.customers
        row = connection.execute(
            sa.select(customers.c.phone).where(customers.c.account_id == payment.account_id)
        ).first()
        if row is None or row.phone is None:
            return
        if payment.direction == "out" and payment.reference.startswith(REFERENCE_PREFIX):
            return  # a claim's post: its payer had a receipt when the money was put aside
        language = language_of(connection, services.kek, row.phone)
        if language is None:
            return
        party = payment.counterparty
        if participant_of(party) == services.participant:
            name = connection.execute(
                sa.select(customers.c.name).where(customers.c.account_id == party)
            ).scalar_one_or_none()
            party = party if name is None else parties.display_name(name)
        balance = connection.execute(
            sa.select(db.balances.c.available).where(
                db.balances.c.account_id == payment.account_id,
                db.balances.c.asset == payment.asset,
            )
        ).scalar_one_or_none()
        body = texts.receipt(
            language, payment.direction, Asset(payment.asset), payment.amount, party,
            payment.tx_hash.hex()[:8], int(balance or 0), bank,
        )  # fmt: skip
        sms.queue_sms(connection, row.phone, body, services.clock_ms())

    return on_payment_applied


# -- sweeping -------------------------------------------------------------------------------------


def sweep_sessions(engine: Engine, now_ms: int) -> int:
    """Delete sessions expired more than `limits.ussd_session_kept_ms` ago (a batch); how many."""
    table = db.ussd_sessions
    with engine.begin() as connection:
        old = (
            sa.select(table.c.session_key)
            .where(table.c.expires_ms < now_ms - limits.ussd_session_kept_ms)
            .limit(limits.ussd_sweep_batch_max)
        )
        return connection.execute(table.delete().where(table.c.session_key.in_(old))).rowcount


async def run_sweeper(services: GatewayServices) -> None:
    """`sweep_sessions` every `limits.ussd_sweep_s`, until cancelled."""
    while True:
        try:
            await services.db(sweep_sessions, services.engine, services.clock_ms())
        except sa.exc.OperationalError:  # the database is briefly unavailable: next round
            log.warning("ussd sweeper: database unavailable")
        await asyncio.sleep(limits.ussd_sweep_s)


def workers(services: GatewayServices) -> list[Worker]:
    return [lambda: run_sweeper(services)]


def routes(services: GatewayServices) -> list[BaseRoute]:
    """The aggregators' routes; also installs the hook that queues SMS receipts."""
    services.hooks.payment_applied.append(_receipt_hook(services))
    sessions = _Sessions(services)
    return [
        Route(path, sessions.endpoint(shape), methods=["POST"]) for shape, path in _PATHS.items()
    ]
