"""Cash agents (issue 17, "Cash agents"): shops that take cash in and pay cash out for the
bank, against an e-money float on the ledger.

    POST /v1/officer/agents           a bank officer opens an agent (after its KYC)
    GET  /v1/agent                    the agent's float, caps, today's totals and alerts
    POST /v1/agent/cash-in            the float pays a customer's wallet (cash handed in)
    POST /v1/agent/cash-out           the agent asks a customer to approve a cash-out
    GET  /v1/agent/cash-out/{key}     where that cash-out stands
    POST /v1/agent/claims             pay out money sent to a phone with no wallet (`claiming`)
    GET  /v1/agent/statement          one day's statement, JSON or CSV (`?day=&format=`)

Rules:
- An agent is a `customers` row of kind `agent` (the business's name, the owner's phone and
  PIN to sign in, a custodial key) with its ledger account `handle@bank` of kind `agent`,
  full tier, opened by a bank officer like a merchant (`wallets.onboard`, the act recorded in
  `officer_actions`), and an `agents` row: its own daily caps and float alert thresholds (the
  `[agents]` config's unless the officer gives others). The account is the agent's e-money
  float; the bank tops it up from its settlement account. Signing in (`POST /v1/sessions`
  with handle and PIN) gives a session of role `agent`; the agent routes take no other.
- Cash-in: the float pays the wallet of the phone given, at any bank (the ledger's alias
  directory), as a stored submission under the agent's idempotency key (`submission`), with
  reference `agent:cash-in`. A phone with no wallet is refused (`recipient_not_found`).
- Cash-out: for a customer of this bank (their approval is given here): the request waits in
  `approvals` and the customer is texted; only when they approve with the PIN (the app's
  `POST /v1/approvals/{id}`, or USSD) does their wallet pay the agent's float, reference
  `agent:cash-out:<id>`. A declined or expired request moves nothing. The agent hands the cash
  over once the state is `paid`.
- Limits: the ledger's tier limits apply to whoever pays (the agent's tier for a cash-in, the
  customer's for a cash-out). Before signing, the agent's own daily caps, per asset, of
  cash-in and of cash-out, count today's (Asia/Phnom_Penh) committed operations from the
  history, plus the cash-outs still waiting for approval.
- Fees are zero for customers: the amount entered is the amount that moves.
- Receipts and alerts come from the projection's `payment_applied` hook, in the database
  transaction of the block that moved the money, so each is texted exactly once: the
  customer's bank (whichever it is: every gateway runs this hook) texts a cash-in or cash-out
  receipt to its customer; an agent's float below its threshold for an asset texts the agent
  once and marks it low, and the first payment that finds it back at or above clears the mark,
  so the next crossing alerts again.
- The statement of a day (Asia/Phnom_Penh): per asset, the opening float, every movement
  (cash-ins, cash-outs, claims paid out, other transfers such as top-ups), their totals and the
  closing float, from the projection's history and balances (closing: the float now less
  everything after the day). At most `limits.agent_statement_rows_max` movements are listed;
  the totals count them all.
- Nothing here logs personal data; errors name fields, never values.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.engine import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import KycTier, NotFound, TransactionBuilder, alias_hash, transfer
from bakong.gateway import approvals, claiming, claims, custody, db, pins, sessions, sms, submission
from bakong.gateway.claim_records import REFERENCE_PREFIX, money
from bakong.gateway.merchants import PHNOM_PENH, day_bounds_ms
from bakong.gateway.officers import authenticate_officer, record_action
from bakong.gateway.parties import display_name
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.projection import Payment
from bakong.gateway.service import GatewayServices
from bakong.gateway.wallets import (
    Handle,
    Onboarding,
    PhoneNumber,
    bind,
    customer_by_id,
    onboard,
    query_params,
    wallet_keys,
)
from bakong.ledger.assets import Asset
from bakong.ledger.policy import phnom_penh_day
from bakong.ledger.transaction import Transaction

__all__ = ["CASH_IN", "CASH_OUT_PREFIX", "routes", "statement"]

CASH_IN = "agent:cash-in"
CASH_OUT_PREFIX = "agent:cash-out:"
ASSETS = (Asset.KHR, Asset.USD)
Amount = Annotated[int, Meta(gt=0, le=limits.amount_max)]
AssetText = Literal["KHR", "USD"]
IdempotencyKey = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


# -- opening an agent (a bank officer) ---------------------------------------------------------


class AgentOpening(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    handle: Handle
    name: Annotated[str, Meta(min_length=1, max_length=limits.customer_name_chars_max)]
    phone: PhoneNumber
    pin: Annotated[str, Meta(max_length=limits.pin_digits_max)]
    cap_khr: Amount | None = None
    cap_usd: Amount | None = None
    alert_khr: Amount | None = None
    alert_usd: Amount | None = None


def _agent_row(services: GatewayServices, body: AgentOpening, account_id: str) -> dict[str, Any]:
    defaults = services.config.agents
    return {
        "account_id": account_id,
        "cap_khr": body.cap_khr or defaults.daily_cap_khr,
        "cap_usd": body.cap_usd or defaults.daily_cap_usd,
        "alert_khr": body.alert_khr or defaults.float_alert_khr,
        "alert_usd": body.alert_usd or defaults.float_alert_usd,
        "low_khr": 0, "low_usd": 0, "created_ms": services.clock_ms(),
    }  # fmt: skip


async def open_agent(services: GatewayServices, request: Request) -> Response:
    """Open a cash agent after its KYC: a full-tier agent account (its float) with a custodial
    key, the owner's phone and PIN to sign in, its caps and float alerts. Sent again with the
    same details after a failure, it finishes the same opening (202 until then)."""
    officer = await authenticate_officer(services, request)
    body = await read_json(request, AgentOpening, limits.wallet_body_bytes_max)
    account_id = f"{body.handle}@{services.participant}"
    problem = pins.pin_problem(body.pin)
    if problem is not None:
        raise GatewayProblem(400, "pin_invalid", problem)
    if body.name != body.name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in body.name):
        raise GatewayProblem(400, "name_invalid", "the name has control characters or padding")
    public_key, sealed = wallet_keys(services, None, account_id)
    onboarding = Onboarding(
        handle=body.handle, account_id=account_id, phone=body.phone, name=body.name,
        birth_date=None, kind="agent", tier=int(KycTier.full), public_key=public_key,
        sealed=sealed, pin_hash=await services.db(pins.hash_pin, body.pin),
    )  # fmt: skip
    row = _agent_row(services, body, account_id)

    def agent_row(connection: Connection) -> None:
        customer_id = connection.execute(
            sa.select(db.customers.c.id).where(db.customers.c.account_id == account_id)
        ).scalar_one()
        connection.execute(db.agents.insert().values(customer_id=customer_id, **row))
        record_action(connection, officer, "agent_open", customer_id, now_ms=services.clock_ms())

    _, on_ledger = await onboard(services, onboarding, None, body.pin, agent_row)
    if not on_ledger:
        return json_response({"account_id": account_id, "state": "submitted"}, 202)
    return json_response({"account_id": account_id, "kind": "agent"}, 201)


# -- the agent behind a session ------------------------------------------------------------------


def _agent(engine: Engine, customer_id: int) -> tuple[Any, Any]:
    with engine.connect() as connection:
        customer = customer_by_id(connection, customer_id)
        agent = connection.execute(
            sa.select(db.agents).where(db.agents.c.customer_id == customer_id)
        ).first()
    if agent is None:
        raise GatewayProblem(401, "unauthenticated", "a valid bearer token is required")
    return customer, agent


async def _signed_in(services: GatewayServices, request: Request) -> tuple[Any, Any]:
    session = await sessions.authenticate(services, request, "agent")
    customer, agent = await services.db(_agent, services.engine, session.customer_id)
    if customer.status != "active":
        raise GatewayProblem(403, "account_frozen", "this agent is frozen: contact the bank")
    return customer, agent


def _signed_sum(table: Any) -> Any:
    return sa.func.coalesce(
        sa.func.sum(sa.case((table.c.direction == "in", table.c.amount), else_=-table.c.amount)),
        0,
    )


def _today(connection: Connection, account_id: str, asset: str, now_ms: int) -> dict[str, int]:
    """Today's committed cash-ins and cash-outs (and cash-outs awaiting approval)."""
    start, end = day_bounds_ms(_date_of(now_ms))
    h = db.history
    base = (h.c.account_id == account_id, h.c.asset == asset, h.c.result == "ok",
            h.c.time_ms >= start, h.c.time_ms < end)  # fmt: skip
    cash_in = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(h.c.amount), 0)).where(
            *base, h.c.direction == "out", h.c.reference == CASH_IN
        )
    ).scalar_one()
    cash_out = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(h.c.amount), 0)).where(
            *base, h.c.direction == "in", h.c.reference.startswith(CASH_OUT_PREFIX)
        )
    ).scalar_one()
    a = db.approvals
    waiting = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(a.c.amount), 0)).where(
            a.c.payee == account_id, a.c.asset == asset, a.c.state == "pending",
            a.c.expires_ms > now_ms,
        )
    ).scalar_one()  # fmt: skip
    return {"cash_in": int(cash_in), "cash_out": int(cash_out), "awaiting": int(waiting)}


def _date_of(time_ms: int) -> datetime.date:
    return datetime.date(1970, 1, 1) + datetime.timedelta(days=phnom_penh_day(time_ms))


def _overview(engine: Engine, customer: Any, agent: Any, now_ms: int) -> dict[str, Any]:
    account_id = customer.account_id
    with engine.connect() as connection:
        floats = dict(
            connection.execute(
                sa.select(db.balances.c.asset, db.balances.c.available).where(
                    db.balances.c.account_id == account_id
                )
            ).all()
        )
        today = {a.value: _today(connection, account_id, a.value, now_ms) for a in ASSETS}
    return {
        "account_id": account_id, "name": customer.name,
        "float": {a.value: int(floats.get(a.value, 0)) for a in ASSETS},
        "caps": {"KHR": agent.cap_khr, "USD": agent.cap_usd},
        "alerts": {
            "KHR": {"threshold": agent.alert_khr, "low": bool(agent.low_khr)},
            "USD": {"threshold": agent.alert_usd, "low": bool(agent.low_usd)},
        },
        "today": today,
    }  # fmt: skip


async def overview(services: GatewayServices, request: Request) -> Response:
    """The agent's float per asset, its caps, today's cash-ins and cash-outs, its alerts."""
    customer, agent = await _signed_in(services, request)
    answer = await services.db(_overview, services.engine, customer, agent, services.clock_ms())
    return json_response(answer)


def _within_cap(
    engine: Engine, customer: Any, agent: Any, kind: str, asset: str, amount: int, now_ms: int
) -> None:
    cap = agent.cap_khr if asset == "KHR" else agent.cap_usd
    with engine.connect() as connection:
        today = _today(connection, customer.account_id, asset, now_ms)
    used = today["cash_in"] if kind == "cash_in" else today["cash_out"] + today["awaiting"]
    if used + amount > cap:
        remaining = max(0, cap - used)
        message = f"the agent's daily {kind.replace('_', '-')} cap: {remaining} {asset} remain"
        raise GatewayProblem(422, "agent_cap_exceeded", message,
                             {"cap": cap, "remaining": remaining, "asset": asset})  # fmt: skip


# -- cash-in -------------------------------------------------------------------------------------


class CashIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    idempotency_key: IdempotencyKey
    phone: PhoneNumber
    amount: Amount
    asset: AssetText


def _cash_in_signer(
    services: GatewayServices, customer: Any, payee: str, body: CashIn
) -> submission.Signer:
    def sign(created_ms: int, nonce: int) -> Transaction:
        key = custody.open_seed(services.kek, customer.account_id, customer.key_sealed)
        builder = TransactionBuilder(
            chain_id=services.chain_id, creator=customer.account_id,
            created_ms=created_ms, nonce=nonce,
        ).add(transfer(customer.account_id, payee, body.asset, body.amount, memo="cash-in",
                       reference=CASH_IN))  # fmt: skip
        return builder.sign(key)

    return sign


def _operation_answer(found: submission.Submission) -> Response:
    view = found.view()
    if found.state is submission.State.committed:
        return json_response(view)
    if found.state is submission.State.rejected:
        result = found.result or "rejected"
        error = {"code": result, "message": f"the ledger refused it: {result}"}
        return json_response({"error": error, "payment": view}, 422)
    return json_response(view, 202)


async def cash_in(services: GatewayServices, request: Request) -> Response:
    """Cash handed in: the agent's float pays the wallet of the phone given, at any bank."""
    customer, agent = await _signed_in(services, request)
    body = await read_json(request, CashIn, limits.wallet_body_bytes_max)
    request_hash = hashlib.sha256(
        msgspec.msgpack.encode(["cash-in", body.phone, body.amount, body.asset])
    ).hexdigest()

    def stored() -> submission.Submission | None:
        with services.engine.connect() as connection:
            return submission.find_submission(connection, customer.id, body.idempotency_key)

    found = await services.db(stored)
    sign: submission.Signer = _stored_only
    if found is None or found.state is submission.State.received:
        now_ms = services.clock_ms()
        await services.db(_within_cap, services.engine, customer, agent, "cash_in", body.asset,
                          body.amount, now_ms)  # fmt: skip
        try:
            alias = alias_hash(services.alias_key, body.phone)
            payee = (await services.core.alias(alias)).account_id
        except NotFound:
            raise GatewayProblem(
                404, "recipient_not_found", "no wallet at any bank has this phone number"
            ) from None
        sign = _cash_in_signer(services, customer, payee, body)
    done = await submission.submit(services, customer.id, body.idempotency_key, request_hash, sign)
    return _operation_answer(done)


def _stored_only(created_ms: int, nonce: int) -> Transaction:
    raise AssertionError("a stored cash-in is never signed again")


# -- cash-out --------------------------------------------------------------------------------------


class CashOut(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    idempotency_key: IdempotencyKey
    phone: PhoneNumber
    amount: Amount
    asset: AssetText


def _customer_by_phone(engine: Engine, phone: str) -> Any:
    table = db.customers
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(table).where(table.c.phone == phone, table.c.kind == "personal")
        ).first()
    if row is None:
        message = "no wallet at this bank has this phone: cash out at its own bank's agents"
        raise GatewayProblem(404, "customer_not_found", message)
    if row.status != "active":
        raise GatewayProblem(403, "customer_frozen", "this customer's wallet is frozen")
    return row


def _request_text(agent_name: str, asset: str, amount: int) -> str:
    minutes = limits.cash_out_approval_ms_max // 60_000
    return (
        f"Agent {agent_name} asks to pay you {money(asset, amount)} in cash from your wallet. "
        f"Approve it in the app or by USSD within {minutes} minutes, only if you are at the "
        "agent now. Otherwise ignore this message."
    )


def _raise_request(
    services: GatewayServices, customer: Any, payer: Any, body: CashOut, now_ms: int
) -> approvals.Approval:
    found, created = approvals.request(
        services.engine, customer_id=payer.id, requester_id=customer.id,
        key=body.idempotency_key, payee=customer.account_id, asset=Asset(body.asset),
        amount=body.amount, now_ms=now_ms,
    )  # fmt: skip
    if created and payer.phone is not None:
        with services.engine.begin() as connection:
            text = _request_text(display_name(customer.name), body.asset, body.amount)
            sms.queue_sms(connection, payer.phone, text, now_ms)
    return found


def _cash_out_view(engine: Engine, found: approvals.Approval) -> dict[str, Any]:
    """The approval as the agent sees it: `paid` once the customer's payment committed."""
    state, payment = found.state, None
    if found.state == "approved" and found.submission_id is not None:
        paid = submission.load_submission(engine, found.submission_id)
        payment = paid.view()
        state = {submission.State.committed: "paid", submission.State.rejected: "failed"}.get(
            paid.state, "approved"
        )
    view = found.view() | {"state": state, "payment": payment}
    view.pop("payee_name")
    return view


async def cash_out(services: GatewayServices, request: Request) -> Response:
    """Ask a customer of this bank to approve a cash-out; nothing moves until they do."""
    customer, agent = await _signed_in(services, request)
    body = await read_json(request, CashOut, limits.wallet_body_bytes_max)
    now_ms = services.clock_ms()
    existing = await services.db(
        approvals.find_request, services.engine, customer.id, body.idempotency_key, now_ms
    )
    if existing is None:
        await services.db(_within_cap, services.engine, customer, agent, "cash_out", body.asset,
                          body.amount, now_ms)  # fmt: skip
    payer = await services.db(_customer_by_phone, services.engine, body.phone)
    found = await services.db(_raise_request, services, customer, payer, body, now_ms)
    return json_response(await services.db(_cash_out_view, services.engine, found), 202)


async def cash_out_status(services: GatewayServices, request: Request) -> Response:
    """Where one of this agent's cash-outs stands, by its idempotency key."""
    customer, _ = await _signed_in(services, request)
    key = request.path_params["key"]
    found = await services.db(
        approvals.find_request, services.engine, customer.id, key, services.clock_ms()
    )
    if found is None:
        raise GatewayProblem(404, "cash_out_not_found", "no cash-out of yours has this key")
    return json_response(await services.db(_cash_out_view, services.engine, found))


# -- paying out a claim --------------------------------------------------------------------------


class AgentClaim(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    bank: claiming.BankCode  # the participant code the recipient's text named
    phone: PhoneNumber  # the recipient's, as the text reached it
    code: claiming.ClaimCode
    secret: claims.Secret


async def pay_out_claim(services: GatewayServices, request: Request) -> Response:
    """Money sent to a phone with no wallet, paid out in cash: the claim's bank pays the
    agent's float once the code, the phone and the payer's secret check out."""
    customer, _ = await _signed_in(services, request)
    body = await read_json(request, AgentClaim, limits.claim_body_bytes_max)
    redeem = claims.Redeem(
        alias=alias_hash(services.alias_key, body.phone).hex(), code=body.code,
        account=customer.account_id, kind=claims.AGENT, secret=body.secret,
    )  # fmt: skip
    status, answer = await claiming.redeem_at(services, body.bank, redeem)
    return json_response(answer, status)


# -- the day's statement -----------------------------------------------------------------------


class StatementQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    day: Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")] | None = None
    format: Literal["json", "csv"] = "json"


def _kind(direction: str, reference: str) -> str:
    if direction == "out" and reference == CASH_IN:
        return "cash_in"
    if direction == "in" and reference.startswith(CASH_OUT_PREFIX):
        return "cash_out"
    if direction == "in" and reference.startswith(REFERENCE_PREFIX):
        return "claim_paid_out"
    return "other_in" if direction == "in" else "other_out"


def _asset_statement(
    connection: Connection, account_id: str, asset: str, bounds: tuple[int, int]
) -> dict[str, Any]:
    start, end = bounds
    h = db.history
    mine = (h.c.account_id == account_id, h.c.asset == asset, h.c.result == "ok")
    now_float = connection.execute(
        sa.select(db.balances.c.available).where(
            db.balances.c.account_id == account_id, db.balances.c.asset == asset
        )
    ).scalar_one_or_none()
    after = connection.execute(sa.select(_signed_sum(h)).where(*mine, h.c.time_ms >= end))
    closing = int(now_float or 0) - int(after.scalar_one())
    totals = {kind: 0 for kind in ("cash_in", "cash_out", "claim_paid_out", "other_in",
                                   "other_out")}  # fmt: skip
    grouped = connection.execute(
        sa.select(h.c.direction, h.c.reference, sa.func.sum(h.c.amount))
        .where(*mine, h.c.time_ms >= start, h.c.time_ms < end)
        .group_by(h.c.direction, h.c.reference)
    ).all()
    for direction, reference, amount in grouped:
        totals[_kind(direction, reference)] += int(amount)
    moved = totals["cash_out"] + totals["claim_paid_out"] + totals["other_in"]
    moved -= totals["cash_in"] + totals["other_out"]
    rows = connection.execute(
        sa.select(h).where(*mine, h.c.time_ms >= start, h.c.time_ms < end)
        .order_by(h.c.id).limit(limits.agent_statement_rows_max)
    ).all()  # fmt: skip
    movements = [
        {"time_ms": row.time_ms, "kind": _kind(row.direction, row.reference),
         "counterparty": row.counterparty, "amount": row.amount if row.direction == "in"
         else -row.amount, "tx_hash": row.tx_hash.hex()}
        for row in rows
    ]  # fmt: skip
    return {"opening": closing - moved, "closing": closing, "totals": totals,
            "movements": movements}  # fmt: skip


def statement(engine: Engine, account_id: str, day: datetime.date) -> dict[str, Any]:
    """One Phnom Penh day of an agent's float, per asset (module rules)."""
    bounds = day_bounds_ms(day)
    with engine.connect() as connection:
        assets = {
            asset.value: _asset_statement(connection, account_id, asset.value, bounds)
            for asset in ASSETS
        }
    return {"account_id": account_id, "day": day.isoformat(), "from_ms": bounds[0],
            "until_ms": bounds[1], "assets": assets}  # fmt: skip


def _iso(time_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, PHNOM_PENH)
    return moment.isoformat(timespec="seconds")


def statement_csv(found: dict[str, Any]) -> str:
    """The statement as CSV: per asset its opening, its movements, its closing (signed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "kind", "counterparty", "asset", "amount", "tx_hash"])
    for asset, part in found["assets"].items():
        writer.writerow([_iso(found["from_ms"]), "opening", "", asset, part["opening"], ""])
        for move in part["movements"]:
            writer.writerow([_iso(move["time_ms"]), move["kind"], move["counterparty"], asset,
                             move["amount"], move["tx_hash"]])  # fmt: skip
        writer.writerow([_iso(found["until_ms"]), "closing", "", asset, part["closing"], ""])
    return out.getvalue()


async def day_statement(services: GatewayServices, request: Request) -> Response:
    """The agent's statement of a day (today by default): opening float, cash-ins, cash-outs,
    claims paid out, other movements, closing float; `format=csv` for a spreadsheet."""
    customer, _ = await _signed_in(services, request)
    query = query_params(request, StatementQuery)
    try:
        day = (datetime.date.fromisoformat(query.day) if query.day is not None
               else _date_of(services.clock_ms()))  # fmt: skip
    except ValueError:
        raise GatewayProblem(400, "day_invalid", "the day is not a date") from None
    found = await services.db(statement, services.engine, customer.account_id, day)
    if query.format == "csv":
        headers = {"content-disposition": f'attachment; filename="statement-{day}.csv"'}
        return Response(statement_csv(found), media_type="text/csv", headers=headers)
    return json_response(found)


# -- receipts and float alerts (the projection's hook) -------------------------------------------


def _phone_of(connection: Connection, account_id: str) -> str | None:
    phone = connection.execute(
        sa.select(db.customers.c.phone).where(db.customers.c.account_id == account_id)
    ).scalar_one_or_none()
    return None if phone is None else str(phone)


def _receipt(connection: Connection, payment: Payment) -> None:
    """A customer's receipt for a cash-in or cash-out at an agent (any bank's agent)."""
    if payment.direction == "in" and payment.reference == CASH_IN:
        text = f"Cash-in: {money(payment.asset, payment.amount)} from agent {payment.counterparty}."
    elif payment.direction == "out" and payment.reference.startswith(CASH_OUT_PREFIX):
        text = f"Cash-out: {money(payment.asset, payment.amount)} to agent {payment.counterparty}."
    else:
        return
    phone = _phone_of(connection, payment.account_id)
    if phone is not None:
        sms.queue_sms(connection, phone, text + " No fee.", payment.time_ms)


def _float_alert(connection: Connection, payment: Payment) -> None:
    """Rule: below the threshold texts once and marks low; back at or above clears it."""
    agents = db.agents
    agent = connection.execute(
        sa.select(agents).where(agents.c.account_id == payment.account_id)
    ).first()
    if agent is None or payment.asset not in ("KHR", "USD"):
        return
    suffix = payment.asset.lower()
    threshold, low = getattr(agent, f"alert_{suffix}"), bool(getattr(agent, f"low_{suffix}"))
    available = connection.execute(
        sa.select(db.balances.c.available).where(
            db.balances.c.account_id == payment.account_id, db.balances.c.asset == payment.asset
        )
    ).scalar_one_or_none()
    below = int(available or 0) < threshold
    if below == low:
        return
    connection.execute(
        agents.update().where(agents.c.account_id == payment.account_id)
        .values({f"low_{suffix}": int(below)})
    )  # fmt: skip
    phone = _phone_of(connection, payment.account_id)
    if below and phone is not None:
        now = money(payment.asset, int(available or 0))
        text = (
            f"Float alert: your {payment.asset} float is {now}, below "
            f"{money(payment.asset, threshold)}. Ask the bank to top it up."
        )
        sms.queue_sms(connection, phone, text, payment.time_ms)


def _hook(services: GatewayServices) -> Callable[[Connection, Payment], None]:
    """The projection's `payment_applied` hook: receipts, and float alerts for the accounts
    of this bank's agents (known in memory, so other payments cost no query)."""
    known: set[str] = set()
    loaded = [False]

    def applied(connection: Connection, payment: Payment) -> None:
        _receipt(connection, payment)
        if not loaded[0]:
            known.update(connection.execute(sa.select(db.agents.c.account_id)).scalars())
            loaded[0] = True
        if payment.account_id not in known:
            # An agent opened since (by this process or another): look once, then remember.
            if not payment.reference.startswith("agent:"):
                return
            found = connection.execute(
                sa.select(db.agents.c.account_id).where(
                    db.agents.c.account_id == payment.account_id
                )
            ).first()
            if found is None:
                return
            known.add(payment.account_id)
        _float_alert(connection, payment)

    return applied


def routes(services: GatewayServices) -> list[BaseRoute]:
    services.hooks.payment_applied.append(_hook(services))

    def route(path: str, handler: Any, method: str, body: Any | None = None) -> Route:
        return Route(path, bind(services, handler, body), methods=[method])

    return [
        route("/v1/officer/agents", open_agent, "POST", AgentOpening),
        route("/v1/agent", overview, "GET"),
        route("/v1/agent/cash-in", cash_in, "POST", CashIn),
        route("/v1/agent/cash-out", cash_out, "POST", CashOut),
        route("/v1/agent/cash-out/{key}", cash_out_status, "GET"),
        route("/v1/agent/claims", pay_out_claim, "POST", AgentClaim),
        route("/v1/agent/statement", day_statement, "GET"),
    ]
