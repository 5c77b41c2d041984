"""Monitoring in the console: the rules as stored data under two-person control, the evaluation
of new movements into stored alerts, and each alert's case.

`console.monitoring` is the pure part (the rules, `evaluate`, the case steps, the reports);
this module keeps its inputs and outputs in the store. Rules:
1. Rule sets (`aml_rule_sets`) are JSON as `monitoring.decode_rules` reads it. Exactly one is
   `active`; the default set (`DEFAULT_RULES`) is written when none is (`ensure_default_rules`).
   A supervisor proposes a new set (`pending`); ANOTHER supervisor approves it (it becomes
   `active`, the previous one `retired`) or rejects it with a reason: the proposals' two-person
   rule (`own_proposal`, `role_forbidden`, `proposal_decided`), kept in this table because a
   rule set is no ledger command.
2. `evaluate_new` reads the movements of the blocks stored since its last pass (at most
   `limits.console_monitor_blocks_per_pass` blocks), and every earlier movement of the accounts
   they touch within the longest rule window (every rule is about an account, so its rows are
   all a rule reads; institutional accounts are never a subject), and keeps the alerts that a
   new movement completed (their last movement is new): an older pattern was kept, or passed
   over, by an earlier pass. An alert is stored once per id (`monitoring` makes ids deterministic),
   and the pass's height is saved in the same database transaction, so a console restarted
   mid-way neither misses nor repeats one.
3. Every alert opens a case. An operator or a supervisor escalates it; a supervisor closes it
   with a note. Each step is a compare-and-set on the status and is in the audit log (the note
   stays with the case and the report, not in the log).
4. The suspicious transaction report of an alert is `monitoring.report_csv`/`report_json`, the
   reporting entity being the central bank, with the case's note.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong import limits
from bakong.console import audit_log, store
from bakong.console.follower import last_height
from bakong.console.monitoring import (
    AgentCashInRule,
    Alert,
    CaseAction,
    CaseStatus,
    PassThroughRule,
    RoundTripRule,
    Rule,
    StructuringRule,
    VelocityRule,
    decode_rules,
    evaluate,
    next_case_status,
)
from bakong.console.movements import MONEY_MOVING_KINDS, Movement
from bakong.console.reports import stored_movement
from bakong.console.staff import Staff
from bakong.errors import DecodeError
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import Asset
from bakong.ledger.records import INSTITUTIONAL_KINDS, AccountKind

__all__ = [
    "DEFAULT_RULES",
    "CaseView",
    "RuleSetView",
    "active_rules",
    "alert_case",
    "alert_cases",
    "case_step",
    "decide_rules",
    "ensure_default_rules",
    "evaluate_new",
    "propose_rules",
    "rule_sets",
    "rules_json",
]

_MS_PER_HOUR = 60 * 60_000
_MS_PER_DAY = 24 * _MS_PER_HOUR
_MONEY = tuple(kind.value for kind in MONEY_MOVING_KINDS)
PROGRESS = "aml"

#: The set a new console starts with: Cambodia's cash transaction reporting threshold
#: (USD 10,000 or KHR 40,000,000) and patterns of an hour or a day. Supervisors tune it.
DEFAULT_RULES: tuple[Rule, ...] = (
    StructuringRule(name="structuring-usd", asset=Asset.USD, threshold=1_000_000,
                    margin_percent=10, count=3, window_ms=7 * _MS_PER_DAY),
    StructuringRule(name="structuring-khr", asset=Asset.KHR, threshold=40_000_000,
                    margin_percent=10, count=3, window_ms=7 * _MS_PER_DAY),
    VelocityRule(name="velocity-usd", asset=Asset.USD, window_ms=_MS_PER_HOUR, count=30),
    VelocityRule(name="velocity-khr", asset=Asset.KHR, window_ms=_MS_PER_HOUR, count=30),
    RoundTripRule(name="round-trip-usd", asset=Asset.USD, min_amount=100_000,
                  return_percent=90, window_ms=_MS_PER_DAY),
    PassThroughRule(name="pass-through-usd", asset=Asset.USD, min_amount=500_000,
                    out_percent=90, window_ms=_MS_PER_HOUR),
    AgentCashInRule(name="agent-cash-in-usd", asset=Asset.USD, threshold=1_000_000,
                    window_ms=_MS_PER_DAY),
    AgentCashInRule(name="agent-cash-in-khr", asset=Asset.KHR, threshold=40_000_000,
                    window_ms=_MS_PER_DAY),
)  # fmt: skip


def rules_json(rules: Iterable[Rule]) -> str:
    """Rules as the JSON a supervisor edits (`{"rules": [...]}`), one rule a line."""
    lines = [msgspec.json.encode(rule).decode() for rule in rules]
    return '{"rules": [\n  ' + ",\n  ".join(lines) + "\n]}"


# -- rule sets under two-person control --------------------------------------------------------


@dataclass(frozen=True)
class RuleSetView:
    id: int
    rules: str  # JSON
    state: str
    proposed_by: str  # a login name; "console" for the default set
    decided_by: str
    note: str
    created_ms: int


def ensure_default_rules(engine: Engine, now_ms: int) -> None:
    """Write `DEFAULT_RULES` as the active set when there is none (idempotent)."""
    sets = store.aml_rule_sets
    with engine.begin() as connection:
        active = connection.execute(
            sa.select(sa.func.count()).where(sets.c.state == "active")
        ).scalar_one()
        if not active:
            connection.execute(
                sets.insert().values(
                    rules=rules_json(DEFAULT_RULES), state="active", created_ms=now_ms,
                    decided_ms=now_ms,
                )
            )  # fmt: skip


def active_rules(connection: Connection) -> tuple[Rule, ...]:
    """The active set's rules (the default set before one is stored)."""
    sets = store.aml_rule_sets
    text = connection.execute(
        sa.select(sets.c.rules).where(sets.c.state == "active").order_by(sets.c.id.desc())
    ).scalar()
    return DEFAULT_RULES if text is None else decode_rules(str(text).encode())


def rule_sets(engine: Engine) -> list[RuleSetView]:
    """The active set, the pending ones and the latest decided ones, newest first."""
    sets, proposer, decider = store.aml_rule_sets, store.staff.alias("p"), store.staff.alias("d")
    query = (
        sa.select(sets, proposer.c.name.label("proposer"), decider.c.name.label("decider"))
        .outerjoin(proposer, proposer.c.id == sets.c.proposed_by)
        .outerjoin(decider, decider.c.id == sets.c.decided_by)
        .order_by(sets.c.id.desc())
        .limit(limits.console_page_rows_max)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        RuleSetView(
            row.id, row.rules, row.state, row.proposer or audit_log.CONSOLE, row.decider or "",
            row.note, row.created_ms,
        )
        for row in rows
    ]  # fmt: skip


def _supervisor(member: Staff) -> None:
    if member.role != "supervisor":
        raise GatewayProblem(403, "role_forbidden", "only a supervisor changes the rules")


def propose_rules(engine: Engine, member: Staff, text: str, now_ms: int) -> int:
    """A supervisor proposes `text` (rules JSON) as the next set; its number."""
    _supervisor(member)
    if len(text.encode()) > limits.console_body_bytes_max:
        raise GatewayProblem(400, "rules_invalid", "the rules are too long")
    try:
        rules = decode_rules(text.encode())
    except DecodeError as error:
        raise GatewayProblem(400, "rules_invalid", str(error)) from None
    with engine.begin() as connection:
        inserted = connection.execute(
            store.aml_rule_sets.insert().values(
                rules=rules_json(rules), state="pending", proposed_by=member.id,
                created_ms=now_ms,
            )
        )  # fmt: skip
        (number,) = inserted.inserted_primary_key or (None,)
        assert isinstance(number, int)
        audit_log.record(
            connection, (member.id, member.name), "rules_propose",
            f"rule set {number}: {len(rules)} rules", now_ms=now_ms,
        )  # fmt: skip
    return number


def decide_rules(
    engine: Engine, member: Staff, number: int, approve: bool, note: str, now_ms: int
) -> None:
    """Another supervisor approves (the set becomes active) or rejects (with `note`)."""
    _supervisor(member)
    sets = store.aml_rule_sets
    note = note.strip()
    if not approve and not 0 < len(note) <= limits.console_reason_chars_max:
        raise GatewayProblem(400, "reason_invalid", "a rejection says why")
    with engine.begin() as connection:
        row = connection.execute(sa.select(sets).where(sets.c.id == number)).first()
        if row is None:
            raise GatewayProblem(404, "proposal_not_found", "no rule set has this number")
        if row.proposed_by == member.id:
            raise GatewayProblem(403, "own_proposal", "another supervisor decides")
        if approve:
            connection.execute(
                sets.update().where(sets.c.state == "active").values(state="retired")
            )
        moved = connection.execute(
            sets.update()
            .where(sets.c.id == number, sets.c.state == "pending")
            .values(
                state="active" if approve else "rejected", decided_by=member.id,
                decided_ms=now_ms, note="" if approve else note,
            )
        ).rowcount  # fmt: skip
        if moved != 1:
            raise GatewayProblem(409, "proposal_decided", "this rule set was decided already")
        action = "rules_approve" if approve else "rules_reject"
        audit_log.record(
            connection, (member.id, member.name), action, f"rule set {number}", now_ms=now_ms
        )


# -- evaluation --------------------------------------------------------------------------------


def _progress(connection: Connection) -> tuple[int, int]:
    """The evaluated height and its block time, the row locked (on PostgreSQL) until commit: two
    passes at once (a test's beside the monitor's) take turns instead of storing twice."""
    table = store.monitor_progress
    query = sa.select(table.c.height, table.c.time_ms).where(table.c.name == PROGRESS)
    row = connection.execute(query.with_for_update()).first()
    if row is None:
        connection.execute(table.insert().values(name=PROGRESS, height=0, time_ms=0))
        return 0, 0
    return int(row.height), int(row.time_ms)


def _save_progress(connection: Connection, height: int, time_ms: int) -> None:
    table = store.monitor_progress
    connection.execute(
        table.update().where(table.c.name == PROGRESS).values(height=height, time_ms=time_ms)
    )


def _kinds(connection: Connection, accounts: set[str]) -> dict[str, AccountKind]:
    table = store.accounts
    kinds: dict[str, AccountKind] = {}
    names, step = sorted(accounts), limits.console_monitor_accounts_per_query
    for start in range(0, len(names), step):
        chunk = names[start : start + step]
        rows = connection.execute(
            sa.select(table.c.account_id, table.c.kind).where(table.c.account_id.in_(chunk))
        ).all()
        kinds.update({str(account): AccountKind(kind) for account, kind in rows})
    return kinds


def _store_alerts(connection: Connection, alerts: list[Alert], now_ms: int) -> int:
    table = store.aml_alerts
    ids = [alert.alert_id for alert in alerts]
    known = set(
        connection.execute(sa.select(table.c.alert_id).where(table.c.alert_id.in_(ids))).scalars()
    )
    fresh = [alert for alert in alerts if alert.alert_id not in known]
    for alert in fresh:
        connection.execute(
            table.insert().values(
                alert_id=alert.alert_id, rule=alert.rule, rule_kind=alert.rule_kind,
                subject=alert.subject, asset=alert.asset.value, last_ms=alert.last_ms,
                alert=msgspec.json.encode(alert).decode(), status=CaseStatus.open.value,
                created_ms=now_ms,
            )
        )  # fmt: skip
        audit_log.record(
            connection, None, "alert_open",
            f"alert {alert.alert_id}: {alert.rule} on {alert.subject}", now_ms=now_ms,
        )  # fmt: skip
    return len(fresh)


def _money_rows(connection: Connection, *where: sa.ColumnElement[bool]) -> list[Movement]:
    moves = store.movements
    rows = connection.execute(
        sa.select(moves).where(moves.c.result == "ok", moves.c.kind.in_(_MONEY), *where)
    ).all()
    return [stored_movement(row) for row in rows]


def _subjects(connection: Connection, rows: list[Movement]) -> list[str]:
    """The accounts of `rows` that a rule may be about (never an institutional one)."""
    accounts = {row.source for row in rows} | {row.target for row in rows}
    kinds = _kinds(connection, accounts)
    return sorted(
        account
        for account in accounts
        if kinds.get(account) not in INSTITUTIONAL_KINDS
        and not account.startswith(("settlement@", "treasury@"))
    )


def _history(
    connection: Connection, subjects: list[str], since_ms: int, height: int
) -> list[Movement]:
    """Every money row of `subjects` from `since_ms` up to `height`: all that their rules read."""
    moves = store.movements
    found: dict[tuple[int, int, int], Movement] = {}
    step = limits.console_monitor_accounts_per_query
    for start in range(0, len(subjects), step):
        chunk = subjects[start : start + step]
        touching = sa.or_(moves.c.source.in_(chunk), moves.c.target.in_(chunk))
        for row in _money_rows(
            connection, moves.c.time_ms >= since_ms, moves.c.height <= height, touching
        ):
            found[(row.height, row.tx_index, row.command_index)] = row
    return list(found.values())


def _evaluate(connection: Connection, now_ms: int) -> int:
    done_height, done_ms = _progress(connection)
    height = min(last_height(connection), done_height + limits.console_monitor_blocks_per_pass)
    if height <= done_height:
        return 0
    moves, blocks = store.movements, store.blocks
    top_ms = connection.execute(
        sa.select(blocks.c.time_ms).where(blocks.c.height == height)
    ).scalar_one()
    new = _money_rows(connection, moves.c.height > done_height, moves.c.height <= height)
    fresh = 0
    rules = active_rules(connection)
    if new and rules:
        since_ms = min(row.time_ms for row in new) - max(rule.window_ms for rule in rules)
        movements = _history(connection, _subjects(connection, new), since_ms, height)
        kinds = _kinds(connection, {m.source for m in movements} | {m.target for m in movements})
        alerts = [a for a in evaluate(movements, rules, kinds) if a.last_ms > done_ms]
        fresh = _store_alerts(connection, alerts, now_ms)
    _save_progress(connection, height, int(top_ms))
    return fresh


def evaluate_new(engine: Engine, now_ms: int) -> int:
    """One pass over the blocks stored since the last (module rule 2); how many new alerts."""
    with engine.begin() as connection:
        return _evaluate(connection, now_ms)


# -- cases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseView:
    alert: Alert
    status: str
    note: str
    created_ms: int


def _case(row: sa.Row[tuple[object, ...]]) -> CaseView:
    alert = msgspec.json.decode(str(row.alert), type=Alert)
    return CaseView(alert, str(row.status), str(row.note), int(row.created_ms))


def alert_cases(engine: Engine, status: str = "") -> list[CaseView]:
    """The newest alerts (of one case status, when given), newest pattern first."""
    table = store.aml_alerts
    query = sa.select(table).order_by(table.c.last_ms.desc(), table.c.alert_id)
    if status:
        query = query.where(table.c.status == status)
    with engine.connect() as connection:
        rows = connection.execute(query.limit(limits.console_page_rows_max)).all()
    return [_case(row) for row in rows]


def alert_case(engine: Engine, alert_id: str) -> CaseView:
    """One alert and its case; 404 `alert_not_found`."""
    table = store.aml_alerts
    with engine.connect() as connection:
        row = connection.execute(sa.select(table).where(table.c.alert_id == alert_id)).first()
    if row is None:
        raise GatewayProblem(404, "alert_not_found", "no alert has this id")
    return _case(row)


def case_step(
    engine: Engine, member: Staff, alert_id: str, action: CaseAction, note: str, now_ms: int
) -> CaseStatus:
    """Escalate (an operator or a supervisor) or close with a note (a supervisor)."""
    allowed = ("supervisor",) if action is CaseAction.close else ("operator", "supervisor")
    if member.role not in allowed:
        raise GatewayProblem(403, "role_forbidden", "this role does not take this step")
    table = store.aml_alerts
    with engine.begin() as connection:
        status = connection.execute(
            sa.select(table.c.status).where(table.c.alert_id == alert_id)
        ).scalar()
        if status is None:
            raise GatewayProblem(404, "alert_not_found", "no alert has this id")
        after, problem = next_case_status(CaseStatus(status), action, note)
        if after is None:
            status_code = 409 if problem == "case_step_not_allowed" else 400
            raise GatewayProblem(status_code, problem, "this step is not allowed")
        values = {"status": after.value, **({"note": note.strip()} if note.strip() else {})}
        moved = connection.execute(
            table.update().where(table.c.alert_id == alert_id, table.c.status == status)
            .values(**values)
        ).rowcount  # fmt: skip
        if moved != 1:
            raise GatewayProblem(409, "case_step_not_allowed", "the case moved meanwhile")
        audit_log.record(
            connection, (member.id, member.name), f"case_{action.value}",
            f"alert {alert_id}: {status} -> {after.value}", now_ms=now_ms,
        )  # fmt: skip
    return after
