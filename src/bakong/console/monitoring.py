"""Monitoring rules (AML): patterns in the movements that a supervisor wants a person to look at.

Rules are data: a kind and the thresholds a supervisor sets (`decode_rules` validates them, as
JSON, against the bounds in `limits`). `evaluate` is a pure function of the movements, the
accounts' kinds and the rules; it returns alerts, each with its evidence (the movements, by
transaction hash and amount) and an id that is a hash of the rule, the subject account and the
evidence, so that evaluating the same movements again gives the same alerts and a store that
keeps an alert once per id never keeps it twice.

What counts: only rows that moved money (`Movement.moves_money`: ok transfers and posted holds;
issue and redemption are the central bank's own and never match) in the rule's asset. The
central bank's treasury, settlement and link accounts are institutional and are never the
subject of an alert (their traffic is every bank's). Each rule reads an account's rows in ledger
order; once a rule fires for an account, the rows it used are spent and the next alert needs
fresh ones (one pattern, one alert, not one per later payment).

The rules:
- `structuring`: at least `count` payments sent (or received) by one account within
  `window_ms`, each just under the reporting `threshold` (at least `margin_percent` below it
  and no lower).
- `velocity`: one account sends (or receives) at least `count` payments, or at least `value`,
  within `window_ms`.
- `round_trip`: A pays B at least `min_amount`, and B pays A back at least `return_percent`
  of it within `window_ms`.
- `pass_through`: at least `min_amount` arrives in an account and at least `out_percent` of
  it leaves within `window_ms` (minutes, typically).
- `agent_cash_in`: cash-ins (an agent account paying a customer) to one customer summing to
  at least `threshold` within `window_ms` (one large cash-in is enough).

Each alert is a case: open, escalated, closed with a note (`next_case_status`: which steps
are allowed; the console stores the case and who took each step).

`report_json` and `report_csv` export one alert as a suspicious transaction report: the rule,
the subject, the evidence. No personal data: accounts appear by their ledger id only, which
is a handle (design section 3), and a movement carries no memo.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from bakong import limits
from bakong.console.movements import Movement
from bakong.errors import DecodeError
from bakong.ledger.assets import Asset, format_amount
from bakong.ledger.records import INSTITUTIONAL_KINDS, AccountKind

__all__ = [
    "AgentCashInRule",
    "Alert",
    "CaseAction",
    "CaseStatus",
    "Evidence",
    "PassThroughRule",
    "RoundTripRule",
    "Rule",
    "RuleSet",
    "StructuringRule",
    "VelocityRule",
    "decode_rules",
    "evaluate",
    "next_case_status",
    "report_csv",
    "report_json",
]

RuleName = Annotated[
    str, Meta(min_length=1, max_length=limits.aml_rule_name_chars_max, pattern=r"^[a-z0-9_-]+$")
]
Window = Annotated[int, Meta(ge=1, le=limits.aml_window_ms_max)]
Amount = Annotated[int, Meta(ge=1, le=limits.amount_max)]
Percent = Annotated[int, Meta(ge=1, le=100)]
Count = Annotated[int, Meta(ge=1, le=limits.aml_count_max)]
Side = Literal["sender", "receiver"]
Kinds = Mapping[str, AccountKind]


class StructuringRule(msgspec.Struct, frozen=True, kw_only=True, tag="structuring"):
    name: RuleName
    asset: Asset
    threshold: Amount  # the reporting threshold the payments stay under
    margin_percent: Percent  # "just under": within this many percent below the threshold
    count: Annotated[int, Meta(ge=2, le=limits.aml_count_max)]
    window_ms: Window
    side: Side = "sender"


class VelocityRule(msgspec.Struct, frozen=True, kw_only=True, tag="velocity"):
    name: RuleName
    asset: Asset
    window_ms: Window
    count: Count | None = None  # at least this many payments, or
    value: Amount | None = None  # at least this much, in the window
    side: Side = "sender"


class RoundTripRule(msgspec.Struct, frozen=True, kw_only=True, tag="round_trip"):
    name: RuleName
    asset: Asset
    min_amount: Amount
    return_percent: Percent
    window_ms: Window


class PassThroughRule(msgspec.Struct, frozen=True, kw_only=True, tag="pass_through"):
    name: RuleName
    asset: Asset
    min_amount: Amount
    out_percent: Percent
    window_ms: Window


class AgentCashInRule(msgspec.Struct, frozen=True, kw_only=True, tag="agent_cash_in"):
    name: RuleName
    asset: Asset
    threshold: Amount
    window_ms: Window


Rule = StructuringRule | VelocityRule | RoundTripRule | PassThroughRule | AgentCashInRule


class RuleSet(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    rules: Annotated[tuple[Rule, ...], Meta(max_length=limits.aml_rules_max)]


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """One movement of an alert: where it is on the ledger and what it moved."""

    height: int
    tx_index: int
    command_index: int
    tx_hash: str  # hex
    time_ms: int
    source: str
    target: str
    asset: Asset
    amount: int  # minor units


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    alert_id: str  # hex; the same rule, subject and evidence give the same id
    rule: str  # the rule's name
    rule_kind: str
    subject: str  # the account the pattern is about
    asset: Asset
    first_ms: int
    last_ms: int
    count: int  # movements in the pattern (evidence holds at most aml_evidence_max of them)
    total: int  # their amounts summed, minor units
    summary: str  # one sentence, amounts and counts only
    evidence: tuple[Evidence, ...]


def decode_rules(data: bytes) -> tuple[Rule, ...]:
    """A supervisor's rules from JSON (`{"rules": [...]}`); `DecodeError` if any is invalid
    or two share a name."""
    try:
        rules = msgspec.json.decode(data, type=RuleSet).rules
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        raise DecodeError("rules_invalid", str(error)) from None
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise DecodeError("rules_invalid", "two rules share a name")
    for rule in rules:
        if isinstance(rule, VelocityRule) and rule.count is None and rule.value is None:
            raise DecodeError("rules_invalid", f"velocity rule {rule.name} sets no count or value")
    return rules


# -- evaluation ------------------------------------------------------------------------------


def _institutional(account: str, kinds: Kinds) -> bool:
    kind = kinds.get(account)
    if kind is not None:
        return kind in INSTITUTIONAL_KINDS
    # A participant's settlement account and the treasury are named so (ledger.identifiers).
    return account.startswith(("settlement@", "treasury@"))


def _evidence(row: Movement) -> Evidence:
    return Evidence(
        height=row.height, tx_index=row.tx_index, command_index=row.command_index,
        tx_hash=row.tx_hash.hex(), time_ms=row.time_ms, source=row.source, target=row.target,
        asset=row.asset, amount=row.amount,
    )  # fmt: skip


def _kind(rule: Rule) -> str:
    return str(type(rule).__struct_config__.tag)


def _alert(rule: Rule, subject: str, rows: Sequence[Movement], summary: str) -> Alert:
    identity = hashlib.sha256()
    for part in (rule.name, _kind(rule), subject):
        identity.update(part.encode() + b"\x00")
    for row in rows:
        identity.update(f"{row.height}/{row.tx_index}/{row.command_index};".encode())
    return Alert(
        alert_id=identity.hexdigest()[:32], rule=rule.name,
        rule_kind=_kind(rule), subject=subject, asset=rule.asset,
        first_ms=rows[0].time_ms, last_ms=rows[-1].time_ms, count=len(rows),
        total=sum(row.amount for row in rows), summary=summary,
        evidence=tuple(_evidence(row) for row in rows[: limits.aml_evidence_max]),
    )  # fmt: skip


def _by_account(rows: Iterable[Movement], side: Side, kinds: Kinds) -> dict[str, list[Movement]]:
    """Each monitored account's rows on one side, in ledger order."""
    grouped: dict[str, list[Movement]] = {}
    for row in rows:
        account = row.source if side == "sender" else row.target
        if not _institutional(account, kinds):
            grouped.setdefault(account, []).append(row)
    return grouped


def _windows(
    rows: Iterable[Movement], window_ms: int, fires: Callable[[int, int], bool]
) -> Iterator[list[Movement]]:
    """Runs of rows within `window_ms` of their first for which `fires(count, total)` holds,
    each ending at the row that made it hold; a run's rows are not used again."""
    window: deque[Movement] = deque()
    total = 0
    for row in rows:
        window.append(row)
        total += row.amount
        while row.time_ms - window[0].time_ms > window_ms:
            total -= window.popleft().amount
        if fires(len(window), total):
            yield list(window)
            window.clear()
            total = 0


def _structuring(rule: StructuringRule, rows: list[Movement], kinds: Kinds) -> Iterator[Alert]:
    floor = rule.threshold * (100 - rule.margin_percent)  # an amount x is near when 100x >= floor
    near = [row for row in rows if row.amount < rule.threshold and 100 * row.amount >= floor]
    for account, own in _by_account(near, rule.side, kinds).items():
        for run in _windows(own, rule.window_ms, lambda count, _: count >= rule.count):
            summary = (
                f"{len(run)} payments just under {format_amount(rule.asset, rule.threshold)} "
                f"within {_minutes(run)} min"
            )
            yield _alert(rule, account, run, summary)


def _velocity(rule: VelocityRule, rows: list[Movement], kinds: Kinds) -> Iterator[Alert]:
    def fires(count: int, total: int) -> bool:
        if rule.count is not None and count >= rule.count:
            return True
        return rule.value is not None and total >= rule.value

    for account, own in _by_account(rows, rule.side, kinds).items():
        for run in _windows(own, rule.window_ms, fires):
            total = format_amount(rule.asset, sum(row.amount for row in run))
            summary = f"{len(run)} payments, {total}, within {_minutes(run)} min"
            yield _alert(rule, account, run, summary)


def _minutes(run: Sequence[Movement]) -> int:
    return -(-(run[-1].time_ms - run[0].time_ms) // 60_000)  # rounded up


def _round_trip(rule: RoundTripRule, rows: list[Movement], kinds: Kinds) -> Iterator[Alert]:
    outgoing: dict[tuple[str, str], deque[Movement]] = {}  # (A, B) -> A's payments to B
    for row in rows:
        if _institutional(row.source, kinds) or _institutional(row.target, kinds):
            continue
        sent = outgoing.get((row.target, row.source))
        while sent and row.time_ms - sent[0].time_ms > rule.window_ms:
            sent.popleft()
        matched = next(
            (out for out in sent or () if 100 * row.amount >= rule.return_percent * out.amount),
            None,
        )
        if sent is not None and matched is not None:
            sent.remove(matched)
            there = format_amount(rule.asset, matched.amount)
            back = format_amount(rule.asset, row.amount)
            summary = f"{there} sent and {back} returned within {_minutes([matched, row])} min"
            yield _alert(rule, row.target, [matched, row], summary)
        elif row.amount >= rule.min_amount:
            outgoing.setdefault((row.source, row.target), deque()).append(row)


def _pass_through(rule: PassThroughRule, rows: list[Movement], kinds: Kinds) -> Iterator[Alert]:
    touching: dict[str, list[Movement]] = {}
    for row in rows:
        for account in (row.target, row.source):  # never the same account
            if not _institutional(account, kinds):
                touching.setdefault(account, []).append(row)
    for account, own in touching.items():
        yield from _pass_through_account(rule, account, own)


def _pass_through_account(
    rule: PassThroughRule, account: str, rows: list[Movement]
) -> Iterator[Alert]:
    """The account's arrivals within the window before each of its payments out, and what
    left after the first of them: an alert when most of what arrived has left."""
    window: deque[Movement] = deque()  # opens with an arrival
    arrived = left = 0

    def drop() -> None:
        nonlocal arrived, left
        dropped = window.popleft()
        if dropped.target == account:
            arrived -= dropped.amount
        else:
            left -= dropped.amount

    for row in rows:
        if row.target == account:
            window.append(row)
            arrived += row.amount
        elif window:
            window.append(row)
            left += row.amount
        while window and row.time_ms - window[0].time_ms > rule.window_ms:
            drop()
        while window and window[0].target != account:
            drop()
        fired = row.source == account and arrived >= rule.min_amount
        if fired and 100 * left >= rule.out_percent * arrived:
            summary = (
                f"{format_amount(rule.asset, arrived)} in, {format_amount(rule.asset, left)} "
                f"out within {_minutes(window)} min"
            )
            yield _alert(rule, account, list(window), summary)
            window.clear()
            arrived = left = 0


def _agent_cash_in(rule: AgentCashInRule, rows: list[Movement], kinds: Kinds) -> Iterator[Alert]:
    cash_ins = [
        row
        for row in rows
        if kinds.get(row.source) is AccountKind.agent
        and kinds.get(row.target) is not AccountKind.agent
        and not _institutional(row.target, kinds)
    ]

    def fires(_: int, total: int) -> bool:
        return total >= rule.threshold

    for customer, own in _by_account(cash_ins, "receiver", kinds).items():
        for run in _windows(own, rule.window_ms, fires):
            total = format_amount(rule.asset, sum(row.amount for row in run))
            summary = f"{len(run)} cash-ins at agents, {total}, within {_minutes(run)} min"
            yield _alert(rule, customer, run, summary)


_EVALUATORS: dict[type, Callable[..., Iterator[Alert]]] = {
    StructuringRule: _structuring,
    VelocityRule: _velocity,
    RoundTripRule: _round_trip,
    PassThroughRule: _pass_through,
    AgentCashInRule: _agent_cash_in,
}


def evaluate(
    movements: Iterable[Movement], rules: Iterable[Rule], kinds: Kinds
) -> tuple[Alert, ...]:
    """Every alert the rules raise on the movements, in rule order, then subject, then time.

    `kinds` gives account kinds (`agent` matters for cash-ins); an account missing from it is
    treated as a customer's unless it is a settlement or treasury account by its id."""
    ordered = sorted(
        (row for row in movements if row.moves_money),
        key=lambda row: (row.height, row.tx_index, row.command_index),
    )
    alerts: list[Alert] = []
    for rule in rules:
        rows = [row for row in ordered if row.asset is rule.asset]
        found = _EVALUATORS[type(rule)](rule, rows, kinds)
        alerts.extend(sorted(found, key=lambda alert: (alert.subject, alert.first_ms)))
    return tuple(alerts)


# -- cases ---------------------------------------------------------------------------------


class CaseStatus(enum.Enum):
    open = "open"  # every alert starts as an open case
    escalated = "escalated"  # handed to a senior supervisor
    closed = "closed"  # with a note saying why


class CaseAction(enum.Enum):
    escalate = "escalate"
    close = "close"


_CASE_STEPS = {
    (CaseStatus.open, CaseAction.escalate): CaseStatus.escalated,
    (CaseStatus.open, CaseAction.close): CaseStatus.closed,
    (CaseStatus.escalated, CaseAction.close): CaseStatus.closed,
}


def next_case_status(
    status: CaseStatus, action: CaseAction, note: str
) -> tuple[CaseStatus | None, str]:
    """The case's status after `action`, with "" as the problem; or None and the problem's
    code: `case_step_not_allowed` (a closed case stays closed, an escalated one is not
    escalated again), `case_note_required` (closing needs a note), `case_note_too_long`."""
    after = _CASE_STEPS.get((status, action))
    if after is None:
        return None, "case_step_not_allowed"
    if len(note) > limits.console_reason_chars_max:
        return None, "case_note_too_long"
    if action is CaseAction.close and not note.strip():
        return None, "case_note_required"
    return after, ""


# -- suspicious transaction report -----------------------------------------------------------


class _Report(msgspec.Struct, frozen=True, kw_only=True):
    report: str
    reporting_entity: str
    created_ms: int
    alert: Alert
    evidence_omitted: int
    note: str


def report_json(alert: Alert, *, reporting_entity: str, created_ms: int, note: str = "") -> bytes:
    """One alert as a suspicious transaction report, JSON: the alert, its evidence (amounts
    as integers in minor units) and the case note the supervisor wrote."""
    report = _Report(
        report="suspicious_transaction_report", reporting_entity=reporting_entity,
        created_ms=created_ms, alert=alert,
        evidence_omitted=alert.count - len(alert.evidence), note=note,
    )  # fmt: skip
    return msgspec.json.encode(report)


_REPORT_COLUMNS = (
    "alert_id", "rule", "rule_kind", "subject", "height", "tx_index", "command_index",
    "tx_hash", "time_ms", "source", "target", "asset", "amount_minor",
)  # fmt: skip


def report_csv(alert: Alert) -> str:
    """One alert as CSV: a row per movement of evidence."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_REPORT_COLUMNS)
    for item in alert.evidence:
        writer.writerow(
            [
                alert.alert_id, alert.rule, alert.rule_kind, alert.subject, item.height,
                item.tx_index, item.command_index, item.tx_hash, item.time_ms, item.source,
                item.target, item.asset.value, item.amount,
            ]
        )  # fmt: skip
    return out.getvalue()
