"""Personal data never reaches a log line, an error message or a metric label (issue 15, design
§ 3): a customer registers, fails and passes a login, pays by phone, is refused a few ways,
and the operators' view of all of it (every log record of the `bakong` loggers at DEBUG as the
gateway's JSON formatter writes it, uvicorn's, every error body, and `/metrics`) is searched for
the phone number, the name, the birth date, the PIN, the SMS code and the session token. The
data is first shown to be really in play (the code in the SMS outbox, the name behind the
preview), so the search cannot pass by searching for nothing."""

from __future__ import annotations

import logging

import httpx
import pytest
import sqlalchemy as sa

from bakong.gateway import db
from bakong.gateway.observe import JsonFormatter
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_wallets import _code, auth, cash_in, register

PHONE, NAME, BORN, PIN = "+85512000501", "Sophea Meas", "1988-09-30", "736251"


def _forms(value: str) -> list[str]:
    """`value` as it was given and as a log might rewrite it (digits only, no plus)."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return [value, digits, value.lstrip("+")]


def test_no_personal_data_in_logs_errors_or_metrics(
    gateway: RunningGateway, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bakong")
    caplog.set_level(logging.DEBUG, logger="uvicorn.error")
    caplog.set_level(logging.DEBUG, logger="uvicorn.access")  # paths: a query never has PII
    errors: list[str] = []
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        assert http.post("/v1/register/start", json={"phone": PHONE}).status_code == 202
        code = _code(gateway, PHONE)
        wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
        finish = {"phone": PHONE, "code": wrong, "handle": "sophea_m", "name": NAME,
                  "birth_date": BORN, "pin": PIN}  # fmt: skip
        refused = http.post("/v1/register/finish", json=finish)
        assert refused.status_code >= 400
        errors.append(refused.text)
        weak = http.post("/v1/register/finish", json={**finish, "code": code, "pin": "111111"})
        assert weak.status_code == 400
        errors.append(weak.text)
        done = http.post("/v1/register/finish", json={**finish, "code": code})
        assert done.status_code == 201, done.text
        token = done.json()["token"]
        payer = register(http, gateway, "+85512000502", "dara_sok", "Dara Sok")
        cash_in(core, "dara_sok@aclb", 50_000)
        gateway.wait_for_height(core.height)

        bad_login = http.post("/v1/sessions", json={"phone": PHONE, "pin": "999999"})
        assert bad_login.status_code == 401
        errors.append(bad_login.text)
        assert http.post("/v1/sessions", json={"phone": PHONE, "pin": PIN}).status_code == 201
        to_her = {"to": {"phone": PHONE}, "amount": 9_000, "asset": "KHR"}
        shown = http.post("/v1/payments/preview", headers=auth(payer), json=to_her)
        assert shown.json()["payee"]["display_name"] == "Sophea M."  # her name is in play
        paid = http.post("/v1/payments", headers=auth(payer),
                         json={"idempotency_key": "pii-1", "memo": "rice", **to_her})  # fmt: skip
        assert paid.status_code == 200, paid.text
        too_much = http.post("/v1/payments", headers=auth(token),
                             json={"idempotency_key": "pii-2", "to": {"phone": "+85512000502"},
                                   "amount": 10_000_000, "asset": "KHR"})  # fmt: skip
        assert too_much.status_code == 422
        errors.append(too_much.text)
        nobody = http.post("/v1/payments/preview", headers=auth(token),
                           json={**to_her, "to": {"phone": "+85512000599"}})  # fmt: skip
        assert nobody.status_code == 404
        errors.append(nobody.text)
        malformed = http.post("/v1/sessions", json={"phone": PHONE, "pin": PIN, "extra": BORN})
        assert malformed.status_code == 400
        errors.append(malformed.text)
        gateway.wait_for_height(core.height)
        metrics = http.get("/metrics")
        assert metrics.status_code == 200 and "# TYPE" in metrics.text

    with gateway.services.engine.connect() as connection:
        outbox = connection.execute(sa.select(db.sms_outbox.c.body)).scalars().all()
    assert any(code in body for body in outbox)  # the code was really sent, to the outbox only
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any(record.name.startswith("bakong.") for record in caplog.records)
    assert any("sms queued" in line for line in lines)
    assert any("/v1/payments" in line for line in lines)  # uvicorn's request lines too

    secrets = [*_forms(PHONE), NAME, "Meas", BORN, BORN.replace("-", ""), PIN, code, token]
    for where, text in [("log", "\n".join(lines)), ("log", caplog.text),
                        ("error", "\n".join(errors)), ("metrics", metrics.text)]:  # fmt: skip
        for secret in secrets:
            assert secret not in text, f"personal data in the {where}: {secret[:2]}..."
