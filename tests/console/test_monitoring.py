"""Monitoring rules: a generated structuring pattern raises one alert with its evidence and a
normal pattern raises none; velocity, round-tripping, rapid pass-through and agents' cash-ins
each fire on their pattern and not beside it; ids are stable; rules are validated data; the
suspicious transaction report carries the evidence and no personal data."""

from __future__ import annotations

import csv
import io
import json
import random

import msgspec
import pytest

from bakong import limits
from bakong.console.monitoring import (
    AgentCashInRule,
    Alert,
    CaseAction,
    CaseStatus,
    PassThroughRule,
    RoundTripRule,
    StructuringRule,
    VelocityRule,
    decode_rules,
    evaluate,
    next_case_status,
    report_csv,
    report_json,
)
from bakong.console.movements import Movement, MovementKind
from bakong.errors import DecodeError
from bakong.ledger.assets import Asset
from bakong.ledger.identifiers import participant_of
from bakong.ledger.records import AccountKind
from tests.console.sandbox_movements import MovementChain

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
START_MS = 1_767_225_600_000
STRUCTURING = StructuringRule(
    name="khr-under-2m", asset=Asset.KHR, threshold=2_000_000, margin_percent=10, count=3,
    window_ms=DAY_MS,
)  # fmt: skip


class Rows:
    """Movements made up row by row, each at its own height, in time order."""

    def __init__(self) -> None:
        self.rows: list[Movement] = []

    def pay(
        self,
        source: str,
        target: str,
        amount: int,
        at_ms: int,
        *,
        asset: Asset = Asset.KHR,
        result: str = "ok",
    ) -> Movement:
        height = len(self.rows) + 1
        row = Movement(
            height=height, time_ms=START_MS + at_ms, tx_index=0,
            tx_hash=height.to_bytes(32, "big"), command_index=0, kind=MovementKind.transfer,
            source=source, target=target, source_participant=participant_of(source),
            target_participant=participant_of(target), asset=asset, amount=amount, result=result,
            reference="", hold_id=b"",
        )  # fmt: skip
        self.rows.append(row)
        return row


def _normal_traffic(rows: Rows, seed: int, days: int = 3) -> None:
    """Customers paying each other ordinary amounts at ordinary times; now and then one pays
    an amount just under the threshold, but never repeatedly within a day."""
    rng = random.Random(seed)
    customers = [f"c{n}@{bank}" for n in range(20) for bank in ("aclb", "wing")]
    events = []
    for _ in range(300):
        source, target = rng.sample(customers, 2)
        amount = rng.choice([rng.randint(1_000, 1_500_000), rng.randint(2_000_000, 9_000_000)])
        events.append((rng.randint(0, days * DAY_MS), source, target, amount))
    for day in range(days):  # one near-threshold payment per customer per day at most
        for source in rng.sample(customers, 5):
            at = day * DAY_MS + rng.randint(0, DAY_MS - 1)
            events.append(
                (at, source, rng.choice(customers[:2]), rng.randint(1_800_000, 1_999_999))
            )
    for at, source, target, amount in sorted(events):
        if source != target:
            rows.pay(source, target, amount, at)


def test_a_generated_structuring_pattern_raises_one_alert_with_its_evidence() -> None:
    rows = Rows()
    _normal_traffic(rows, seed=7)
    rng = random.Random(19)
    smurf = "smurf@wing"
    pattern = [
        rows.pay(
            smurf, f"mule{n}@aclb", rng.randint(1_850_000, 1_999_999), 3 * DAY_MS + n * HOUR_MS
        )
        for n in range(4)
    ]
    alerts = [a for a in evaluate(rows.rows, [STRUCTURING], {}) if a.rule == STRUCTURING.name]
    assert [alert.subject for alert in alerts] == [smurf]
    (alert,) = alerts
    # Fires at the third payment just under the threshold; the fourth starts a new count.
    assert [item.tx_hash for item in alert.evidence] == [row.tx_hash.hex() for row in pattern[:3]]
    assert [item.amount for item in alert.evidence] == [row.amount for row in pattern[:3]]
    assert alert.total == sum(row.amount for row in pattern[:3]) and alert.count == 3
    assert alert.rule_kind == "structuring" and alert.asset is Asset.KHR
    assert "3 payments just under 2,000,000 KHR" in alert.summary


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_normal_pattern_raises_no_structuring_alert(seed: int) -> None:
    rows = Rows()
    _normal_traffic(rows, seed)
    near = [row for row in rows.rows if 1_800_000 <= row.amount < 2_000_000]
    assert len(near) >= 10, "the normal traffic has near-threshold payments too"
    assert evaluate(rows.rows, [STRUCTURING], {}) == ()


def test_structuring_on_a_real_chain() -> None:
    chain = MovementChain()
    chain.fund()
    sandbox = chain.chain
    chain.ok("settlement@aclb", sandbox.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 10**7))
    for amount, target in (
        (1_990_000, "dara@wing"),
        (1_950_000, "vanna@abaa"),
        (1_999_999, "dara@wing"),
    ):
        chain.commit(
            [
                sandbox.transaction(
                    "sokha@aclb", [sandbox.transfer("sokha@aclb", target, Asset.KHR, amount)]
                )
            ],
            advance_ms=10 * MINUTE_MS,
        )
    (alert,) = evaluate(chain.movements, [STRUCTURING], {})
    assert alert.subject == "sokha@aclb"
    assert [item.amount for item in alert.evidence] == [1_990_000, 1_950_000, 1_999_999]
    ledger_hashes = {result.tx_hash.hex() for results in chain.results for result in results}
    assert {item.tx_hash for item in alert.evidence} <= ledger_hashes


def test_alert_ids_are_stable_and_order_free() -> None:
    rows = Rows()
    _normal_traffic(rows, seed=4)
    for n in range(3):
        rows.pay("smurf@wing", "x@aclb", 1_900_000, 4 * DAY_MS + n * MINUTE_MS)
    first = evaluate(rows.rows, [STRUCTURING], {})
    again = evaluate(list(reversed(rows.rows)), [STRUCTURING], {})
    assert first == again and len(first) == 1
    renamed = msgspec.structs.replace(STRUCTURING, name="other")
    assert evaluate(rows.rows, [renamed], {})[0].alert_id != first[0].alert_id


def test_structuring_counts_on_the_receiving_side_too() -> None:
    rows = Rows()
    for n in range(3):
        rows.pay(f"s{n}@aclb", "collector@wing", 1_850_000, n * HOUR_MS)
    by_sender = evaluate(rows.rows, [STRUCTURING], {})
    by_receiver = evaluate(rows.rows, [msgspec.structs.replace(STRUCTURING, side="receiver")], {})
    assert by_sender == () and [alert.subject for alert in by_receiver] == ["collector@wing"]


def test_failed_and_other_asset_rows_never_count() -> None:
    rows = Rows()
    for n in range(3):
        rows.pay("a@aclb", "b@wing", 1_900_000, n * MINUTE_MS, result="insufficient_funds")
        rows.pay("a@aclb", "b@wing", 1_900_000, n * MINUTE_MS, asset=Asset.USD)
    assert evaluate(rows.rows, [STRUCTURING], {}) == ()


def test_velocity_by_count_and_by_value_but_never_for_institutions() -> None:
    rows = Rows()
    for n in range(10):
        rows.pay("busy@aclb", f"t{n}@wing", 1_000, n * MINUTE_MS)
        rows.pay("settlement@aclb", f"t{n}@wing", 10**9, n * MINUTE_MS)
    rows.pay("whale@wing", "t0@aclb", 60_000_000, 0)
    by_count = VelocityRule(name="ten-an-hour", asset=Asset.KHR, window_ms=HOUR_MS, count=10)
    by_value = VelocityRule(name="50m-a-day", asset=Asset.KHR, window_ms=DAY_MS, value=50_000_000)
    alerts = evaluate(rows.rows, [by_count, by_value], {})
    assert [(alert.rule, alert.subject, alert.count) for alert in alerts] == [
        ("ten-an-hour", "busy@aclb", 10),
        ("50m-a-day", "whale@wing", 1),
    ]
    slower = VelocityRule(name="ten-in-5-min", asset=Asset.KHR, window_ms=5 * MINUTE_MS, count=10)
    assert evaluate(rows.rows, [slower], {}) == ()


def test_round_tripping_within_the_window() -> None:
    rule = RoundTripRule(
        name="round-trip", asset=Asset.KHR, min_amount=500_000, return_percent=90,
        window_ms=DAY_MS,
    )  # fmt: skip
    rows = Rows()
    there = rows.pay("a@aclb", "b@wing", 1_000_000, 0)
    back = rows.pay("b@wing", "a@aclb", 950_000, 2 * HOUR_MS)
    rows.pay("c@aclb", "d@wing", 1_000_000, 0)
    rows.pay("d@wing", "c@aclb", 100_000, HOUR_MS)  # a small part back: no round trip
    rows.pay("e@aclb", "f@wing", 1_000_000, 0)
    rows.pay("f@wing", "e@aclb", 1_000_000, 2 * DAY_MS)  # back too late
    rows.pay("g@aclb", "h@wing", 10_000, 0)
    rows.pay("h@wing", "g@aclb", 10_000, MINUTE_MS)  # too small to watch
    (alert,) = evaluate(rows.rows, [rule], {})
    assert alert.subject == "a@aclb"
    assert [(item.source, item.target, item.amount) for item in alert.evidence] == [
        (there.source, there.target, 1_000_000),
        (back.source, back.target, 950_000),
    ]


def test_rapid_pass_through() -> None:
    rule = PassThroughRule(
        name="pass-through", asset=Asset.KHR, min_amount=3_000_000, out_percent=80,
        window_ms=30 * MINUTE_MS,
    )  # fmt: skip
    rows = Rows()
    rows.pay("payer@aclb", "mule@wing", 5_000_000, 0)
    for n in range(3):
        rows.pay("mule@wing", f"out{n}@abaa", 1_400_000, (5 + n) * MINUTE_MS)
    rows.pay("payer@aclb", "saver@wing", 5_000_000, 0)  # keeps most of it
    rows.pay("saver@wing", "shop@abaa", 500_000, 10 * MINUTE_MS)
    rows.pay("payer@aclb", "slow@wing", 5_000_000, 0)  # spends it, but days later
    rows.pay("slow@wing", "shop@abaa", 4_900_000, DAY_MS)
    (alert,) = evaluate(rows.rows, [rule], {})
    assert alert.subject == "mule@wing"
    assert [item.amount for item in alert.evidence] == [5_000_000, 1_400_000, 1_400_000, 1_400_000]
    assert "5,000,000 KHR in, 4,200,000 KHR out" in alert.summary


def test_large_cash_in_by_agents() -> None:
    rule = AgentCashInRule(
        name="agent-cash-in", asset=Asset.USD, threshold=3_000_00, window_ms=DAY_MS
    )
    kinds = {"kiosk@wing": AccountKind.agent, "stall@abaa": AccountKind.agent}
    rows = Rows()
    rows.pay("kiosk@wing", "dara@wing", 1_500_00, 0, asset=Asset.USD)
    rows.pay("stall@abaa", "dara@wing", 1_500_00, HOUR_MS, asset=Asset.USD)  # two agents, one day
    rows.pay("kiosk@wing", "sokha@wing", 2_999_99, 0, asset=Asset.USD)  # under the threshold
    rows.pay("vanna@abaa", "sokha@wing", 5_000_00, 0, asset=Asset.USD)  # not from an agent
    rows.pay("dara@wing", "kiosk@wing", 9_000_00, 2 * HOUR_MS, asset=Asset.USD)  # a cash-out
    (alert,) = evaluate(rows.rows, [rule], kinds)
    assert (alert.subject, alert.total, alert.count) == ("dara@wing", 3_000_00, 2)
    assert {item.source for item in alert.evidence} == {"kiosk@wing", "stall@abaa"}


def test_rules_are_validated_data() -> None:
    text = json.dumps(
        {
            "rules": [
                {"type": "structuring", "name": "s", "asset": "KHR", "threshold": 2_000_000,
                 "margin_percent": 10, "count": 3, "window_ms": DAY_MS},
                {"type": "velocity", "name": "v", "asset": "USD", "window_ms": HOUR_MS,
                 "count": 20},
                {"type": "agent_cash_in", "name": "a", "asset": "USD", "threshold": 100_000,
                 "window_ms": DAY_MS},
            ]
        }
    ).encode()  # fmt: skip
    rules = decode_rules(text)
    assert [type(rule) for rule in rules] == [StructuringRule, VelocityRule, AgentCashInRule]
    assert rules[0] == STRUCTURING.__class__(**{**msgspec.structs.asdict(STRUCTURING), "name": "s"})
    good = {"type": "round_trip", "name": "r", "asset": "KHR", "min_amount": 1,
            "return_percent": 90, "window_ms": DAY_MS}  # fmt: skip
    bad = [
        {**good, "return_percent": 0},
        {**good, "window_ms": limits.aml_window_ms_max + 1},
        {**good, "asset": "EUR"},
        {**good, "name": "Has Spaces"},
        {**good, "type": "astrology"},
        {"type": "velocity", "name": "v", "asset": "KHR", "window_ms": HOUR_MS},
    ]
    for rule in bad:
        with pytest.raises(DecodeError) as caught:
            decode_rules(json.dumps({"rules": [rule]}).encode())
        assert caught.value.code == "rules_invalid", rule
    with pytest.raises(DecodeError, match="share a name"):
        decode_rules(json.dumps({"rules": [good, good]}).encode())
    too_many = [{**good, "name": f"r{n}"} for n in range(limits.aml_rules_max + 1)]
    with pytest.raises(DecodeError):
        decode_rules(json.dumps({"rules": too_many}).encode())


def _structuring_alert() -> Alert:
    rows = Rows()
    for n in range(3):
        rows.pay("smurf@wing", f"m{n}@aclb", 1_900_000 + n, n * MINUTE_MS)
    (alert,) = evaluate(rows.rows, [STRUCTURING], {})
    return alert


def test_the_suspicious_transaction_report_carries_the_evidence() -> None:
    alert = _structuring_alert()
    report = json.loads(report_json(alert, reporting_entity="nbc", created_ms=START_MS, note="n"))
    assert report["report"] == "suspicious_transaction_report"
    assert report["alert"]["alert_id"] == alert.alert_id and report["evidence_omitted"] == 0
    assert [item["amount"] for item in report["alert"]["evidence"]] == [
        1_900_000,
        1_900_001,
        1_900_002,
    ]
    assert all(len(item["tx_hash"]) == 64 for item in report["alert"]["evidence"])
    rows = list(csv.DictReader(io.StringIO(report_csv(alert))))
    assert [row["amount_minor"] for row in rows] == ["1900000", "1900001", "1900002"]
    assert {row["subject"] for row in rows} == {"smurf@wing"}
    keys = {key for row in rows for key in row} | set(report) | set(report["alert"])
    assert not keys & {"memo", "name", "phone", "msisdn", "birth_date"}


def test_evidence_is_bounded_and_the_rest_counted() -> None:
    rows = Rows()
    for n in range(limits.aml_evidence_max + 50):
        rows.pay("busy@aclb", "shop@wing", 100, n)
    count = limits.aml_evidence_max + 50
    rule = VelocityRule(name="v", asset=Asset.KHR, window_ms=HOUR_MS, count=count)
    (alert,) = evaluate(rows.rows, [rule], {})
    assert alert.count == count and len(alert.evidence) == limits.aml_evidence_max
    report = json.loads(report_json(alert, reporting_entity="nbc", created_ms=0))
    assert report["evidence_omitted"] == 50


def test_a_case_is_opened_escalated_and_closed_with_a_note() -> None:
    opened, escalated, closed = CaseStatus.open, CaseStatus.escalated, CaseStatus.closed
    escalate, close = CaseAction.escalate, CaseAction.close
    assert next_case_status(opened, escalate, "") == (escalated, "")
    assert next_case_status(escalated, close, "the payer's payroll, documented") == (closed, "")
    assert next_case_status(opened, close, "a false positive") == (closed, "")
    assert next_case_status(opened, close, "  ") == (None, "case_note_required")
    assert next_case_status(escalated, escalate, "") == (None, "case_step_not_allowed")
    assert next_case_status(closed, close, "again") == (None, "case_step_not_allowed")
    too_long = "x" * (limits.console_reason_chars_max + 1)
    assert next_case_status(opened, close, too_long) == (None, "case_note_too_long")
