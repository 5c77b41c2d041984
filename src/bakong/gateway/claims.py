"""Money sent to a phone that has no wallet at any bank: a claimable hold (issue 17, "Wallets
made by receiving money"). This module is the payer's bank, which holds the money: it places
the hold, texts the code, answers the claims other banks (or its own) bring, and returns what
nobody claims. The claimant's side, and the signed route between banks, are in `claiming`.

    placing --hold ok--> pending_claim --redeem--> claiming --post ok, transfer ok--> claimed
       |                      |                       |--post refused, hold still pending
       +--hold refused-->     |                       |     --> pending_claim (claim again)
          refused             |                       |--post refused, hold over--> returned
                              |                       +--transfer refused--> returning
                              +--the ledger expires the hold--> returned     --refund--> returned

Rules:
1. A payment to a phone the ledger's alias directory does not know (`payments` hands it here)
   becomes a claim: a hold from the payer's wallet to this bank's claims escrow account
   (`escrow_account`: kind `link`, signed by the participant's admin key, created at start-up
   by `ensure_escrow`), the escrow its poster, expiring after the configured claim period
   (`[claims] period_ms`, at most `limits.claim_period_ms_max`). The claim row and the signed
   hold (the payer's submission under the payment's own idempotency key) are stored in one
   database transaction before anything is sent, so a retry of the payment finds the claim
   and never pays a second time, even if the payee has registered meanwhile.
2. Once the hold commits, one compare-and-set moves the claim to `pending_claim` and queues
   the payee's text in the same database transaction: the bank, the amount, the claim code
   and the last day to claim (and a payer who uses the USSD service gets a receipt, in the
   language chosen there). The code (`limits.claim_code_digits` digits) is derived from the
   claim id under a key derived from the key-encryption key; the store never holds it. The
   payer sees the state at every moment: in the payment's answer and `GET
   /v1/payments/{key}`, in the history (`claim_history`), and in `GET /v1/claims`.
3. A claim is redeemed (`redeem`) by a participant's gateway, over the signed route of
   `claiming` or by a local call when the claimant banks here, naming the phone's alias, the
   code, the account to pay and its kind. In order: a claim of that alias that the code
   opens (a wrong code is counted on every pending claim of the alias: 403
   `claim_code_wrong`; none pending: 404 `claim_not_found`); fewer than
   `limits.claim_attempts_max` wrong tries (423 `claim_locked`: it returns at expiry); the
   account is the calling bank's (403); for an agent, the payer's secret (403
   `claim_secret_wrong`, counted); for a wallet, the ledger's alias directory maps the alias
   to that account (403 `claim_phone_mismatch`): the new wallet proved the phone at its bank;
   and at least `limits.claim_redeem_margin_ms` left before expiry (410 `claim_expired`).
4. Redeeming is a stored state machine, idempotent on the claim id: one database transaction
   moves the claim to `claiming` (naming the account) and stores the signed post of the hold
   (the gateway's submission `claim-post:<id>`); once the post commits, the signed transfer
   escrow -> account (`claim-pay:<id>`) is stored and sent; once it commits the claim is
   `claimed` and the payer is texted. Post and transfer are two transactions: the ledger
   refuses a transaction whose commands touch different participants (`participants_mixed`;
   the post touches this bank only, the transfer the claimant's bank too). The same redeem
   again drives the same claim and gets the same answer; another account gets 409
   `claim_taken`. A crash anywhere resumes: the resubmitter sends stored bytes again and the
   worker (`run_claims`) drives every claim left between two steps.
5. Never lost, never in limbo: a hold the ledger expired (the projection marks it in
   `db.holds`) makes the claim `returned` and texts the payer; a post refused because the hold
   is over likewise, while a post refused with the hold still pending puts the claim back to
   `pending_claim`; a transfer the ledger refuses for good (the new wallet frozen, over its
   balance cap) is refunded from the escrow to the payer (`claim-refund:<id>`, state
   `returning`, then `returned`).
6. Nothing personal reaches the ledger (the alias is the ledger's own HMAC; the hold's memo is
   the payer's, its reference `claim:<id>`), a URL (paths carry claim ids) or a log line.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
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
    ApiError,
    KycTier,
    NotFound,
    TransactionBuilder,
    alias_hash,
    create_account,
    hold,
    post,
    transfer,
)
from bakong.gateway import custody, db, sessions, sms, submission
from bakong.gateway.claim_records import (
    CLAIMED,
    CLAIMING,
    PENDING,
    PLACING,
    REFERENCE_PREFIX,
    REFUSED,
    RETURNED,
    RETURNING,
    Claim,
    claim_from_row,
    claim_reference,
    escrow_account,
    mask_phone,
    money,
)
from bakong.gateway.merchants import PHNOM_PENH, bank_name
from bakong.gateway.parties import display_name
from bakong.gateway.problems import GatewayProblem, json_response
from bakong.gateway.service import GatewayServices, Worker
from bakong.gateway.ussd import profiles
from bakong.gateway.ussd import texts as ussd_texts
from bakong.gateway.wallets import bind, customer_by_id, query_params, submit_as_participant
from bakong.ledger.assets import Asset
from bakong.ledger.policy import phnom_penh_day
from bakong.ledger.transaction import Transaction
from bakong.wire.keys import SigningKey

__all__ = [
    "AGENT",
    "WALLET",
    "Outgoing",
    "Redeem",
    "Secret",
    "claim_code",
    "claim_for_payment",
    "drive",
    "REFERENCE_PREFIX",
    "ensure_escrow",
    "held_today",
    "load_claim",
    "redeem",
    "return_expired",
    "routes",
    "run_claims",
    "send",
    "settle_placements",
    "sweep",
    "workers",
]

log = logging.getLogger(__name__)

ESCROW_META = "claims_escrow"  # `db.meta` key: the escrow account, once it is on the ledger
WALLET: Literal["wallet"] = "wallet"
AGENT: Literal["agent"] = "agent"


def _pepper(services: GatewayServices) -> bytes:
    return custody.derive_key(services.kek, "claims")


def claim_code(pepper: bytes, claim_id: str) -> str:
    """The claim's code: `limits.claim_code_digits` digits derived from its id (rule 2)."""
    digest = hmac.new(pepper, b"code\x00" + claim_id.encode(), hashlib.sha256).digest()
    space = 10**limits.claim_code_digits
    return f"{int.from_bytes(digest[:8], 'big') % space:0{limits.claim_code_digits}d}"


def _secret_digest(pepper: bytes, claim_id: str, secret: str) -> str:
    message = b"secret\x00" + claim_id.encode() + b"\x00" + secret.encode()
    return hmac.new(pepper, message, hashlib.sha256).hexdigest()


def _day(time_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, PHNOM_PENH)
    return moment.strftime("%d %b %Y %H:%M")


def _find(connection: Connection, where: Any) -> Claim | None:
    row = connection.execute(sa.select(db.claims).where(where)).first()
    return None if row is None else claim_from_row(row)


def load_claim(engine: Engine, claim_id: str) -> Claim | None:
    with engine.connect() as connection:
        return _find(connection, db.claims.c.claim_id == claim_id)


def _payment_claim(engine: Engine, payer_id: int, key: str) -> Claim | None:
    table = db.claims
    with engine.connect() as connection:
        return _find(connection, (table.c.payer_id == payer_id) & (table.c.idempotency_key == key))


def held_today(connection: Connection, account_id: str, asset: str, now_ms: int) -> int:
    """What `account_id` placed in claims' holds today (Asia/Phnom_Penh): the ledger counts a
    hold against the day's limit when it is placed, and never its post."""
    table = db.claims
    day = phnom_penh_day(now_ms)
    rows = connection.execute(
        sa.select(table.c.amount, table.c.created_ms).where(
            table.c.payer_account == account_id, table.c.asset == asset,
            table.c.state.not_in((PLACING, REFUSED)),
            table.c.created_ms > now_ms - 2 * 86_400_000,
        )
    ).all()  # fmt: skip
    return sum(row.amount for row in rows if phnom_penh_day(row.created_ms) == day)


def claim_for_payment(engine: Engine, payer_id: int, key: str) -> dict[str, Any] | None:
    """The payer's view of the claim a payment made (`payments` adds it to its answer)."""
    found = _payment_claim(engine, payer_id, key)
    return None if found is None else found.payer_view()


def _move(
    connection: Connection, claim: Claim, to: str, now_ms: int, *, came_from: str | None = None,
    **values: Any,
) -> bool:  # fmt: skip
    """Compare-and-set the claim's state (from its stored one, or `came_from`)."""
    table = db.claims
    done = connection.execute(
        table.update()
        .where(table.c.id == claim.id, table.c.state == (came_from or claim.state))
        .values(state=to, updated_ms=now_ms, **values)
    )
    return done.rowcount == 1


# -- the escrow account -------------------------------------------------------------------------


def _meta(engine: Engine, key: str) -> str | None:
    with engine.connect() as connection:
        value = connection.execute(
            sa.select(db.meta.c.value).where(db.meta.c.key == key)
        ).scalar_one_or_none()
    return None if value is None else str(value)


def _remember(engine: Engine, key: str, value: str) -> None:
    with engine.begin() as connection:
        if connection.execute(sa.select(db.meta.c.key).where(db.meta.c.key == key)).first():
            return
        connection.execute(db.meta.insert().values(key=key, value=value))


async def ensure_escrow(services: GatewayServices) -> str:
    """The claims escrow account, created on the ledger if it is not there yet (rule 1)."""
    account = escrow_account(services.participant)
    if await services.db(_meta, services.engine, ESCROW_META) == account:
        return account
    try:
        found = await services.core.account(account)
    except NotFound:
        opened = create_account(
            account, [services.admin_key], kind=AccountKind.link, tier=KycTier.institutional
        )
        committed = await submit_as_participant(services, opened)
        if not committed.ok and committed.result != "account_exists":
            raise GatewayProblem(502, "ledger_refused", f"the escrow: {committed.result}") from None
        found = await services.core.account(account)
    if found.kind is not AccountKind.link or bytes(services.admin_key.public_key) not in (
        found.signatories
    ):
        raise GatewayProblem(500, "escrow_taken", "the claims escrow's name is someone else's")
    await services.db(_remember, services.engine, ESCROW_META, account)
    return account


# -- placing a claim (rule 1) -----------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """What the payer asked: money for a phone with no wallet."""

    phone: str
    asset: Asset
    amount: int
    memo: str
    secret: str | None  # the payer's secret for a payout at an agent, if any


def _hold_signer(
    services: GatewayServices, payer: Any, claim_id: str, outgoing: Outgoing, expires_ms: int
) -> Transaction:
    key = custody.open_seed(services.kek, payer.account_id, payer.key_sealed)
    escrow = escrow_account(services.participant)
    builder = TransactionBuilder(
        chain_id=services.chain_id, creator=payer.account_id,
        created_ms=services.clock_ms(), nonce=services.nonces(),
    ).add(hold(
        bytes.fromhex(claim_id), payer.account_id, escrow, outgoing.asset, outgoing.amount,
        expires_ms=expires_ms, poster=escrow, memo=outgoing.memo,
        reference=claim_reference(claim_id),
    ))  # fmt: skip
    return builder.sign(key)


def _store_claim(
    services: GatewayServices, payer: Any, key: str, request_hash: str, outgoing: Outgoing,
) -> int:  # fmt: skip
    """The claim row and its signed hold, in one database transaction (rule 1); the hold
    submission's id. A retry finds the stored claim."""
    table = db.claims
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        found = submission.find_submission(connection, payer.id, key)
        if found is not None:
            if found.request_hash != request_hash:
                message = "this idempotency key was used for another request"
                raise GatewayProblem(409, "idempotency_key_reused", message)
            return found.id
        claim_id = services.random_bytes(limits.claim_id_bytes).hex()
        expires_ms = now_ms + services.config.claims.period_ms
        secret = outgoing.secret
        connection.execute(table.insert().values(
            claim_id=claim_id, payer_id=payer.id, idempotency_key=key,
            payer_account=payer.account_id, phone=outgoing.phone,
            alias=alias_hash(services.alias_key, outgoing.phone), asset=outgoing.asset.value,
            amount=outgoing.amount, memo=outgoing.memo, hold_id=bytes.fromhex(claim_id),
            expires_ms=expires_ms,
            secret_hash=None if secret is None else _secret_digest(
                _pepper(services), claim_id, secret),
            attempts=0, state=PLACING, created_ms=now_ms, updated_ms=now_ms,
        ))  # fmt: skip
        transaction = _hold_signer(services, payer, claim_id, outgoing, expires_ms)
        return submission.store_signed(connection, payer.id, key, request_hash, transaction, now_ms)


async def send(
    services: GatewayServices, payer: Any, key: str, request_hash: str, outgoing: Outgoing,
    wait_s: float = limits.gateway_submit_wait_s,
) -> tuple[submission.Submission, dict[str, Any]]:  # fmt: skip
    """Place the claim of a payment to a phone with no wallet (rules 1-2): where its hold
    stands, and the payer's view of the claim."""
    if payer.custody != "custodial":
        raise GatewayProblem(409, "self_custody", "this wallet signs its own payments")
    try:
        await ensure_escrow(services)
    except (ApiError, httpx.TransportError):
        message = "the ledger cannot be reached: try again"
        raise GatewayProblem(503, "core_unavailable", message) from None
    try:
        submission_id = await services.db(
            _store_claim, services, payer, key, request_hash, outgoing
        )
    except sa.exc.IntegrityError:  # a concurrent retry stored it first
        submission_id = await services.db(
            _store_claim, services, payer, key, request_hash, outgoing
        )
    stored = await services.db(submission.load_submission, services.engine, submission_id)
    sent = await submission.send_signed(services, stored, wait_s)
    placed = await services.db(_payment_claim, services.engine, payer.id, key)
    if placed is not None and placed.state == PLACING:
        await services.db(_settle_placement, services, placed, services.clock_ms())
    view = await services.db(claim_for_payment, services.engine, payer.id, key)
    if view is None:
        raise GatewayProblem(409, "idempotency_key_reused", "this key paid someone else")
    return sent, view


def _payee_text(services: GatewayServices, claim: Claim, payer_name: str) -> str:
    code = claim_code(_pepper(services), claim.claim_id)
    bank = bank_name(services, escrow_account(services.participant))
    agent = (
        " Or show this code and the sender's secret to a cash agent." if claim.secret_hash else ""
    )
    return (
        f"{payer_name} sent you {money(claim.asset, claim.amount)} via {bank}. To receive "
        f"it, open a wallet at any bank and claim it with bank {services.participant}, code "
        f"{code}, before {_day(claim.expires_ms)}.{agent} Never share the code."
    )


def _settle_placement(services: GatewayServices, claim: Claim, now_ms: int) -> None:
    """Rule 2: a placing claim whose hold is finished moves on (once: a compare-and-set)."""
    with services.engine.begin() as connection:
        stored = submission.find_submission(connection, claim.payer_id, claim.idempotency_key)
        if stored is None or not stored.finished:
            return
        if stored.state is submission.State.rejected:
            _move(connection, claim, REFUSED, now_ms, reason=stored.result, finished_ms=now_ms)
            return
        if not _move(connection, claim, PENDING, now_ms):
            return
        payer = customer_by_id(connection, claim.payer_id)
        text = _payee_text(services, claim, display_name(payer.name))
        sms.queue_sms(connection, claim.phone, text, now_ms)
        assert stored.tx_hash is not None
        _payer_receipt(services, connection, claim, payer, stored.tx_hash, now_ms)


def _payer_receipt(
    services: GatewayServices, connection: Connection, claim: Claim, payer: Any, tx_hash: bytes,
    now_ms: int,
) -> None:  # fmt: skip
    """Rule 2: a payer who uses the USSD service is texted a receipt of the money put aside, in
    the language chosen by dialling (as every USSD payment is receipted: `ussd.service`)."""
    if not services.config.ussd.enabled or payer.phone is None:
        return
    language = profiles.language_of(connection, services.kek, payer.phone)
    if language is None:
        return
    expires = datetime.datetime.fromtimestamp(claim.expires_ms / 1000, PHNOM_PENH)
    body = ussd_texts.claim_receipt(
        language, Asset(claim.asset), claim.amount, mask_phone(claim.phone),
        expires.strftime("%d/%m"), tx_hash.hex()[:8],
        bank_name(services, escrow_account(services.participant)),
    )  # fmt: skip
    sms.queue_sms(connection, payer.phone, body, now_ms)


def _claims_in(
    engine: Engine, states: tuple[str, ...], *, updated_before_ms: int | None = None,
    expired_before_ms: int | None = None,
) -> list[Claim]:  # fmt: skip
    table = db.claims
    query = sa.select(table).where(table.c.state.in_(states))
    if updated_before_ms is not None:
        query = query.where(table.c.updated_ms <= updated_before_ms)
    if expired_before_ms is not None:
        query = query.where(table.c.expires_ms < expired_before_ms)
    with engine.connect() as connection:
        rows = connection.execute(
            query.order_by(table.c.id).limit(limits.claims_sweep_batch_max)
        ).all()
    return [claim_from_row(row) for row in rows]


async def settle_placements(services: GatewayServices) -> int:
    """Rule 2 for every claim still `placing`; the number looked at."""
    placing = await services.db(_claims_in, services.engine, (PLACING,))
    for claim in placing:
        await services.db(_settle_placement, services, claim, services.clock_ms())
    return len(placing)


# -- returns (rule 5) ---------------------------------------------------------------------------


def _payer_phone(connection: Connection, claim: Claim) -> str | None:
    phone = connection.execute(
        sa.select(db.customers.c.phone).where(db.customers.c.id == claim.payer_id)
    ).scalar_one_or_none()
    return None if phone is None else str(phone)


def _returned(connection: Connection, claim: Claim, reason: str, now_ms: int) -> None:
    """The claim is over and the money is back with the payer: say so, and text them."""
    if not _move(connection, claim, RETURNED, now_ms, reason=reason, finished_ms=now_ms):
        return
    phone = _payer_phone(connection, claim)
    if phone is not None:
        text = (
            f"The {money(claim.asset, claim.amount)} you sent to {mask_phone(claim.phone)} "
            "was not claimed and is back in your wallet."
        )
        sms.queue_sms(connection, phone, text, now_ms)


def _hold_status(connection: Connection, claim: Claim) -> str | None:
    status = connection.execute(
        sa.select(db.holds.c.status).where(db.holds.c.hold_id == claim.hold_id)
    ).scalar_one_or_none()
    return None if status is None else str(status)


def _return_if_over(engine: Engine, claim: Claim, now_ms: int) -> bool:
    with engine.begin() as connection:
        status = _hold_status(connection, claim)
        if status not in ("expired", "voided"):
            return False
        _returned(connection, claim, "hold_expired" if status == "expired" else "voided", now_ms)
        return True


async def return_expired(services: GatewayServices) -> int:
    """Rule 5: every pending claim whose hold the ledger expired is returned; the number."""
    returned = 0
    expired = await services.db(
        _claims_in, services.engine, (PENDING,), expired_before_ms=services.clock_ms()
    )
    for claim in expired:
        returned += await services.db(_return_if_over, services.engine, claim, services.clock_ms())
    return returned


# -- redeeming (rules 3-4) -----------------------------------------------------------------------

Digits = Annotated[str, Meta(pattern=r"^[0-9]+$", max_length=limits.claim_code_digits)]
#: The payer's secret for a payout at an agent (the payer passes it on, not the bank).
Secret = Annotated[
    str,
    Meta(pattern=rf"^[0-9]{{{limits.claim_secret_digits_min},{limits.claim_secret_digits_max}}}$"),
]


class Redeem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A claim as a claimant's bank brings it."""

    alias: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
    code: Digits
    account: Annotated[str, Meta(max_length=limits.account_id_chars_max)]
    kind: Literal["wallet", "agent"]
    secret: Secret | None = None


def _candidates(connection: Connection, alias: bytes) -> list[Claim]:
    table = db.claims
    rows = connection.execute(
        sa.select(table).where(table.c.alias == alias, table.c.state != PLACING)
        .order_by(table.c.id.desc()).limit(limits.claims_page_max)
    ).all()  # fmt: skip
    return [claim_from_row(row) for row in rows]


def _count_wrong(connection: Connection, claims: list[Claim]) -> int:
    """One more wrong try on each claim; the fewest tries left among them."""
    table = db.claims
    ids = [claim.id for claim in claims]
    connection.execute(
        table.update().where(table.c.id.in_(ids)).values(attempts=table.c.attempts + 1)
    )
    return max(0, limits.claim_attempts_max - max(claim.attempts + 1 for claim in claims))


def _opened(services: GatewayServices, body: Redeem, now_ms: int) -> Claim | GatewayProblem:
    """The claim the code opens, or the refusal (a wrong try counted and committed)."""
    pepper = _pepper(services)
    with services.engine.begin() as connection:
        candidates = _candidates(connection, bytes.fromhex(body.alias))
        pending = [claim for claim in candidates if claim.state == PENDING]
        opens = [hmac.compare_digest(claim_code(pepper, c.claim_id), body.code) for c in candidates]
        match = next((claim for claim, good in zip(candidates, opens, strict=True) if good), None)
        if match is None:
            if not pending:
                return GatewayProblem(404, "claim_not_found", "no claim waits for this phone")
            left = _count_wrong(connection, pending)
            message = "the code is wrong" if left else "too many wrong codes: the claim is locked"
            return GatewayProblem(403, "claim_code_wrong", message, {"attempts_left": left})
        if match.state != PENDING:
            return match
        if match.attempts >= limits.claim_attempts_max:
            message = "too many wrong tries: the money returns to the sender at expiry"
            return GatewayProblem(423, "claim_locked", message)
        if body.kind == AGENT:
            if match.secret_hash is None:
                message = "the sender set no secret: claim it into a wallet"
                return GatewayProblem(403, "claim_secret_wrong", message, {"attempts_left": 0})
            given = _secret_digest(pepper, match.claim_id, body.secret or "")
            if not hmac.compare_digest(given, match.secret_hash):
                left = _count_wrong(connection, [match])
                return GatewayProblem(403, "claim_secret_wrong", "the secret is wrong",
                                      {"attempts_left": left})  # fmt: skip
        if now_ms > match.expires_ms - limits.claim_redeem_margin_ms:
            return GatewayProblem(410, "claim_expired", "the claim period is over")
        return match


def _escrow_tx(services: GatewayServices, command: Any) -> Transaction:
    builder = TransactionBuilder(
        chain_id=services.chain_id, creator=escrow_account(services.participant),
        created_ms=services.clock_ms(), nonce=services.nonces(),
    )  # fmt: skip
    key: SigningKey = services.admin_key
    return builder.add(command).sign(key)


def _step_key(step: str, claim: Claim) -> str:
    return f"claim-{step}:{claim.claim_id}"


def _store_step(connection: Connection, services: GatewayServices, step: str, claim: Claim,
                command: Any, now_ms: int) -> None:  # fmt: skip
    key = _step_key(step, claim)
    if submission.find_submission(connection, sessions.OFFICER, key) is not None:
        return
    request_hash = hashlib.sha256(key.encode()).hexdigest()
    transaction = _escrow_tx(services, command)
    submission.store_signed(connection, sessions.OFFICER, key, request_hash, transaction, now_ms)


def _start(services: GatewayServices, claim: Claim, body: Redeem, now_ms: int) -> Claim:
    """Rule 4's first step: `claiming`, with the signed post stored, in one transaction; the
    claim as it stands after (another claimant's, when it was quicker)."""
    with services.engine.begin() as connection:
        moved = _move(
            connection, claim, CLAIMING, now_ms, came_from=PENDING,
            claimant=body.account, claimant_kind=body.kind,
        )  # fmt: skip
        if moved:
            _store_step(connection, services, "post", claim, post(claim.hold_id, claim.amount),
                        now_ms)  # fmt: skip
        found = _find(connection, db.claims.c.id == claim.id)
    assert found is not None
    return found


async def redeem(
    services: GatewayServices, caller: str, body: Redeem
) -> tuple[int, dict[str, Any]]:
    """Rules 3-4 for a claim brought by participant `caller`'s gateway: the HTTP status and
    the claimant's view. Refusals are raised."""
    if body.account.rpartition("@")[2] != caller:
        raise GatewayProblem(403, "forbidden", "a bank claims only into its own accounts")
    opened = await services.db(_opened, services, body, services.clock_ms())
    if isinstance(opened, GatewayProblem):
        raise opened
    claim = opened
    if claim.state in (REFUSED, RETURNED):
        raise GatewayProblem(410, "claim_returned", "this money went back to the sender")
    if claim.state == PENDING and body.kind == WALLET:
        try:
            owner = (await services.core.alias(bytes.fromhex(body.alias))).account_id
        except NotFound:
            owner = None
        if owner != body.account:
            message = "this phone's wallet is not the account named"
            raise GatewayProblem(403, "claim_phone_mismatch", message)
    if claim.state == PENDING:
        claim = await services.db(_start, services, claim, body, services.clock_ms())
    if claim.claimant != body.account:
        raise GatewayProblem(409, "claim_taken", "this claim went to another account")
    claim = await drive(services, claim.claim_id, limits.claim_step_wait_s)
    return _claimant_answer(services, claim)


def _claimant_answer(services: GatewayServices, claim: Claim) -> tuple[int, dict[str, Any]]:
    if claim.state in (RETURNED, RETURNING) or claim.state == PENDING:
        reason = claim.reason or claim.state
        message = f"the claim could not be paid into this account ({reason})"
        raise GatewayProblem(410, "claim_returned", message, {"state": claim.state})
    answer = {
        "claim_id": claim.claim_id, "state": claim.state, "asset": claim.asset,
        "amount": claim.amount, "memo": claim.memo, "account": claim.claimant,
        "payer_bank": bank_name(services, claim.payer_account),
    }  # fmt: skip
    return (200 if claim.state == CLAIMED else 202), answer


# -- driving a claim (rule 4, rule 5) -----------------------------------------------------------


def _step(engine: Engine, step: str, claim: Claim) -> submission.Submission | None:
    with engine.connect() as connection:
        return submission.find_submission(connection, sessions.OFFICER, _step_key(step, claim))


_HOLD_OVER = ("hold_expired", "hold_already_voided")


def _after_post(services: GatewayServices, claim: Claim, result: str | None, now_ms: int) -> None:
    """The post was refused: the claim is over if the hold is, else open again (rule 5)."""
    with services.engine.begin() as connection:
        status = _hold_status(connection, claim)
        if result in _HOLD_OVER or status in ("expired", "voided"):
            _returned(connection, claim, result or "hold_expired", now_ms)
            return
        stored = submission.find_submission(connection, sessions.OFFICER, _step_key("post", claim))
        if stored is not None and submission.discard_rejected(connection, stored.id):
            _move(connection, claim, PENDING, now_ms, reason=result, claimant=None,
                  claimant_kind=None)  # fmt: skip


def _store_transfer(services: GatewayServices, claim: Claim, step: str, now_ms: int) -> None:
    target = claim.claimant if step == "pay" else claim.payer_account
    assert target is not None
    memo = claim.memo if step == "pay" else "claim returned"
    command = transfer(
        escrow_account(services.participant), target, claim.asset, claim.amount,
        memo=memo, reference=claim_reference(claim.claim_id),
    )  # fmt: skip
    with services.engine.begin() as connection:
        if step == "refund":
            _move(connection, claim, RETURNING, now_ms, came_from=CLAIMING)
        _store_step(connection, services, step, claim, command, now_ms)


def _finish(services: GatewayServices, claim: Claim, now_ms: int) -> None:
    """The transfer committed: claimed, and the payer texted (once)."""
    with services.engine.begin() as connection:
        if not _move(connection, claim, CLAIMED, now_ms, finished_ms=now_ms):
            return
        phone = _payer_phone(connection, claim)
        if phone is not None:
            text = (
                f"The {money(claim.asset, claim.amount)} you sent to "
                f"{mask_phone(claim.phone)} was claimed."
            )
            sms.queue_sms(connection, phone, text, now_ms)


async def _sent(
    services: GatewayServices, step: str, claim: Claim, wait_s: float
) -> submission.Submission | None:
    stored = await services.db(_step, services.engine, step, claim)
    if stored is None or stored.finished:
        return stored
    return await submission.send_signed(services, stored, wait_s)


async def _drive_claiming(services: GatewayServices, claim: Claim, wait_s: float) -> None:
    posted = await _sent(services, "post", claim, wait_s)
    if posted is None or not posted.finished:
        return
    if posted.state is submission.State.rejected:
        await services.db(_after_post, services, claim, posted.result, services.clock_ms())
        return
    if await services.db(_step, services.engine, "pay", claim) is None:
        await services.db(_store_transfer, services, claim, "pay", services.clock_ms())
    paid = await _sent(services, "pay", claim, wait_s)
    if paid is None or not paid.finished:
        return
    if paid.state is submission.State.committed:
        await services.db(_finish, services, claim, services.clock_ms())
    else:
        await services.db(_store_transfer, services, claim, "refund", services.clock_ms())


async def _drive_returning(services: GatewayServices, claim: Claim, wait_s: float) -> None:
    refunded = await _sent(services, "refund", claim, wait_s)
    if refunded is None or not refunded.finished:
        return
    if refunded.state is submission.State.committed:
        paid = await services.db(_step, services.engine, "pay", claim)
        reason = None if paid is None else paid.result

        def over() -> None:
            with services.engine.begin() as connection:
                _returned(connection, claim, reason or "refunded", services.clock_ms())

        await services.db(over)
    else:  # refused too (the payer's wallet frozen): signed again on a later round
        log.warning("a claim's refund was refused", extra={"code": refunded.result})

        def again() -> None:
            with services.engine.begin() as connection:
                submission.discard_rejected(connection, refunded.id)

        await services.db(again)


async def drive(services: GatewayServices, claim_id: str, wait_s: float) -> Claim:
    """Take a claim as far as it goes now (rules 4-5), waiting up to `wait_s` per block."""
    claim = await services.db(load_claim, services.engine, claim_id)
    assert claim is not None
    if claim.state == CLAIMING:
        await _drive_claiming(services, claim, wait_s)
    elif claim.state == RETURNING:
        await _drive_returning(services, claim, wait_s)
    found = await services.db(load_claim, services.engine, claim_id)
    assert found is not None
    return found


# -- the worker ------------------------------------------------------------------------------


async def sweep(services: GatewayServices, wait_s: float = 0.0) -> None:
    """One round of the worker: placements settled, claims driven, expired holds returned."""
    await settle_placements(services)
    before_ms = services.clock_ms() - int(limits.claims_sweep_s * 1000)
    driven = await services.db(
        _claims_in, services.engine, (CLAIMING, RETURNING), updated_before_ms=before_ms
    )
    for claim in driven:
        await drive(services, claim.claim_id, wait_s)
    await return_expired(services)


async def run_claims(services: GatewayServices) -> None:
    """The escrow made sure of, then `sweep` every `limits.claims_sweep_s`, until cancelled."""
    escrow_ready = False
    while True:
        try:
            if not escrow_ready:
                await ensure_escrow(services)
                escrow_ready = True
            await sweep(services)
        except Exception as error:  # the core or the database is down: next round
            log.warning("claims worker: round failed", extra={"error": type(error).__name__})
        await asyncio.sleep(limits.claims_sweep_s)


def workers(services: GatewayServices) -> list[Worker]:
    return [lambda: run_claims(services)]


# -- the payer's routes -----------------------------------------------------------------------


class ClaimsQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    limit: Annotated[int, Meta(ge=1, le=limits.claims_page_max)] = limits.claims_page_max
    before: Annotated[int, Meta(ge=1)] | None = None  # claims older than this cursor


def _mine(engine: Engine, payer_id: int, query: ClaimsQuery) -> dict[str, Any]:
    table = db.claims
    select = sa.select(table).where(table.c.payer_id == payer_id)
    if query.before is not None:
        select = select.where(table.c.id < query.before)
    with engine.connect() as connection:
        rows = connection.execute(select.order_by(table.c.id.desc()).limit(query.limit)).all()
    more = len(rows) == query.limit
    return {
        "claims": [claim_from_row(row).payer_view() for row in rows],
        "next_before": rows[-1].id if more else None,
    }


async def list_mine(services: GatewayServices, request: Request) -> Response:
    """The money this customer sent to phones with no wallet, newest first, with its state."""
    session = await sessions.authenticate(services, request, "customer")
    query = query_params(request, ClaimsQuery)
    return json_response(await services.db(_mine, services.engine, session.customer_id, query))


async def one_of_mine(services: GatewayServices, request: Request) -> Response:
    """One claim this customer made, by its id."""
    session = await sessions.authenticate(services, request, "customer")
    found = await services.db(load_claim, services.engine, request.path_params["claim_id"])
    if found is None or found.payer_id != session.customer_id:
        raise GatewayProblem(404, "claim_not_found", "no claim of yours has this id")
    return json_response(found.payer_view())


def routes(services: GatewayServices) -> list[BaseRoute]:
    return [
        Route("/v1/claims", bind(services, list_mine), methods=["GET"]),
        Route("/v1/claims/{claim_id}", bind(services, one_of_mine), methods=["GET"]),
    ]
