"""Requests a customer approves with the PIN before money leaves the wallet: an agent's
cash-out (issue 17, "Cash agents"). One table (`db.approvals`), one module, two doors: the
app's routes here and the USSD menu (`bakong.gateway.ussd`), both through `pending`,
`approve` and `decline`.

Rules:
- An agent raises a request for a customer of this bank (`request`, called by `agents`): the
  payee (the agent's account), the asset and amount, and an expiry at most
  `limits.cash_out_approval_ms_max` away. The agent's idempotency key makes a retry the same
  request.
- Nothing moves until the customer approves. The caller checks the PIN first (the app route
  here: `wallets.check_pin`, under the wallet's lockout; the USSD menu: its own PIN step,
  with the same rules), then calls `approve`: one database transaction moves the request from
  `pending` to `approved` (a compare-and-set) and stores the signed transfer customer ->
  payee as the customer's submission `approval:<id>` (`submission.store_signed`), so a
  request pays at most once however often it is approved; then the stored bytes are sent.
- A declined or expired request moves nothing, ever: `approve` refuses it with 410
  `approval_gone`. Expiry needs no sweeper: a pending request past `expires_ms` is expired.
- A customer lists and decides only the requests addressed to them; an agent reads only its
  own (`agents`). Nothing here logs personal data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.engine import Connection, Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import TransactionBuilder, transfer
from bakong.gateway import custody, db, sessions, submission
from bakong.gateway.parties import display_name
from bakong.gateway.problems import GatewayProblem, json_response, read_json
from bakong.gateway.service import GatewayServices
from bakong.gateway.wallets import bind, check_pin, customer_by_id
from bakong.ledger.assets import Asset
from bakong.ledger.transaction import Transaction

__all__ = [
    "APPROVED",
    "CASH_OUT",
    "DECLINED",
    "EXPIRED",
    "PENDING",
    "Approval",
    "approval_reference",
    "approve",
    "decline",
    "find_request",
    "pending",
    "request",
    "routes",
]

CASH_OUT = "cash_out"
PENDING, APPROVED, DECLINED, EXPIRED = "pending", "approved", "declined", "expired"


@dataclass(frozen=True)
class Approval:
    """A request as its customer and its agent see it (`state` counts expiry in)."""

    id: int
    customer_id: int
    requester_id: int
    kind: str
    payee: str  # the account paid on approval
    payee_name: str  # its masked display name
    asset: str
    amount: int
    state: str  # 'pending' | 'approved' | 'declined' | 'expired'
    expires_ms: int
    created_ms: int
    submission_id: int | None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "payee": self.payee, "payee_name": self.payee_name,
            "asset": self.asset, "amount": self.amount, "state": self.state,
            "expires_ms": self.expires_ms, "created_ms": self.created_ms,
        }  # fmt: skip


def approval_reference(approval_id: int) -> str:
    """The `reference` of the transfer an approved cash-out makes (the agent's statement
    recognises it)."""
    return f"agent:cash-out:{approval_id}"


_SELECT = sa.select(db.approvals, db.customers.c.name.label("payee_full_name")).outerjoin(
    db.customers, db.customers.c.account_id == db.approvals.c.payee
)


def _from_row(row: Any, now_ms: int) -> Approval:
    state = row.state
    if state == PENDING and row.expires_ms <= now_ms:
        state = EXPIRED
    name = display_name(row.payee_full_name) if row.payee_full_name else row.payee
    return Approval(
        id=int(row.id), customer_id=int(row.customer_id), requester_id=int(row.requester_id),
        kind=row.kind, payee=row.payee, payee_name=name, asset=row.asset, amount=int(row.amount),
        state=state, expires_ms=int(row.expires_ms), created_ms=int(row.created_ms),
        submission_id=row.submission_id,
    )  # fmt: skip


def _load(connection: Connection, where: Any, now_ms: int) -> Approval | None:
    row = connection.execute(_SELECT.where(where)).first()
    return None if row is None else _from_row(row, now_ms)


def find_request(engine: Engine, requester_id: int, key: str, now_ms: int) -> Approval | None:
    """The request `requester_id` raised with idempotency key `key`, if any."""
    table = db.approvals
    where = (table.c.requester_id == requester_id) & (table.c.idempotency_key == key)
    with engine.connect() as connection:
        return _load(connection, where, now_ms)


def request(
    engine: Engine, *, customer_id: int, requester_id: int, key: str, payee: str, asset: Asset,
    amount: int, now_ms: int, lifetime_ms: int = limits.cash_out_approval_ms_max,
) -> tuple[Approval, bool]:  # fmt: skip
    """Raise a cash-out request for `customer_id` to approve, or find the one this key raised
    (then the same asset, amount and customer, else 409 `idempotency_key_reused`); the
    request, and whether this call raised it."""
    assert 0 < lifetime_ms <= limits.cash_out_approval_ms_max
    table = db.approvals
    created = True
    try:
        with engine.begin() as connection:
            connection.execute(table.insert().values(
                customer_id=customer_id, requester_id=requester_id, idempotency_key=key,
                kind=CASH_OUT, payee=payee, asset=asset.value, amount=amount, state=PENDING,
                expires_ms=now_ms + lifetime_ms, created_ms=now_ms,
            ))  # fmt: skip
    except sa.exc.IntegrityError:  # raised before (a retry, or a concurrent one)
        created = False
    found = find_request(engine, requester_id, key, now_ms)
    assert found is not None
    same = (found.customer_id, found.payee, found.asset, found.amount)
    if same != (customer_id, payee, asset.value, amount):
        message = "this idempotency key was used for another request"
        raise GatewayProblem(409, "idempotency_key_reused", message)
    return found, created


def pending(engine: Engine, customer_id: int, now_ms: int) -> list[Approval]:
    """The requests waiting for `customer_id`'s decision, oldest first (expired ones left out)."""
    table = db.approvals
    with engine.connect() as connection:
        rows = connection.execute(
            _SELECT.where(
                table.c.customer_id == customer_id, table.c.state == PENDING,
                table.c.expires_ms > now_ms,
            ).order_by(table.c.id).limit(limits.approvals_listed_max)
        ).all()  # fmt: skip
    return [_from_row(row, now_ms) for row in rows]


def _mine(connection: Connection, customer_id: int, approval_id: int, now_ms: int) -> Approval:
    table = db.approvals
    found = _load(
        connection, (table.c.id == approval_id) & (table.c.customer_id == customer_id), now_ms
    )
    if found is None:
        raise GatewayProblem(404, "approval_not_found", "no request of yours has this id")
    return found


_GONE = GatewayProblem(410, "approval_gone", "this request was declined or has expired")


def decline(engine: Engine, customer_id: int, approval_id: int, now_ms: int) -> Approval:
    """Decline a pending request: it will never move money. Declining again is harmless."""
    table = db.approvals
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(
                table.c.id == approval_id, table.c.customer_id == customer_id,
                table.c.state == PENDING, table.c.expires_ms > now_ms,
            )
            .values(state=DECLINED, decided_ms=now_ms)
        )  # fmt: skip
        found = _mine(connection, customer_id, approval_id, now_ms)
    if found.state == APPROVED:
        raise GatewayProblem(409, "approval_decided", "this request was approved already")
    return found


def _signer(services: GatewayServices, customer: Any, found: Approval) -> Transaction:
    key = custody.open_seed(services.kek, customer.account_id, customer.key_sealed)
    builder = TransactionBuilder(
        chain_id=services.chain_id, creator=customer.account_id,
        created_ms=services.clock_ms(), nonce=services.nonces(),
    ).add(transfer(
        customer.account_id, found.payee, Asset(found.asset), found.amount,
        memo="cash-out", reference=approval_reference(found.id),
    ))  # fmt: skip
    return builder.sign(key)


def _store_approval(
    services: GatewayServices, customer_id: int, approval_id: int, now_ms: int
) -> int:
    """Approve in one database transaction: the compare-and-set and the signed transfer
    (rule 2); the submission's id (the one stored before, when approved already)."""
    table = db.approvals
    with services.engine.begin() as connection:
        found = _mine(connection, customer_id, approval_id, now_ms)
        if found.state == APPROVED and found.submission_id is not None:
            return found.submission_id
        if found.state != PENDING:
            raise _GONE
        customer = customer_by_id(connection, customer_id)
        if customer.custody != "custodial":
            raise GatewayProblem(409, "self_custody", "this wallet signs its own payments")
        transaction = _signer(services, customer, found)
        request_hash = hashlib.sha256(f"approval:{approval_id}".encode()).hexdigest()
        submission_id = submission.store_signed(
            connection, customer_id, f"approval:{approval_id}", request_hash, transaction, now_ms
        )
        moved = connection.execute(
            table.update()
            .where(table.c.id == approval_id, table.c.state == PENDING)
            .values(state=APPROVED, decided_ms=now_ms, submission_id=submission_id)
        )
        assert moved.rowcount == 1, "the row was pending inside this transaction"
    return submission_id


async def approve(
    services: GatewayServices, customer_id: int, approval_id: int,
    wait_s: float = limits.gateway_submit_wait_s,
) -> tuple[Approval, submission.Submission]:  # fmt: skip
    """Approve a request whose customer's PIN the caller has checked (rule 2): the request
    and where its payment stands after waiting up to `wait_s`. 410 `approval_gone` when it
    was declined or has expired."""
    try:
        submission_id = await services.db(
            _store_approval, services, customer_id, approval_id, services.clock_ms()
        )
    except sa.exc.IntegrityError:  # a concurrent approval stored it first: its bytes win
        submission_id = await services.db(
            _store_approval, services, customer_id, approval_id, services.clock_ms()
        )
    stored = await services.db(submission.load_submission, services.engine, submission_id)
    sent = await submission.send_signed(services, stored, wait_s)

    def reload() -> Approval:
        with services.engine.connect() as connection:
            return _mine(connection, customer_id, approval_id, services.clock_ms())

    return await services.db(reload), sent


# -- the app's routes ----------------------------------------------------------------------------


class Decision(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    decision: Literal["approve", "decline"]
    pin: Annotated[str, Meta(max_length=limits.pin_digits_max)] | None = None


async def list_pending(services: GatewayServices, request: Request) -> Response:
    """The cash-out requests waiting for this customer's decision."""
    session = await sessions.authenticate(services, request, "customer")
    found = await services.db(pending, services.engine, session.customer_id, services.clock_ms())
    return json_response({"approvals": [approval.view() for approval in found]})


def _checked_pin(engine: Engine, customer_id: int, pin: str, now_ms: int) -> None:
    with engine.connect() as connection:
        customer = customer_by_id(connection, customer_id)
    check_pin(engine, customer, pin, now_ms)
    if customer.pin_failures:
        table = db.customers
        with engine.begin() as connection:
            connection.execute(
                table.update().where(table.c.id == customer_id).values(pin_failures=0)
            )


async def decide(services: GatewayServices, request: Request) -> Response:
    """Approve (with the PIN) or decline one request; approving pays the agent."""
    session = await sessions.authenticate(services, request, "customer")
    body = await read_json(request, Decision, limits.wallet_body_bytes_max)
    try:
        approval_id = int(request.path_params["approval_id"])
    except ValueError:
        raise GatewayProblem(404, "approval_not_found", "no request of yours has this id") from None
    now_ms = services.clock_ms()
    if body.decision == "decline":
        declined = await services.db(
            decline, services.engine, session.customer_id, approval_id, now_ms
        )
        return json_response({"approval": declined.view()})
    if body.pin is None:
        raise GatewayProblem(400, "pin_required", "approving needs the wallet's PIN")
    await services.db(_checked_pin, services.engine, session.customer_id, body.pin, now_ms)
    approved, paid = await approve(services, session.customer_id, approval_id)
    status = 200 if paid.state is submission.State.committed else 202
    if paid.state is submission.State.rejected:
        status = 422
    return json_response({"approval": approved.view(), "payment": paid.view()}, status)


def routes(services: GatewayServices) -> list[BaseRoute]:
    return [
        Route("/v1/approvals", bind(services, list_pending), methods=["GET"]),
        Route("/v1/approvals/{approval_id}", bind(services, decide, Decision), methods=["POST"]),
    ]
