"""The sample core bank as a real process, on SQLite and on PostgreSQL: its secret, its
idempotent postings (refusals included), reversals and cancellations, its balanced books and
journal, its bounds and codes, and its fault switches (killed by SIGKILL after committing a
posting and before answering, then started again)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bakong.corebank import books
from bakong.corebank.books import day_of
from bakong.corebank.process import CorebankProcess
from bakong.gateway import db
from tests.corebank.conftest import make_corebank, now_ms

SOKHA = "0001000101"  # KHR 2,000,000, phone +85512999101
DARA = "0001000102"  # USD 500.00


def client(bank: CorebankProcess, secret: bytes | None = None) -> httpx.Client:
    token = (bank.secret if secret is None else secret).hex()
    return httpx.Client(base_url=bank.url, headers={"authorization": f"Bearer {token}"},
                        timeout=30)  # fmt: skip


def posting(posting_id: str, kind: str, account: str, amount: int, currency: str = "KHR",
            **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"posting_id": posting_id, "kind": kind, "account": account, "amount": amount,
            "currency": currency, "reference": "bank:t1"} | extra  # fmt: skip


def balances(bank: CorebankProcess) -> dict[str, int]:
    engine = db.engine_for(bank.database or bank.home.database_url)
    try:
        return {a.number: a.balance for a in books.list_accounts(engine)}
    finally:
        engine.dispose()


def test_every_route_but_health_needs_the_secret(corebank: CorebankProcess) -> None:
    with httpx.Client(base_url=corebank.url) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok", "bank": "aclb"}
        answer = anonymous.post("/v1/accounts/lookup", json={"account": SOKHA})
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthenticated"
    with client(corebank, b"\x01" * 32) as wrong:
        assert wrong.get("/v1/postings/p1").status_code == 401
        assert wrong.get("/v1/journal", params={"day": "2026-01-01"}).status_code == 401


def test_lookup_compares_the_phone_and_never_returns_it(corebank: CorebankProcess) -> None:
    with client(corebank) as http:
        found = http.post("/v1/accounts/lookup", json={"account": SOKHA, "phone": "+85512999101"})
        assert found.json() == {"account": SOKHA, "holder_name": "Sokha Chan", "currency": "KHR",
                                "status": "open", "phone_matches": True}  # fmt: skip
        other = http.post("/v1/accounts/lookup", json={"account": SOKHA, "phone": "+85512999102"})
        assert other.json()["phone_matches"] is False and "+855" not in other.text
        missing = http.post("/v1/accounts/lookup", json={"account": "0009999999"})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "account_not_found"
        bad = http.post("/v1/accounts/lookup", json={"account": "12ab"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"


def test_a_posting_is_made_once_and_its_id_cannot_be_reused(corebank: CorebankProcess) -> None:
    before = balances(corebank)
    with client(corebank) as http:
        first = http.post("/v1/postings", json=posting("aclb.t1", "credit", SOKHA, 25_000))
        assert first.status_code == 201 and first.json()["state"] == "posted"
        again = http.post("/v1/postings", json=posting("aclb.t1", "credit", SOKHA, 25_000))
        assert again.status_code == 200 and again.json() == first.json()
        other = http.post("/v1/postings", json=posting("aclb.t1", "credit", SOKHA, 26_000))
        assert other.status_code == 409 and other.json()["error"]["code"] == "posting_id_reused"
        assert http.get("/v1/postings/aclb.t1").json() == first.json()
        unknown = http.get("/v1/postings/aclb.t2")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "posting_not_found"
    after = balances(corebank)
    assert after[SOKHA] == before[SOKHA] + 25_000
    assert after["BAKONG-KHR"] == before["BAKONG-KHR"] + 25_000  # the other leg: balanced


def test_a_refusal_is_stored_and_stays_a_refusal(corebank: CorebankProcess) -> None:
    with client(corebank) as http:
        refused = http.post("/v1/postings", json=posting("aclb.t3", "debit", DARA, 900_00, "USD"))
        assert refused.status_code == 201
        assert (refused.json()["state"], refused.json()["code"]) == ("refused",
                                                                     "insufficient_funds")
        # Money arrives; the same posting asked again is still the refusal it was.
        assert http.post("/v1/postings", json=posting("aclb.t4", "credit", DARA, 900_00,
                                                      "USD")).json()["state"] == "posted"
        retry = http.post("/v1/postings", json=posting("aclb.t3", "debit", DARA, 900_00, "USD"))
        assert retry.status_code == 200 and retry.json()["state"] == "refused"
        wrong_currency = http.post("/v1/postings", json=posting("aclb.t5", "credit", DARA, 1))
        assert wrong_currency.json()["code"] == "currency_mismatch"
        nobody = http.post("/v1/postings", json=posting("aclb.t6", "credit", "0009999999", 1))
        assert nobody.json()["code"] == "account_not_found"


def test_a_reversal_is_a_posting_of_its_own_and_a_never_posted_id_is_cancelled(
    corebank: CorebankProcess,
) -> None:
    before = balances(corebank)
    with client(corebank) as http:
        http.post("/v1/postings", json=posting("aclb.t7", "debit", SOKHA, 40_000))
        reversed_ = http.post("/v1/postings/aclb.t7/reverse").json()
        assert reversed_["state"] == "posted" and reversed_["reversed_by"] == "aclb.t7~rev"
        assert http.post("/v1/postings/aclb.t7/reverse").json() == reversed_  # idempotent
        assert http.get("/v1/postings/aclb.t7~rev").json()["reverses"] == "aclb.t7"
        cancelled = http.post("/v1/postings/aclb.t8/reverse").json()
        assert cancelled["state"] == "cancelled"
        late = http.post("/v1/postings", json=posting("aclb.t8", "credit", SOKHA, 5_000))
        assert late.json()["state"] == "cancelled" and late.json()["code"] == "posting_cancelled"
        journal = http.get("/v1/journal", params={"day": day_of(now_ms())}).json()
    assert balances(corebank) == before  # debited, reversed; the cancelled id moved nothing
    entries = [(e["posting_id"], e["gl_side"], e["amount"]) for e in journal["entries"]]
    assert entries == [("aclb.t7", "credit", 40_000), ("aclb.t7~rev", "debit", 40_000)]


def test_bodies_are_bounded_and_validated(corebank: CorebankProcess) -> None:
    with client(corebank) as http:
        huge = http.post("/v1/postings", content=b"{" + b" " * 10_000 + b"}")
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "body_too_large"
        for bad in (posting("a b", "credit", SOKHA, 1), posting("p", "steal", SOKHA, 1),
                    posting("p", "credit", SOKHA, 0), posting("p", "credit", SOKHA, 1, "EUR"),
                    posting("p", "credit", SOKHA, 1, extra=1)):  # fmt: skip
            answer = http.post("/v1/postings", json=bad)
            assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_request"
        assert http.get("/v1/journal", params={"day": "yesterday"}).status_code == 400


def test_killed_after_committing_before_answering_the_posting_survives_the_restart(
    corebank: CorebankProcess,
) -> None:
    before = balances(corebank)
    corebank.set_fault("die-after-commit")
    with client(corebank) as http, pytest.raises(httpx.TransportError):
        http.post("/v1/postings", json=posting("aclb.t9", "credit", SOKHA, 70_000))
    assert corebank.wait_exit() == -signal.SIGKILL
    corebank.start()
    corebank.wait_healthy()
    with client(corebank) as http:
        stored = http.get("/v1/postings/aclb.t9")
        assert stored.status_code == 200 and stored.json()["state"] == "posted"
        retry = http.post("/v1/postings", json=posting("aclb.t9", "credit", SOKHA, 70_000))
        assert retry.status_code == 200  # the same posting, not a second one
    assert balances(corebank)[SOKHA] == before[SOKHA] + 70_000


def test_slow_and_refusing_switches(corebank: CorebankProcess) -> None:
    with client(corebank) as http:
        corebank.set_fault("slow 1.5")
        started = time.monotonic()
        assert http.post("/v1/postings", json=posting("aclb.s1", "credit", SOKHA, 1)).is_success
        assert time.monotonic() - started >= 1.5
        corebank.set_fault("refuse")
        refused = http.post("/v1/postings", json=posting("aclb.s2", "credit", SOKHA, 1)).json()
        assert (refused["state"], refused["code"]) == ("refused", "refused")
        corebank.set_fault("unavailable")
        assert http.get("/v1/postings/aclb.s1").status_code == 503
        corebank.set_fault("")
        assert http.get("/v1/postings/aclb.s1").json()["state"] == "posted"


def test_the_command_line_opens_lists_and_posts(tmp_path: Path) -> None:
    home = tmp_path / "bank"
    make_corebank(home, samples=False)

    def bakong(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bakong", "corebank", *args, "--home",
                               str(home)], capture_output=True, text=True, check=False)  # fmt: skip

    added = bakong("account", "add", "--number", "0002000201", "--holder", "Vanna Ly",
                   "--phone", "+85512999201", "--currency", "USD", "--balance", "12345")
    assert added.returncode == 0, added.stderr
    again = bakong("account", "add", "--number", "0002000201", "--holder", "Vanna Ly",
                   "--phone", "+85512999201", "--currency", "USD")
    assert again.returncode == 2 and "exists" in again.stderr
    manual = bakong("post", "--posting-id", "teller-1", "--account", "0002000201",
                    "--amount", "100", "--kind", "credit")
    assert manual.returncode == 0, manual.stderr
    listed = bakong("account", "list", "--json")
    accounts = {row["number"]: row for row in json.loads(listed.stdout)["accounts"]}
    assert accounts["0002000201"]["balance"] == 12_445
    assert accounts["BAKONG-USD"]["balance"] == 100
    assert accounts["VAULT-USD"]["balance"] == 12_345
