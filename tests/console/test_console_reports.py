"""The console's settlement report, monitoring and liquidity alerts, on SQLite and PostgreSQL,
against a real node API and a running console (its follower and monitor in the background).

What must hold: supervisors change the monitoring rules under two-person control; a
structuring pattern committed on the node raises one alert, stored once, with its evidence;
its case is escalated and closed with a note, each step in the audit log, and the suspicious
transaction report carries the evidence; the day's settlement report nets to zero per asset,
agrees with the ledger, and its CSV, camt.053 and JSON parse (from the page and the command
line); a settlement account crossing below the threshold staff set for its bank raises one
alert per crossing.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.etree import ElementTree

import httpx
import sqlalchemy as sa
from click.testing import CliRunner

from bakong.cli.console import console as console_cli
from bakong.console import aml, store
from bakong.console.monitoring import StructuringRule
from bakong.console.settlement import CAMT053_NAMESPACE, TOTAL_ROW, phnom_penh_date
from bakong.ledger.assets import Asset
from tests.console.console_harness import (
    PASSWORD,
    RunningConsole,
    console,
    console_engine,
    core,
    database_url,
    postgres_server,
)

__all__ = ["console", "console_engine", "core", "database_url", "postgres_server"]

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HOUR_MS = 60 * 60_000
#: A rule set a test can trip in seconds: three payments just under 1,000,000 riel in an hour.
TEST_RULES = (
    StructuringRule(
        name="khr-under-1m", asset=Asset.KHR, threshold=1_000_000, margin_percent=10, count=3,
        window_ms=HOUR_MS,
    ),
)  # fmt: skip
NS = {"c": CAMT053_NAMESPACE}


@contextmanager
def _signed_in(console: RunningConsole, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, follow_redirects=False) as client:
        answer = client.post("/signin", data={"name": name, "password": PASSWORD})
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        yield client


def _csrf(client: httpx.Client, path: str) -> str:
    match = _CSRF.search(client.get(path).text)
    assert match is not None
    return match.group(1)


def _audit_actions(console: RunningConsole) -> list[str]:
    with console.services.engine.connect() as connection:
        return list(connection.execute(sa.select(store.audit_log.c.action)).scalars())


def _alerts(console: RunningConsole) -> list[sa.Row[tuple[object, ...]]]:
    with console.services.engine.connect() as connection:
        return list(connection.execute(sa.select(store.aml_alerts)).all())


def _set_test_rules(console: RunningConsole) -> None:
    """Sam proposes TEST_RULES through the rules page; Sara approves them."""
    with _signed_in(console, "sam") as sam, _signed_in(console, "sara") as sara:
        form = {"rules": aml.rules_json(TEST_RULES), "csrf": _csrf(sam, "/monitoring/rules")}
        proposed = sam.post("/monitoring/rules", data=form)
        match = re.fullmatch(
            r"/monitoring/rules\?done=rules_proposed-(\d+)", proposed.headers["location"]
        )
        assert match is not None, proposed.headers["location"]
        number = match.group(1)
        own = sam.post(f"/monitoring/rules/{number}/approve", data={"csrf": form["csrf"]})
        assert own.headers["location"] == "/monitoring/rules?error=own_proposal"
        approved = sara.post(
            f"/monitoring/rules/{number}/approve", data={"csrf": _csrf(sara, "/monitoring/rules")}
        )
        assert approved.headers["location"] == f"/monitoring/rules?done=rules_approved-{number}"
    with console.services.engine.connect() as connection:
        assert aml.active_rules(connection) == TEST_RULES


def _fund(console: RunningConsole) -> int:
    chain = console.core.sandbox
    console.commit("nbc", chain.issue("aclb", Asset.KHR, 100_000_000, "reserve-khr-1"))
    console.commit("nbc", chain.issue("aclb", Asset.USD, 1_000_000, "reserve-usd-1"))
    console.commit("aclb", chain.open_account("sokha@aclb"))
    console.commit("wing", chain.open_account("dara@wing"))
    return console.commit(
        "settlement@aclb",
        chain.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 10_000_000),
        chain.transfer("settlement@aclb", "sokha@aclb", Asset.USD, 50_000),
    )


def _structure(console: RunningConsole) -> None:
    """Sokha pays Dara just under 1,000,000 riel three times, and once far under."""
    chain = console.core.sandbox
    for amount in (400_000, 950_000, 990_000, 960_000):
        console.commit("sokha@aclb", chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, amount))


def _raise_structuring_alert(console: RunningConsole) -> sa.Row[tuple[object, ...]]:
    _set_test_rules(console)
    _fund(console)
    _structure(console)
    console.wait_for_height(console.core.height)
    console.wait_until(lambda: len(_alerts(console)) == 1)
    (alert,) = _alerts(console)
    return alert


def test_a_structuring_pattern_raises_one_alert_with_its_evidence(
    console: RunningConsole,
) -> None:
    alert = _raise_structuring_alert(console)
    assert (alert.rule, alert.rule_kind, alert.subject, alert.status) == (
        "khr-under-1m", "structuring", "sokha@aclb", "open",
    )  # fmt: skip
    stored = json.loads(str(alert.alert))
    assert [item["amount"] for item in stored["evidence"]] == [950_000, 990_000, 960_000]
    assert stored["total"] == 2_900_000 and stored["count"] == 3
    # Evaluated again, and after more (ordinary) blocks, the pattern is not stored twice.
    engine = console.services.engine
    assert aml.evaluate_new(engine, console.services.clock_ms()) == 0
    chain = console.core.sandbox
    height = console.commit(
        "sokha@aclb", chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, 10_000)
    )
    console.wait_for_height(height)
    console.wait_until(lambda: _progress(console) >= height)
    assert len(_alerts(console)) == 1
    # A monitor that lost its progress reads the chain again and finds the same alert, by id.
    with engine.begin() as connection:
        connection.execute(store.monitor_progress.delete())
    console.wait_until(lambda: _progress(console) >= height)
    assert len(_alerts(console)) == 1
    assert _audit_actions(console).count("alert_open") == 1
    with _signed_in(console, "ada") as ada:
        listing = ada.get("/monitoring").text
        assert f'id="alert-{alert.alert_id}"' in listing and "sokha@aclb" in listing
        page = ada.get(f"/monitoring/alerts/{alert.alert_id}").text
        assert "3 payments just under 1,000,000 KHR" in page
        assert page.count("dara@wing") == 3 and "950,000 KHR" in page
        assert 'id="close-form"' not in page and 'id="escalate-form"' not in page  # an auditor
        assert ada.get("/monitoring/alerts/" + "0" * 32).headers["location"] == (
            "/monitoring?error=alert_not_found"
        )


def _progress(console: RunningConsole) -> int:
    with console.services.engine.connect() as connection:
        height = connection.execute(
            sa.select(store.monitor_progress.c.height).where(store.monitor_progress.c.name == "aml")
        ).scalar()
    return int(height or 0)


def test_rule_changes_need_another_supervisor(console: RunningConsole) -> None:
    with _signed_in(console, "olga") as olga, _signed_in(console, "sam") as sam:
        rules = aml.rules_json(TEST_RULES)
        refused = olga.post(
            "/monitoring/rules", data={"rules": rules, "csrf": _csrf(olga, "/monitoring")}
        )
        assert refused.headers["location"] == "/monitoring/rules?error=role_forbidden"
        csrf = _csrf(sam, "/monitoring/rules")
        broken = sam.post("/monitoring/rules", data={"rules": '{"rules": [{"type": "x"}]}',
                                                    "csrf": csrf})  # fmt: skip
        assert broken.headers["location"] == "/monitoring/rules?error=rules_invalid"
        assert sam.post("/monitoring/rules", data={"rules": rules, "csrf": csrf}).status_code == 303
        (pending,) = [s for s in aml.rule_sets(console.services.engine) if s.state == "pending"]
        page = sam.get("/monitoring/rules").text
        assert f'id="approve-rules-{pending.id}"' not in page  # the proposer sees no approve
        with _signed_in(console, "sara") as sara:
            sara_csrf = _csrf(sara, "/monitoring/rules")
            assert f'id="approve-rules-{pending.id}"' in sara.get("/monitoring/rules").text
            reject = f"/monitoring/rules/{pending.id}/reject"
            silent = sara.post(reject, data={"note": "", "csrf": sara_csrf})
            assert silent.headers["location"] == "/monitoring/rules?error=reason_invalid"
            rejected = sara.post(reject, data={"note": "too narrow", "csrf": sara_csrf})
            assert rejected.headers["location"] == (
                f"/monitoring/rules?done=rules_rejected-{pending.id}"
            )
            late = sara.post(f"/monitoring/rules/{pending.id}/approve", data={"csrf": sara_csrf})
            assert late.headers["location"] == "/monitoring/rules?error=proposal_decided"
    with console.services.engine.connect() as connection:
        assert aml.active_rules(connection) == aml.DEFAULT_RULES
    actions = _audit_actions(console)
    assert "rules_propose" in actions and "rules_reject" in actions
    assert "rules_approve" not in actions


def test_a_case_is_escalated_closed_with_a_note_and_reported(console: RunningConsole) -> None:
    alert = _raise_structuring_alert(console)
    page = f"/monitoring/alerts/{alert.alert_id}"
    with _signed_in(console, "olga") as olga, _signed_in(console, "sam") as sam:
        olga_csrf = _csrf(olga, page)
        escalated = olga.post(f"{page}/escalate", data={"csrf": olga_csrf, "back": page})
        assert escalated.headers["location"] == f"{page}?done=case_escalate"
        again = olga.post(f"{page}/escalate", data={"csrf": olga_csrf, "back": page})
        assert again.headers["location"] == f"{page}?error=case_step_not_allowed"
        by_operator = olga.post(
            f"{page}/close", data={"csrf": olga_csrf, "note": "x", "back": page}
        )
        assert by_operator.headers["location"] == f"{page}?error=role_forbidden"
        sam_csrf = _csrf(sam, page)
        no_note = sam.post(f"{page}/close", data={"csrf": sam_csrf, "note": " ", "back": page})
        assert no_note.headers["location"] == f"{page}?error=case_note_required"
        note = "Reported to CAFIU: split cash deposits"
        closed = sam.post(f"{page}/close", data={"csrf": sam_csrf, "note": note, "back": page})
        assert closed.headers["location"] == f"{page}?done=case_close"
        shown = sam.get(page).text
        assert 'id="case-status">closed<' in shown and note in shown
        as_csv = sam.get(f"{page}/report.csv")
        assert as_csv.headers["content-disposition"].startswith("attachment;")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert [int(row["amount_minor"]) for row in rows] == [950_000, 990_000, 960_000]
        assert {row["source"] for row in rows} == {"sokha@aclb"}
        report = sam.get(f"{page}/report.json").json()
        assert report["note"] == note and report["reporting_entity"] == "nbc"
        assert report["alert"]["alert_id"] == alert.alert_id and report["evidence_omitted"] == 0
    with httpx.Client(base_url=console.url) as stranger:
        assert stranger.get(f"{page}/report.json", follow_redirects=False).status_code == 303
    actions = _audit_actions(console)
    assert actions.count("case_escalate") == 1 and actions.count("case_close") == 1


def _today(console: RunningConsole) -> str:
    return phnom_penh_date(console.core.sandbox.time_ms)


def _interbank(console: RunningConsole) -> int:
    chain = console.core.sandbox
    _fund(console)
    console.commit("sokha@aclb", chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, 700_000))
    console.commit("dara@wing", chain.transfer("dara@wing", "sokha@aclb", Asset.KHR, 200_000))
    console.commit("sokha@aclb", chain.transfer("sokha@aclb", "dara@wing", Asset.USD, 1_234))
    height = console.commit(
        "settlement@aclb", chain.transfer("settlement@aclb", "settlement@wing", Asset.USD, 10_000)
    )
    console.wait_for_height(height)
    return height


def test_the_days_settlement_report_nets_to_zero_and_its_files_parse(
    console: RunningConsole, tmp_path: Path
) -> None:
    _interbank(console)
    day = _today(console)
    with _signed_in(console, "ada") as ada:
        page = ada.get("/reports/settlement", params={"day": day}).text
        assert 'id="net-sum-KHR" class="good"' in page and 'id="net-sum-USD" class="good"' in page
        assert 'id="reconciled" class="good"' in page
        row = page[page.index('id="position-aclb-KHR"') :]
        assert "-500,000 KHR" in row[: row.index("</tr>")]  # 700,000 out, 200,000 back
        files = {kind: ada.get(f"/reports/settlement.{kind}", params={"day": day})
                 for kind in ("csv", "xml", "json")}  # fmt: skip
        bad_day = ada.get("/reports/settlement", params={"day": "2026-13-40"})
        assert bad_day.headers["location"] == "/reports/settlement?error=day_invalid"
    rows = list(csv.DictReader(io.StringIO(files["csv"].text)))
    totals = {row["asset"]: row["net"] for row in rows if row["participant"] == TOTAL_ROW}
    assert totals == {"KHR": "0", "USD": "0.00"}
    positions = {(r["participant"], r["asset"]): r for r in rows if r["participant"] != TOTAL_ROW}
    assert positions[("aclb", "USD")]["net"] == "-112.34"
    assert positions[("wing", "USD")]["net"] == "112.34"
    assert positions[("aclb", "KHR")]["issued"] == "100000000"
    document = ElementTree.fromstring(files["xml"].content)
    statements = document.findall("c:BkToCstmrStmt/c:Stmt", NS)
    assert len(statements) == len(positions)
    for statement in statements:
        balances = _balances(statement)
        assert set(balances) == {"OPBD", "CLBD"}
    aclb_khr = next(s for s in statements if s.findtext("c:Id", namespaces=NS) == f"aclb-KHR-{day}")
    assert _balances(aclb_khr) == {"OPBD": "0", "CLBD": "99500000"}
    body = files["json"].json()
    assert body["balanced"] is True and body["reconciled"] is True
    assert body["net_sums"] == {"KHR": 0, "USD": 0}
    # The same report from the command line, straight from the store.
    runner = CliRunner()
    for kind in ("csv", "camt053", "json"):
        result = runner.invoke(
            console_cli,
            ["report", "settlement", "--home", str(tmp_path), "--day", day, "--format", kind,
             "--database", str(console.services.engine.url.render_as_string(False))],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        if kind == "json":
            assert json.loads(result.output)["net_sums"] == {"KHR": 0, "USD": 0}
        elif kind == "camt053":
            assert (
                ElementTree.fromstring(result.stdout_bytes).tag
                == f"{{{CAMT053_NAMESPACE}}}Document"
            )
        else:
            assert result.stdout_bytes.decode() == files["csv"].text


def _balances(statement: ElementTree.Element) -> dict[str, str]:
    """A camt.053 statement's balances: type code -> amount."""
    return {
        str(balance.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS)): str(
            balance.findtext("c:Amt", namespaces=NS)
        )
        for balance in statement.findall("c:Bal", NS)
    }


def _low_alerts(console: RunningConsole) -> list[sa.Row[tuple[object, ...]]]:
    with console.services.engine.connect() as connection:
        return list(connection.execute(sa.select(store.liquidity_alerts)).all())


def test_a_settlement_account_crossing_its_threshold_raises_one_alert(
    console: RunningConsole,
) -> None:
    chain = console.core.sandbox
    console.wait_for_height(console.commit("nbc", chain.issue("aclb", Asset.USD, 500_000, "r-1")))
    with _signed_in(console, "olga") as olga, _signed_in(console, "ada") as ada:
        form = {"participant": "aclb", "asset": "USD", "amount": "1,000.00",
                "csrf": _csrf(olga, "/positions")}  # fmt: skip
        assert ada.post("/positions/thresholds", data={**form, "csrf": _csrf(ada, "/positions")}
                        ).headers["location"] == "/positions?error=role_forbidden"  # fmt: skip
        central = olga.post("/positions/thresholds", data={**form, "participant": "nbc"})
        assert central.headers["location"] == "/positions?error=participant_invalid"
        saved = olga.post("/positions/thresholds", data=form)
        assert saved.headers["location"] == "/positions?done=threshold_set"
        # 5,000.00 USD, threshold 1,000.00: no alert. Paying 4,500.00 away crosses it, once.
        height = console.commit(
            "settlement@aclb",
            chain.transfer("settlement@aclb", "settlement@wing", Asset.USD, 450_000),
        )
        console.wait_for_height(height)
        console.wait_until(lambda: len(_low_alerts(console)) == 1)
        height = console.commit(
            "settlement@aclb", chain.transfer("settlement@aclb", "settlement@wing", Asset.USD, 1)
        )
        console.wait_for_height(height)
        # Back above, then below again: a second crossing, a second alert.
        console.wait_for_height(console.commit("nbc", chain.issue("aclb", Asset.USD, 100_000, "r")))
        console.wait_until(lambda: not _below(console))
        assert len(_low_alerts(console)) == 1
        height = console.commit(
            "settlement@aclb",
            chain.transfer("settlement@aclb", "settlement@wing", Asset.USD, 100_000),
        )
        console.wait_until(lambda: len(_low_alerts(console)) == 2)
        (first, second) = sorted(_low_alerts(console), key=lambda row: row.height)
        assert (first.account_id, first.asset, first.balance, first.threshold) == (
            "settlement@aclb", "USD", 50_000, 100_000,
        )  # fmt: skip
        page = ada.get("/positions").text
        assert f'id="low-{first.alert_id}"' in page and f'id="low-{second.alert_id}"' in page
        row = page[page.index('id="position-aclb-USD"') :]
        assert row[: row.index("</tr>")].count("</td>") == 8  # the asset and seven days
        assert "499.99 USD" in row[: row.index("</tr>")]  # today's closing
    actions = _audit_actions(console)
    assert actions.count("threshold_set") == 1 and actions.count("low_balance") == 2


def _below(console: RunningConsole) -> bool:
    with console.services.engine.connect() as connection:
        return bool(connection.execute(sa.select(store.liquidity_thresholds.c.below)).scalar())
