"""`bakong phone` as a black box: the command, run as a subprocess, dials a running gateway's
USSD service (its projection and workers running, on SQLite and PostgreSQL) as an aggregator
would. A feature phone registers, receives, reads its balance, sends to a phone at another bank
(whose own gateway runs too, so the payer sees the payee's masked name) and has its receipt;
scripted by `--input`, by stdin lines, and in the JSON shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from bakong.client import set_participant_endpoint
from bakong.gateway import db
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_wallets import cash_in, khr, register
from tests.gateway.ussd import FORM, JSON, SECRET, outbox, ussd_gateway

FEATURE, WING_PHONE, PIN = "+85512000061", "+85512000062", "482913"


def run_phone(
    url: str, *arguments: str, stdin: str = "", secret: str = SECRET
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bakong", "phone", "--gateway", url, *arguments]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "BAKONG_USSD_SECRET": secret},
    )  # fmt: skip


def phone(gateway: RunningGateway, *arguments: str, stdin: str = "") -> str:
    """Run `bakong phone` as this test's feature phone; its output (it must succeed)."""
    done = run_phone(gateway.url, "--msisdn", FEATURE, "--aggregator", FORM, *arguments,
                     stdin=stdin)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_feature_phone_in_a_terminal(engine: Engine, core: Core, tmp_path: Path) -> None:
    wing_engine = db.engine_for(db.sqlite_url(tmp_path / "wing.db"))
    db.migrate(wing_engine)
    with (
        ussd_gateway(engine, core) as gateway,
        ussd_gateway(wing_engine, core, participant="wing") as wing,
        httpx.Client(base_url=wing.url, timeout=30) as wing_http,
    ):
        core.commit([core.sandbox.transaction("nbc", [set_participant_endpoint("wing", wing.url)])])
        dara = register(wing_http, wing, WING_PHONE, "dara_sok", "Dara Sok", "wing")

        opened = phone(gateway, "--input", f"2*1*5821*{PIN}*{PIN}")
        assert "-- dialling *855# as +85512000061" in opened
        assert "ជ្រើសភាសា / Language\n1 ខ្មែរ\n2 English" in opened
        assert "> 5821\nChoose a PIN" in opened
        assert opened.rstrip().endswith(
            "Your wallet 5821@aclb is open. Dial *855# to use it.\n-- END --"
        )

        cash_in(core, "5821@aclb", 50_000)
        gateway.wait_for_height(core.height)
        two_dials = phone(gateway, "--input", f"1*{PIN}", "--input", "2*012000062*1*7000")
        assert "Balance 5821@aclb\n50,000 KHR\n0.00 USD\n-- END --" in two_dials
        assert two_dials.count("-- dialling") == 2
        assert two_dials.rstrip().endswith(
            "Send 7,000 KHR to Dara S. dara_sok@wing\nEnter PIN to confirm"
        )

        lines = "\n".join(["2", "012000062", "1", "7000", PIN, "1", PIN]) + "\n"
        sent = phone(gateway, stdin=lines)  # one input a line; after an END, a new dial
        assert "Sent 7,000 KHR to Dara S. dara_sok@wing. Ref " in sent
        assert sent.count("-- dialling") == 2
        wing.wait_for_height(core.height)
        gateway.wait_for_height(core.height)
        assert khr(wing_http, dara) == 7_000
        assert "> 1\nBalance\nEnter your PIN\n\n> 482913\nBalance 5821@aclb\n43,000 KHR" in sent
        assert outbox(gateway.services.engine, FEATURE)[-1].startswith(
            "Sent 7,000 KHR to dara_sok@wing, ref "
        )

        screens = phone(gateway, "--shape", "json", "--aggregator", JSON, "--json", "--input",
                        f"1*{PIN}")  # fmt: skip
        records = [json.loads(line) for line in screens.splitlines()]
        assert [record["end"] for record in records] == [False, False, True]
        assert records[-1]["screen"] == "Balance 5821@aclb\n43,000 KHR\n0.00 USD"

        refused = run_phone(gateway.url, "--msisdn", FEATURE, "--aggregator", FORM,
                            "--input", "1", secret="not-the-secret")  # fmt: skip
        assert refused.returncode == 1
        assert "aggregator_unauthenticated" in refused.stderr
    wing_engine.dispose()


def test_a_bad_number_or_a_gateway_out_of_reach_is_told_on_stderr() -> None:
    bad = run_phone("http://127.0.0.1:9", "--msisdn", "0855")
    assert bad.returncode == 2 and "E.164" in bad.stderr
    gone = run_phone("http://127.0.0.1:9", "--msisdn", FEATURE, "--input", "1")
    assert gone.returncode == 1 and "cannot be reached" in gone.stderr
