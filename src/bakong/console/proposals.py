"""Maker/checker: every act that moves money or changes a rule is proposed by one staff member
and approved by another before the console signs it with the central bank's key.

    pending --approve--> signed --the ledger commits it--> committed | failed
    pending --reject---> rejected

Rules:
1. An `operator` or a `supervisor` proposes (`propose`): an issue or a redemption to a
   settlement account against a reserve entry (`reference` is the reserve reference the ledger
   records), a freeze or unfreeze of an account, or a change of a participant's status on
   the ledger: pause (a paused bank's gateway is refused by the node), resume (back to
   active, which also lifts a direction restriction), make send-only (its accounts pay but
   are never paid) or make receive-only (the reverse), each with the reason (`reference`).
   Every field is bounded and checked before anything is stored; amounts are integers in
   minor units. The central bank's status is never changed. An auditor reads only.
   Governance (`propose_register`, `propose_rotation`, `propose_limits`): register a bank, MFI
   or payment provider (code, name, its kind, admin keys and quorum, gateway keys, gateway
   URL); rotate a participant's admin and gateway keys; replace the limits policy. What is
   proposed is checked as the ledger would (`console.governance`) and kept whole in `payload`
   (JSON), so the supervisor approves exactly what the operator typed and the page shows it
   beside what the ledger holds now. The central bank's own keys are never rotated here (the
   console signs with them).
2. A `supervisor` decides. No one decides their own proposal (403 `own_proposal`), and only a
   pending proposal is decided (409 `proposal_decided`); another role is refused
   (403 `role_forbidden`). A rejection records its reason.
3. Approving signs the ledger command as the central bank and stores the signed bytes and
   their hash with the approval, in ONE database transaction (a compare-and-set from
   `pending`), BEFORE anything is sent: only stored bytes ever leave the process. Sending is
   idempotent (the node applies a hash at most once), so an approval retried, or a `signed`
   proposal found at start-up (`resume_signed`), sends the same bytes again: one approval, at
   most one transaction, never a second issue.
4. A signed proposal is finished once (a compare-and-set from `signed`), by whichever sees its
   end first: the approval waiting for its commit, or the follower applying its block
   (`finish_in_block`). `committed` is the ledger's `ok`; `failed` carries the result code of
   a committed but failed transaction, or the node's refusal code.
5. Every proposal, approval, rejection and result is in the audit log, in the database
   transaction of the act.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.client import ApiError, TransactionBuilder, WaitTimeout, transaction_bytes
from bakong.client.builders import (
    issue,
    redeem,
    register_participant,
    set_account_status,
    set_limits,
    set_participant_endpoint,
    update_participant,
)
from bakong.console import audit_log, governance, store
from bakong.console.home import ConsoleServices
from bakong.console.staff import Staff
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import Asset, format_amount
from bakong.ledger.identifiers import is_account_id, is_gateway_url, is_participant_code
from bakong.ledger.policy import LimitsPolicy
from bakong.ledger.records import AccountStatus, ParticipantStatus
from bakong.ledger.transaction import transaction_hash

__all__ = [
    "GOVERNANCE_KINDS",
    "KINDS",
    "MONEY_KINDS",
    "PARTICIPANT_KINDS",
    "PARTICIPANT_STATUS_BY_KIND",
    "PROPOSERS",
    "Proposal",
    "Registration",
    "Rotation",
    "approve",
    "finish_in_block",
    "parse_amount",
    "proposal",
    "proposals",
    "propose",
    "propose_limits",
    "propose_register",
    "propose_rotation",
    "proposed_policy",
    "registration",
    "reject",
    "resume_signed",
    "rotation",
]

log = logging.getLogger(__name__)

MONEY_KINDS = ("issue", "redeem")
#: `account_id` holds the participant's code; each kind sets the ledger status beside it.
PARTICIPANT_STATUS_BY_KIND = {
    "pause": ParticipantStatus.suspended,
    "resume": ParticipantStatus.active,
    "send_only": ParticipantStatus.send_only,
    "receive_only": ParticipantStatus.receive_only,
}
PARTICIPANT_KINDS = tuple(PARTICIPANT_STATUS_BY_KIND)
PROPOSERS = ("operator", "supervisor")
#: `account_id` holds the participant's code (a limits change: the central bank's).
GOVERNANCE_KINDS = ("register", "rotate_keys", "set_limits")
KINDS = (*MONEY_KINDS, "freeze", "unfreeze", *PARTICIPANT_KINDS, *GOVERNANCE_KINDS)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Proposal:
    id: int
    kind: str
    account_id: str
    asset: str | None
    amount: int | None
    reference: str
    proposed_by: str
    decided_by: str | None
    state: str
    note: str
    tx_hash: bytes | None
    result: str | None
    height: int | None
    created_ms: int
    payload: str = ""  # a governance proposal's (rule 1), as JSON

    @property
    def summary(self) -> str:
        """What it does, without personal data: `issue 1,000.00 USD to settlement@aclb`."""
        if self.kind in MONEY_KINDS and self.asset is not None and self.amount is not None:
            money = format_amount(Asset(self.asset), self.amount)
            way = "to" if self.kind == "issue" else "from"
            return f"{self.kind} {money} {way} {self.account_id}"
        return f"{self.kind} {self.account_id}"


def parse_amount(asset: Asset, text: str) -> int:
    """Minor units of a decimal amount typed by a person (`1500`, `12.34`), without floats;
    400 `amount_invalid` for anything else, a zero, or an amount past the ledger's bound."""
    places = asset.exponent
    pattern = r"\d{1,18}" + (rf"(\.\d{{1,{places}}})?" if places else "")
    cleaned = text.strip().replace(",", "")
    if not re.fullmatch(pattern, cleaned):
        raise GatewayProblem(400, "amount_invalid", f"an amount of {asset.value} is a number")
    whole, _, fraction = cleaned.partition(".")
    amount: int = int(whole) * 10**places + (int(fraction.ljust(places, "0")) if fraction else 0)
    if not 0 < amount <= limits.amount_max:
        raise GatewayProblem(400, "amount_invalid", "the amount is above zero and bounded")
    return amount


def _checked_text(text: str, what: str, chars_max: int) -> str:
    text = text.strip()
    if not text or len(text) > chars_max or _CONTROL.search(text):
        raise GatewayProblem(400, f"{what}_invalid", f"a {what} has 1 to {chars_max} characters")
    return text


# -- reading -----------------------------------------------------------------------------------


def _select() -> Any:
    table, proposer, decider = store.proposals, store.staff.alias("p"), store.staff.alias("d")
    return (
        sa.select(table, proposer.c.name.label("proposer"), decider.c.name.label("decider"))
        .join(proposer, proposer.c.id == table.c.proposed_by)
        .outerjoin(decider, decider.c.id == table.c.decided_by)
    )


def _proposal(row: Any) -> Proposal:
    return Proposal(
        row.id, row.kind, row.account_id, row.asset, row.amount, row.reference, row.proposer,
        row.decider, row.state, row.note, row.tx_hash, row.result, row.height, row.created_ms,
        row.payload,
    )  # fmt: skip


def proposal(engine: Engine, proposal_id: int) -> Proposal:
    with engine.connect() as connection:
        row = connection.execute(_select().where(store.proposals.c.id == proposal_id)).first()
    if row is None:
        raise GatewayProblem(404, "proposal_not_found", "no proposal has this number")
    return _proposal(row)


def proposals(engine: Engine, states: Iterable[str] | None = None) -> list[Proposal]:
    """The newest proposals first (at most a page), in `states` when given."""
    query = _select().order_by(store.proposals.c.id.desc()).limit(limits.console_page_rows_max)
    if states is not None:
        query = query.where(store.proposals.c.state.in_(list(states)))
    with engine.connect() as connection:
        return [_proposal(row) for row in connection.execute(query).all()]


# -- proposing and deciding --------------------------------------------------------------------


class Registration(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A participant to register (rule 1); keys are hex."""

    code: str
    name: str
    kind: str  # `governance.PARTICIPANT_TYPES`
    admin_keys: tuple[str, ...]
    admin_quorum: int
    gateway_keys: tuple[str, ...]
    gateway_url: str


class Rotation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A participant's keys after a rotation (rule 1); keys are hex."""

    code: str
    admin_keys: tuple[str, ...]
    admin_quorum: int
    gateway_keys: tuple[str, ...]


def registration(found: Proposal) -> Registration:
    return msgspec.json.decode(found.payload, type=Registration)


def rotation(found: Proposal) -> Rotation:
    return msgspec.json.decode(found.payload, type=Rotation)


def proposed_policy(found: Proposal) -> LimitsPolicy:
    return msgspec.json.decode(found.payload, type=LimitsPolicy)


def _store(
    engine: Engine, staff: Staff, kind: str, account_id: str, reference: str, now_ms: int,
    money: tuple[Asset, int] | None = None, payload: str = "",
) -> int:  # fmt: skip
    """Insert a checked pending proposal and its audit entry; its number."""
    asset, amount = (money[0].value, money[1]) if money is not None else (None, None)
    with engine.begin() as connection:
        inserted = connection.execute(
            store.proposals.insert().values(
                kind=kind, account_id=account_id, asset=asset, amount=amount, payload=payload,
                reference=reference, proposed_by=staff.id, state="pending", created_ms=now_ms,
            )
        )  # fmt: skip
        (proposal_id,) = inserted.inserted_primary_key or (None,)
        assert isinstance(proposal_id, int)
        row = connection.execute(_select().where(store.proposals.c.id == proposal_id)).one()
        audit_log.record(
            connection, staff.who, "propose", _proposal(row).summary,
            now_ms=now_ms, proposal_id=proposal_id,
        )  # fmt: skip
    return proposal_id


def _may_propose(staff: Staff) -> None:
    if staff.role not in PROPOSERS:
        raise GatewayProblem(403, "role_forbidden", "an auditor reads only")


def propose(
    engine: Engine, staff: Staff, kind: str, account_id: str, reference: str, now_ms: int,
    money: tuple[Asset, int] | None = None, *, central_bank: str = "",
) -> int:  # fmt: skip
    """Store a pending proposal by an operator or a supervisor (rule 1); its number."""
    _may_propose(staff)
    if kind not in KINDS or kind in GOVERNANCE_KINDS:
        raise GatewayProblem(400, "kind_invalid", f"a proposal is one of {', '.join(KINDS)}")
    if kind in PARTICIPANT_KINDS:
        if not is_participant_code(account_id) or account_id == central_bank:
            raise GatewayProblem(
                400, "participant_invalid", "choose a participant (never the central bank)"
            )
    elif not is_account_id(account_id):
        raise GatewayProblem(400, "account_invalid", "an account ID is name@participant")
    if kind in MONEY_KINDS:
        reference = _checked_text(reference, "reserve_ref", limits.reserve_ref_chars_max)
        if money is None:
            raise GatewayProblem(400, "amount_invalid", "an issue or redemption has an amount")
    else:
        reference = _checked_text(reference, "reason", limits.console_reason_chars_max)
        money = None
    return _store(engine, staff, kind, account_id, reference, now_ms, money)


def _known_codes(engine: Engine) -> dict[str, bool]:
    """Every participant code the store knows, with whether it is the central bank."""
    table = store.participants
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table.c.code, table.c.central_bank)).all()
    return {row.code: bool(row.central_bank) for row in rows}


def _checked_keys(admin_keys: tuple[str, ...], quorum: int, gateway_keys: tuple[str, ...]) -> None:
    governance.parse_keys(",".join(admin_keys), "admin_keys", at_least=1)
    governance.parse_keys(",".join(gateway_keys), "gateway_keys", at_least=0)
    if not 1 <= quorum <= len(admin_keys):
        raise GatewayProblem(400, "quorum_invalid", "a quorum is 1 to the number of admin keys")


def propose_register(
    engine: Engine, staff: Staff, draft: Registration, reason: str, now_ms: int
) -> int:
    """Propose to register a participant (rule 1), checked as the ledger will; its number."""
    _may_propose(staff)
    if not is_participant_code(draft.code):
        raise GatewayProblem(400, "participant_invalid", "a code of 4 to 8 lower-case letters")
    if draft.code in _known_codes(engine):
        raise GatewayProblem(409, "participant_exists", "a participant already has this code")
    name = _checked_text(draft.name, "name", limits.participant_name_chars_max)
    if draft.kind not in governance.PARTICIPANT_TYPES:
        raise GatewayProblem(400, "participant_kind_invalid", "a bank, an MFI or a PSP")
    _checked_keys(draft.admin_keys, draft.admin_quorum, draft.gateway_keys)
    if draft.gateway_url and not is_gateway_url(draft.gateway_url):
        raise GatewayProblem(400, "gateway_url_invalid", "an http(s) URL of the gateway")
    reason = _checked_text(reason, "reason", limits.console_reason_chars_max)
    payload = msgspec.json.encode(msgspec.structs.replace(draft, name=name)).decode()
    return _store(engine, staff, "register", draft.code, reason, now_ms, payload=payload)


def propose_rotation(
    engine: Engine, staff: Staff, draft: Rotation, reason: str, now_ms: int
) -> int:
    """Propose new admin and gateway keys for a participant (rule 1); its number."""
    _may_propose(staff)
    if _known_codes(engine).get(draft.code, True):  # unknown, or the central bank
        raise GatewayProblem(400, "participant_invalid", "choose a participant")
    _checked_keys(draft.admin_keys, draft.admin_quorum, draft.gateway_keys)
    reason = _checked_text(reason, "reason", limits.console_reason_chars_max)
    payload = msgspec.json.encode(draft).decode()
    return _store(engine, staff, "rotate_keys", draft.code, reason, now_ms, payload=payload)


def propose_limits(
    engine: Engine, staff: Staff, policy: LimitsPolicy, reason: str, now_ms: int,
    *, central_bank: str,
) -> int:  # fmt: skip
    """Propose a new limits policy (rule 1), valid as the ledger checks it; its number."""
    _may_propose(staff)
    governance.checked_policy(policy, set(_known_codes(engine)))
    reason = _checked_text(reason, "reason", limits.console_reason_chars_max)
    payload = msgspec.json.encode(policy).decode()
    return _store(engine, staff, "set_limits", central_bank, reason, now_ms, payload=payload)


def _decidable(connection: Connection, staff: Staff, proposal_id: int) -> Proposal:
    """The pending proposal `staff` may decide (rule 2), read inside the deciding transaction."""
    if staff.role != "supervisor":
        raise GatewayProblem(403, "role_forbidden", "only a supervisor approves or rejects")
    row = connection.execute(_select().where(store.proposals.c.id == proposal_id)).first()
    if row is None:
        raise GatewayProblem(404, "proposal_not_found", "no proposal has this number")
    if row.proposed_by == staff.id:
        raise GatewayProblem(403, "own_proposal", "no one approves or rejects their own proposal")
    if row.state != "pending":
        raise GatewayProblem(409, "proposal_decided", f"the proposal is already {row.state}")
    return _proposal(row)


def _move_state(connection: Connection, proposal_id: int, was: str, **values: Any) -> bool:
    table = store.proposals
    moved = connection.execute(
        table.update().where(table.c.id == proposal_id, table.c.state == was).values(**values)
    )
    return moved.rowcount == 1


def reject(engine: Engine, staff: Staff, proposal_id: int, note: str, now_ms: int) -> None:
    """A supervisor rejects another's pending proposal, with the reason (rule 2)."""
    note = _checked_text(note, "reason", limits.console_reason_chars_max)
    with engine.begin() as connection:
        found = _decidable(connection, staff, proposal_id)
        if not _move_state(
            connection, proposal_id, "pending",
            state="rejected", decided_by=staff.id, decided_ms=now_ms, note=note,
        ):  # fmt: skip
            raise GatewayProblem(409, "proposal_decided", "the proposal was decided meanwhile")
        audit_log.record(
            connection, staff.who, "reject", found.summary, now_ms=now_ms, proposal_id=proposal_id
        )


def _participant_command(connection: Connection, found: Proposal) -> Any:
    """A status change (pause, resume, send-only, receive-only): the participant's record as
    the ledger holds it, its status changed."""
    row = _participant_row(connection, found.account_id)
    status = PARTICIPANT_STATUS_BY_KIND[found.kind]
    return update_participant(
        row.code, row.name, [bytes.fromhex(k) for k in row.admin_keys.split(",") if k],
        status=status, admin_quorum=row.admin_quorum,
        gateway_keys=[bytes.fromhex(k) for k in row.gateway_keys.split(",") if k],
    )  # fmt: skip


def _participant_row(connection: Connection, code: str) -> Any:
    table = store.participants
    row = connection.execute(sa.select(table).where(table.c.code == code)).first()
    if row is None or row.central_bank:
        raise GatewayProblem(400, "participant_invalid", "the console knows no such participant")
    return row


def _governance_commands(connection: Connection, found: Proposal) -> tuple[Any, ...]:
    if found.kind == "set_limits":
        return (set_limits(proposed_policy(found)),)
    if found.kind == "rotate_keys":
        # The record as the ledger holds it at signing (a pause meanwhile stays), new keys.
        keys, row = rotation(found), _participant_row(connection, found.account_id)
        return (update_participant(
            row.code, row.name, [bytes.fromhex(k) for k in keys.admin_keys], status=row.status,
            admin_quorum=keys.admin_quorum,
            gateway_keys=[bytes.fromhex(k) for k in keys.gateway_keys],
        ),)  # fmt: skip
    draft = registration(found)
    registered = register_participant(
        draft.code, draft.name, [bytes.fromhex(k) for k in draft.admin_keys],
        admin_quorum=draft.admin_quorum,
        gateway_keys=[bytes.fromhex(k) for k in draft.gateway_keys],
    )  # fmt: skip
    if not draft.gateway_url:
        return (registered,)
    # One transaction: the participant and its published gateway URL, all or nothing.
    return (registered, set_participant_endpoint(draft.code, draft.gateway_url))


def _commands(connection: Connection, found: Proposal) -> tuple[Any, ...]:
    if found.kind in GOVERNANCE_KINDS:
        return _governance_commands(connection, found)
    if found.kind in PARTICIPANT_KINDS:
        return (_participant_command(connection, found),)
    if found.kind in MONEY_KINDS:
        assert found.asset is not None and found.amount is not None
        build = issue if found.kind == "issue" else redeem
        return (build(found.account_id, found.asset, found.amount, found.reference),)
    status = AccountStatus.frozen if found.kind == "freeze" else AccountStatus.active
    return (set_account_status(found.account_id, status),)


def _sign(services: ConsoleServices, staff: Staff, proposal_id: int) -> bytes | None:
    """Approve and sign in one database transaction (rule 3); the bytes to send. The
    approver's retry gets the stored bytes again, or None once the proposal is finished."""
    now_ms = services.clock_ms()
    with services.engine.begin() as connection:
        table = store.proposals
        row = connection.execute(
            sa.select(table.c.state, table.c.signed_tx, table.c.decided_by).where(
                table.c.id == proposal_id
            )
        ).first()
        if row is not None and row.decided_by == staff.id and row.state != "rejected":
            # The approver's retry: the stored bytes again, or nothing once finished.
            return bytes(row.signed_tx) if row.state == "signed" else None
        found = _decidable(connection, staff, proposal_id)
        builder = TransactionBuilder(
            chain_id=services.genesis.chain_id, creator=services.central_bank,
            created_ms=now_ms, nonce=services.nonces(),
        )  # fmt: skip
        transaction = builder.add(*_commands(connection, found)).sign(services.key)
        signed = transaction_bytes(transaction)
        if not _move_state(
            connection, proposal_id, "pending", state="signed", decided_by=staff.id,
            decided_ms=now_ms, signed_tx=signed, tx_hash=transaction_hash(transaction.payload),
        ):  # fmt: skip
            raise GatewayProblem(409, "proposal_decided", "the proposal was decided meanwhile")
        audit_log.record(
            connection, staff.who, "approve", found.summary, now_ms=now_ms, proposal_id=proposal_id
        )
    return signed


def _finish(engine: Engine, proposal_id: int, result: str, height: int | None, now_ms: int) -> None:
    """Rule 4: `signed` to `committed` (result ok) or `failed`, once."""
    state = "committed" if result == "ok" else "failed"
    with engine.begin() as connection:
        if _move_state(
            connection, proposal_id, "signed", state=state, result=result, height=height
        ):
            detail = result if height is None else f"{result} at height {height}"
            audit_log.record(
                connection, None, state, detail, now_ms=now_ms, proposal_id=proposal_id
            )


def finish_in_block(
    connection: Connection, results: Iterable[tuple[bytes, str]], height: int, now_ms: int
) -> None:
    """Rule 4, from the follower: finish the signed proposals whose transactions `results`
    (hash, result name) carries, in the block's database transaction."""
    by_hash = dict(results)
    if not by_hash:
        return
    table = store.proposals
    rows = connection.execute(
        sa.select(table.c.id, table.c.tx_hash).where(
            table.c.state == "signed", table.c.tx_hash.in_(list(by_hash))
        )
    ).all()
    for proposal_id, tx_hash in rows:
        result = by_hash[bytes(tx_hash)]
        state = "committed" if result == "ok" else "failed"
        if _move_state(
            connection, proposal_id, "signed", state=state, result=result, height=height
        ):
            detail = f"{result} at height {height}"
            audit_log.record(
                connection, None, state, detail, now_ms=now_ms, proposal_id=proposal_id
            )


async def _send(services: ConsoleServices, proposal_id: int, signed: bytes) -> None:
    """Send the stored bytes and wait a while for their commit (rules 3, 4). A busy or absent
    node leaves the proposal `signed`: a retry or the next start sends it again."""
    try:
        (admission,) = await services.node.submit([signed])
        if admission.status == "rejected" and admission.tx_hash is not None:
            # Refused as sent, or committed long ago (out of the replay window): ask which.
            known = await services.node.transaction(admission.tx_hash)
            if known.state != "committed" or known.result is None:
                await services.db(
                    _finish, services.engine, proposal_id, admission.code, None,
                    services.clock_ms(),
                )  # fmt: skip
                return
            await services.db(
                _finish, services.engine, proposal_id, known.result, known.height,
                services.clock_ms(),
            )  # fmt: skip
            return
        if admission.status == "busy" or admission.tx_hash is None:
            return
        committed = await services.node.wait_for(admission.tx_hash, limits.console_submit_wait_s)
    except (ApiError, WaitTimeout, httpx.TransportError, OSError) as error:
        log.warning(
            "an approved command is not committed yet", extra={"error": type(error).__name__}
        )
        return
    await services.db(
        _finish, services.engine, proposal_id, committed.result, committed.height,
        services.clock_ms(),
    )  # fmt: skip


async def approve(services: ConsoleServices, staff: Staff, proposal_id: int) -> Proposal:
    """A supervisor approves another's proposal: signed, stored, sent (rules 2-4); the
    proposal as it stands after the wait."""
    signed = await services.db(_sign, services, staff, proposal_id)
    if signed is not None:
        await _send(services, proposal_id, signed)
    return await services.db(proposal, services.engine, proposal_id)


def _signed(engine: Engine) -> list[tuple[int, bytes]]:
    table = store.proposals
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(table.c.id, table.c.signed_tx).where(table.c.state == "signed")
        ).all()
    return [(row.id, bytes(row.signed_tx)) for row in rows]


async def resume_signed(services: ConsoleServices) -> None:
    """Send every `signed` proposal's stored bytes again (rule 3): run once at start-up."""
    for proposal_id, signed in await services.db(_signed, services.engine):
        await _send(services, proposal_id, signed)
