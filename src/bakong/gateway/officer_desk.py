"""What a bank officer does for the bank's customers (issue 16, "Bank officer page"): find
one, see their wallet, change the KYC tier, freeze and unfreeze, reset a PIN, open a merchant,
read every merchant's webhook deliveries. Each act is recorded with who did it
(`officers.record_action`, in the transaction of its effect).

Rules:
- A customer is found by exact phone, handle or account ID, sent in a body (a phone must not
  be in a URL); there is no listing of everyone. A gateway's store holds only its own bank's
  customers, so an officer cannot reach another bank's. Finding a customer and opening their
  page are recorded too: reading personal data is an act like changing it.
- Raising a KYC tier needs the officer's confirmation that documents were checked; a PIN
  reset, that the person's identity was checked. Every change needs a reason.
- Tier and status changes go to the ledger first, signed with the participant's admin key
  (`wallets.submit_as_participant`: the ledger lets a participant set its own accounts' tier
  and status), then to the store. A frozen wallet cannot sign in (login answers
  `account_frozen`) and its sessions end; the ledger refuses its payments
  (`creator_not_active`: it signs its own transfers; the payment API answers `account_frozen`).
- A PIN reset texts a one-time code (`otp`, purpose `pin_reset`) to the customer's phone and
  ends their sessions; with the code the customer sets a new PIN (`POST /v1/pin/reset`), which
  also lifts a PIN lockout.
- Nothing here logs personal data; errors name fields, never values.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.engine import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import AccountStatus, KycTier, set_account_status, set_kyc_tier
from bakong.gateway import custody, db, merchants, otp, pins, sms
from bakong.gateway.officers import Officer, authenticate_officer, record_action
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.service import GatewayServices
from bakong.gateway.throttle import ClientLimiter
from bakong.gateway.wallets import (
    Handle,
    Onboarding,
    PhoneNumber,
    bind,
    limited,
    onboard,
    query_params,
    submit_as_participant,
    wallet_keys,
)
from bakong.khqr import tags as khqr_tags
from bakong.khqr.ecmascript import units
from bakong.ledger.identifiers import is_account_id

__all__ = [
    "PIN_RESET",
    "TierChange",
    "apply_tier_change",
    "reset_message",
    "revoke_customer_sessions",
    "routes",
]

PIN_RESET = "pin_reset"  # the purpose of a PIN reset's one-time code (`otp`)
Reason = Annotated[str, Meta(min_length=1, max_length=limits.officer_reason_chars_max)]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# -- finding a customer ------------------------------------------------------------------------


class CustomerQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Exactly one of: a phone number, a handle, an account ID."""

    phone: PhoneNumber | None = None
    handle: Handle | None = None
    account_id: Annotated[str, Meta(max_length=limits.account_id_chars_max)] | None = None


def _summary(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "handle": row.handle, "account_id": row.account_id, "name": row.name,
        "kind": row.kind, "tier": row.tier, "status": row.status,
    }  # fmt: skip


def _search(
    engine: Engine, officer: Officer, query: CustomerQuery, now_ms: int
) -> dict[str, Any] | None:
    table = db.customers
    if query.phone is not None:
        where, how = table.c.phone == query.phone, "by phone"
    elif query.handle is not None:
        where, how = table.c.handle == query.handle, "by handle"
    else:
        where, how = table.c.account_id == query.account_id, "by account"
    with engine.begin() as connection:
        row = connection.execute(sa.select(table).where(where)).first()
        found = None if row is None else row.id
        detail = how if row is not None else f"{how}: nobody"
        record_action(connection, officer, "customer_search", found, detail=detail, now_ms=now_ms)
    return None if row is None else _summary(row)


async def search(services: GatewayServices, request: Request) -> Response:
    """Find one customer of this bank by exact phone, handle or account ID (in the body)."""
    officer = await authenticate_officer(services, request)
    query = await read_json(request, CustomerQuery, limits.wallet_body_bytes_max)
    given = [value for value in (query.phone, query.handle, query.account_id) if value is not None]
    if len(given) != 1:
        raise GatewayProblem(400, "bad_request", "give exactly one of phone, handle, account_id")
    found = await services.db(_search, services.engine, officer, query, services.clock_ms())
    if found is None:
        raise GatewayProblem(404, "customer_not_found", "no customer of this bank matches")
    return json_response(found)


def _customer_by_handle(connection: Connection, handle: str) -> sa.Row[Any]:
    row = connection.execute(sa.select(db.customers).where(db.customers.c.handle == handle)).first()
    if row is None:
        raise GatewayProblem(404, "customer_not_found", "no customer of this bank has this handle")
    return row


def _wallet_page(connection: Connection, row: sa.Row[Any], now_ms: int) -> dict[str, Any]:
    balances = {
        asset: {"available": available, "held": held}
        for asset, available, held in connection.execute(
            sa.select(db.balances.c.asset, db.balances.c.available, db.balances.c.held).where(
                db.balances.c.account_id == row.account_id
            )
        )
    }
    empty = {"available": 0, "held": 0}
    h = db.history
    recent = connection.execute(
        sa.select(h).where(h.c.account_id == row.account_id)
        .order_by(h.c.id.desc()).limit(limits.officer_recent_payments_max)
    ).all()  # fmt: skip
    return {
        **_summary(row),
        "phone": row.phone, "birth_date": row.birth_date, "custody": row.custody,
        "created_ms": row.created_ms,
        "pin_locked": pins.is_locked(pins.Lock(row.pin_failures, row.locked_until_ms), now_ms),
        "balances": {asset: balances.get(asset, empty) for asset in ("KHR", "USD")},
        "payments": [
            {"tx_hash": p.tx_hash.hex(), "direction": p.direction, "counterparty": p.counterparty,
             "asset": p.asset, "amount": p.amount, "result": p.result, "time_ms": p.time_ms}
            for p in recent
        ],
    }  # fmt: skip


def _view(engine: Engine, officer: Officer, handle: str, now_ms: int) -> dict[str, Any]:
    with engine.begin() as connection:
        row = _customer_by_handle(connection, handle)
        record_action(connection, officer, "customer_view", row.id, now_ms=now_ms)
        return _wallet_page(connection, row, now_ms)


async def customer(services: GatewayServices, request: Request) -> Response:
    """A customer's wallet as the bank sees it: tier, status, balances, recent payments."""
    officer = await authenticate_officer(services, request)
    handle = request.path_params["handle"]
    page = await services.db(_view, services.engine, officer, handle, services.clock_ms())
    return json_response(page)


# -- changes: tier, freeze, PIN reset ----------------------------------------------------------


class TierChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tier: Annotated[int, Meta(ge=int(KycTier.basic), le=int(KycTier.full))]
    reason: Reason
    documents_checked: bool = False  # required when raising


class StatusChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason


class PinResetOrder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason
    identity_checked: bool = False


def _checked_reason(reason: str) -> str:
    if reason != reason.strip() or _CONTROL.search(reason):
        raise GatewayProblem(400, "reason_invalid", "the reason has control characters or padding")
    return reason


def _load(engine: Engine, handle: str) -> sa.Row[Any]:
    with engine.connect() as connection:
        return _customer_by_handle(connection, handle)


async def _on_ledger(services: GatewayServices, command: Any) -> None:
    """Submit the bank's own command; a command that changes nothing is fine (a retry)."""
    committed = await submit_as_participant(services, command)
    if not committed.ok and committed.result != "status_unchanged":
        raise GatewayProblem(502, "ledger_refused", f"the ledger refused: {committed.result}")


def revoke_customer_sessions(connection: Connection, customer_id: int) -> None:
    """End every session of a customer, merchant or agent (never an officer's: ids overlap)."""
    table = db.sessions
    roles = ("customer", "merchant", "agent")
    connection.execute(
        table.update()
        .where(table.c.customer_id == customer_id, table.c.role.in_(roles))
        .values(revoked=1)
    )


def _set_tier(
    engine: Engine, officer: Officer, row: sa.Row[Any], body: TierChange, now_ms: int
) -> None:
    with engine.begin() as connection:
        connection.execute(
            db.customers.update().where(db.customers.c.id == row.id).values(tier=body.tier)
        )
        record_action(
            connection, officer, "tier_change", row.id, reason=body.reason,
            detail=f"tier {row.tier} -> {body.tier}", now_ms=now_ms,
        )  # fmt: skip


async def change_tier(services: GatewayServices, request: Request) -> Response:
    """Raise (after checking documents) or lower a customer's KYC tier, with a reason."""
    officer = await authenticate_officer(services, request)
    body = await read_json(request, TierChange, limits.wallet_body_bytes_max)
    _checked_reason(body.reason)
    row = await services.db(_load, services.engine, request.path_params["handle"])
    if body.tier > row.tier and not body.documents_checked:
        message = "raising a tier needs the confirmation that documents were checked"
        raise GatewayProblem(400, "documents_not_checked", message)
    await apply_tier_change(services, officer, row, body)
    return json_response({"account_id": row.account_id, "tier": body.tier})


async def apply_tier_change(
    services: GatewayServices, officer: Officer, row: sa.Row[Any], body: TierChange
) -> None:
    """Every tier change's one path (an officer's, or KYC's automatic raise by its system
    officer): the ledger first, then the store with the act recorded."""
    await _on_ledger(services, set_kyc_tier(row.account_id, KycTier(body.tier)))
    await services.db(_set_tier, services.engine, officer, row, body, services.clock_ms())


def _set_status(
    engine: Engine, officer: Officer, row: sa.Row[Any], status: str, reason: str, now_ms: int
) -> None:
    with engine.begin() as connection:
        connection.execute(
            db.customers.update().where(db.customers.c.id == row.id).values(status=status)
        )
        if status == "frozen":
            revoke_customer_sessions(connection, row.id)
        action = "freeze" if status == "frozen" else "unfreeze"
        detail = f"{row.status} -> {status}"
        record_action(
            connection, officer, action, row.id, reason=reason, detail=detail, now_ms=now_ms
        )


async def _change_status(
    services: GatewayServices, request: Request, status: AccountStatus
) -> Response:
    officer = await authenticate_officer(services, request)
    body = await read_json(request, StatusChange, limits.wallet_body_bytes_max)
    reason = _checked_reason(body.reason)
    row = await services.db(_load, services.engine, request.path_params["handle"])
    await _on_ledger(services, set_account_status(row.account_id, status))
    now_ms = services.clock_ms()
    await services.db(_set_status, services.engine, officer, row, status.value, reason, now_ms)
    return json_response({"account_id": row.account_id, "status": status.value})


async def freeze(services: GatewayServices, request: Request) -> Response:
    """Freeze a wallet on the ledger and here: no payment out, no sign-in, sessions ended."""
    return await _change_status(services, request, AccountStatus.frozen)


async def unfreeze(services: GatewayServices, request: Request) -> Response:
    """Unfreeze a wallet on the ledger and here."""
    return await _change_status(services, request, AccountStatus.active)


def reset_message(code: str) -> str:
    """The text that carries a PIN reset's code to the customer's phone."""
    minutes = limits.otp_lifetime_ms // 60_000
    return (
        f"Your Bakong PIN reset code is {code}. It expires in {minutes} minutes. "
        "Never share it: bank staff will never ask for it."
    )


def _order_reset(
    services: GatewayServices, officer: Officer, row: sa.Row[Any], reason: str, now_ms: int
) -> bool:
    pepper = custody.derive_key(services.kek, "otp")
    with services.engine.begin() as connection:
        code = otp.issue_code(
            connection, pepper, PIN_RESET, row.phone, now_ms, services.random_bytes
        )
        if code is None:
            return False
        sms.queue_sms(connection, row.phone, reset_message(code), now_ms)
        revoke_customer_sessions(connection, row.id)
        record_action(connection, officer, "pin_reset", row.id, reason=reason, now_ms=now_ms)
    return True


async def order_pin_reset(services: GatewayServices, request: Request) -> Response:
    """After checking the person's identity: text them a code to set a new PIN with, and end
    their sessions."""
    officer = await authenticate_officer(services, request)
    body = await read_json(request, PinResetOrder, limits.wallet_body_bytes_max)
    reason = _checked_reason(body.reason)
    if not body.identity_checked:
        message = "a PIN reset needs the confirmation that the identity was checked"
        raise GatewayProblem(400, "identity_not_checked", message)
    row = await services.db(_load, services.engine, request.path_params["handle"])
    if row.phone is None or row.pin_hash is None:
        raise GatewayProblem(409, "pin_not_resettable", "this wallet has no phone or no PIN")
    now_ms = services.clock_ms()
    if not await services.db(_order_reset, services, officer, row, reason, now_ms):
        raise GatewayProblem(429, "too_many_codes", "too many codes for this phone: try later")
    return json_response({"sent": True, "expires_in_ms": limits.otp_lifetime_ms}, 202)


class PinReset(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    phone: PhoneNumber
    code: Annotated[str, Meta(pattern=rf"^[0-9]{{{limits.otp_digits}}}$")]
    pin: Annotated[str, Meta(max_length=limits.pin_digits_max)]


_CODE_MESSAGES = {
    otp.Verdict.code_wrong: "the code is wrong",
    otp.Verdict.code_expired: "the code has expired: ask the bank for a new one",
    otp.Verdict.code_spent: "the code was used or tried too often: ask the bank for a new one",
    otp.Verdict.code_missing: "no PIN reset was started for this phone",
}


def _reset_pin(services: GatewayServices, body: PinReset, pin_hash: str, now_ms: int) -> None:
    pepper = custody.derive_key(services.kek, "otp")
    table = db.customers
    with services.engine.begin() as connection:
        verdict = otp.verify_code(connection, pepper, PIN_RESET, body.phone, body.code, now_ms)
        if verdict is otp.Verdict.ok:
            customer_id = connection.execute(
                sa.update(table).where(table.c.phone == body.phone)
                .values(pin_hash=pin_hash, pin_failures=0, locked_until_ms=0)
                .returning(table.c.id)
            ).scalar_one()  # fmt: skip
            revoke_customer_sessions(connection, customer_id)
    # Outside the `with`: a wrong try is counted (committed) before the refusal.
    if verdict is not otp.Verdict.ok:
        raise GatewayProblem(400, verdict.value, _CODE_MESSAGES[verdict])


async def reset_pin(services: GatewayServices, request: Request) -> Response:
    """The customer sets a new PIN with the code the bank's PIN reset texted them."""
    body = await read_json(request, PinReset, limits.wallet_body_bytes_max)
    problem = pins.pin_problem(body.pin)
    if problem is not None:  # before the code is looked at: a weak PIN does not spend it
        raise GatewayProblem(400, "pin_invalid", problem)
    pin_hash = await services.db(pins.hash_pin, body.pin)
    await services.db(_reset_pin, services, body, pin_hash, services.clock_ms())
    return json_response({"reset": True})


# -- merchants and their webhooks ----------------------------------------------------------------


CityName = Annotated[str, Meta(min_length=1, max_length=khqr_tags.merchant_city_chars_max)]
BusinessName = Annotated[str, Meta(min_length=1, max_length=limits.customer_name_chars_max)]


class MerchantOnboarding(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    handle: Handle
    name: BusinessName
    phone: PhoneNumber
    pin: Annotated[str, Meta(max_length=limits.pin_digits_max)]
    merchant_id: (
        Annotated[
            str, Meta(pattern=r"^[A-Za-z0-9_.-]+$", max_length=khqr_tags.merchant_id_chars_max)
        ]
        | None
    ) = None
    # KHQR tag 60 counts UTF-16 units (`open_merchant` checks them); None prints Phnom Penh.
    city: CityName | None = None
    name_km: BusinessName | None = None  # the business name in Khmer, for the store card


def _merchant_problem(body: MerchantOnboarding, account_id: str) -> tuple[str, str] | None:
    """(code, message) of what is wrong with a merchant opening, or None."""
    if not is_account_id(account_id):
        return "handle_invalid", "this handle does not make an account ID"
    for text, field in ((body.name, "name"), (body.name_km, "name_km")):
        if text is not None and (text != text.strip() or _CONTROL.search(text)):
            return f"{field}_invalid", f"the {field} has control characters or padding"
    city = body.city
    if city is not None and (city != city.strip() or _CONTROL.search(city)):
        return "city_invalid", "the city has control characters or padding"
    if city is not None and units(city) > khqr_tags.merchant_city_chars_max:
        return "city_invalid", f"the city is longer than KHQR's {khqr_tags.merchant_city_chars_max}"
    problem = pins.pin_problem(body.pin)
    return None if problem is None else ("pin_invalid", problem)


def _acquiring_bank(services: GatewayServices) -> str:
    return next(p.name for p in services.genesis.participants if p.code == services.participant)


async def open_merchant(services: GatewayServices, request: Request) -> Response:
    """Open a merchant after its KYC: a full-tier merchant account with a custodial key, and
    the owner's phone and PIN to sign in to the till. Sent again with the same details after
    a failure, it finishes the same opening (202 until then)."""
    officer = await authenticate_officer(services, request)
    body = await read_json(request, MerchantOnboarding, limits.wallet_body_bytes_max)
    account_id = f"{body.handle}@{services.participant}"
    problem = _merchant_problem(body, account_id)
    if problem is not None:
        raise GatewayProblem(400, *problem)
    public_key, sealed = wallet_keys(services, None, account_id)
    onboarding = Onboarding(
        handle=body.handle, account_id=account_id, phone=body.phone, name=body.name,
        birth_date=None, kind="merchant", tier=int(KycTier.full), public_key=public_key,
        sealed=sealed, pin_hash=await services.db(pins.hash_pin, body.pin),
    )  # fmt: skip
    merchant_id = body.merchant_id or body.handle
    bank = _acquiring_bank(services)

    def merchant_row(connection: Connection) -> None:
        merchants.register_merchant(
            connection, account_id, merchant_id=merchant_id, acquiring_bank=bank,
            city=body.city, name_km=body.name_km,
        )  # fmt: skip
        customer_id = connection.execute(
            sa.select(db.customers.c.id).where(db.customers.c.account_id == account_id)
        ).scalar_one()
        record_action(connection, officer, "merchant_open", customer_id, now_ms=services.clock_ms())

    customer_id, on_ledger = await onboard(services, onboarding, None, body.pin, merchant_row)
    if not on_ledger:
        return json_response({"account_id": account_id, "state": "submitted"}, 202)
    answer = {"account_id": account_id, "merchant_id": merchant_id, "acquiring_bank": bank}
    return json_response(answer, 201)


class WebhookLogQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    limit: Annotated[int, Meta(ge=1, le=limits.merchant_payments_page_max)] = (
        limits.merchant_payments_page_max
    )


def _webhook_log(engine: Engine, limit: int) -> list[dict[str, Any]]:
    events, people = db.webhook_events, db.customers
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(events, people.c.handle)
            .outerjoin(people, people.c.account_id == events.c.merchant_account)
            .order_by(events.c.next_attempt_ms.desc())
            .limit(limit)
        ).all()
    log = []
    for row in rows:
        delivered = row.delivered_ms is not None
        gave_up = not delivered and row.attempts >= limits.webhook_attempts_max
        state = "delivered" if delivered else "failed" if gave_up else "pending"
        log.append({
            "event_id": row.event_id, "merchant": row.merchant_account, "handle": row.handle,
            "attempts": row.attempts, "state": state, "last_status": row.last_status,
            "delivered_ms": row.delivered_ms,
            "next_attempt_ms": row.next_attempt_ms if state == "pending" else None,
        })  # fmt: skip
    return log


async def webhook_log(services: GatewayServices, request: Request) -> Response:
    """The webhook deliveries of every merchant of this bank, latest first."""
    await authenticate_officer(services, request)
    query = query_params(request, WebhookLogQuery)
    return json_response(
        {"deliveries": await services.db(_webhook_log, services.engine, query.limit)}
    )


def routes(services: GatewayServices) -> list[BaseRoute]:
    def route(path: str, handler: Any, method: str, body: Any | None = None) -> Route:
        return Route(path, bind(services, handler, body), methods=[method])

    # A bucket of its own: setting a PIN with a code is a door like the login.
    resets = ClientLimiter(limits.client_codes_per_min, limits.client_code_burst, "PIN resets")
    desk = "/v1/officer/customers/{handle}"
    return [
        route("/v1/officer/customers/search", search, "POST", CustomerQuery),
        route(desk, customer, "GET"),
        route(f"{desk}/tier", change_tier, "POST", TierChange),
        route(f"{desk}/freeze", freeze, "POST", StatusChange),
        route(f"{desk}/unfreeze", unfreeze, "POST", StatusChange),
        route(f"{desk}/pin-reset", order_pin_reset, "POST", PinResetOrder),
        route("/v1/officer/merchants", open_merchant, "POST", MerchantOnboarding),
        route("/v1/officer/webhooks", webhook_log, "GET"),
        route("/v1/pin/reset", limited(resets, reset_pin), "POST", PinReset),
    ]
