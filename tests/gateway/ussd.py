"""Helpers of the USSD tests: a running gateway with a `[ussd]` table, and a phone that speaks
the aggregators' callbacks to it (the form shape by default, the JSON shape on request)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong.gateway import db
from bakong.gateway.app import create_app
from bakong.gateway.cash_config import ClaimsConfig
from bakong.gateway.ussd.config import UssdAggregator, UssdConfig, secret_digest
from tests.gateway.conftest import Core, RunningGateway, make_services
from tests.gateway.loopback import serve

SECRET = "7d1f0a5c93b24e68a0c4f1e2d3b5a697"  # a test aggregator's shared secret (128 bits, hex)
FORM, JSON = "africastalking", "oltranz"
SERVICE_CODE = "*855#"
_sessions = itertools.count(1)


def ussd_config(**overrides: Any) -> UssdConfig:
    aggregators = {
        FORM: UssdAggregator(shape="form", secret_sha256=secret_digest(SECRET)),
        JSON: UssdAggregator(shape="json", secret_sha256=secret_digest(SECRET)),
    }
    return UssdConfig(service_code=SERVICE_CODE, aggregators=aggregators, **overrides)


@contextmanager
def ussd_gateway(
    engine: Engine, core: Core, ussd: UssdConfig | None = None, participant: str = "aclb",
    claims: ClaimsConfig | None = None,
) -> Iterator[RunningGateway]:  # fmt: skip
    """A running gateway (projection and workers included) whose config has a USSD service
    (and `claims`' claim period, if given)."""
    services = make_services(engine, core, participant)
    services.config = msgspec.structs.replace(services.config, ussd=ussd or ussd_config())
    if claims is not None:
        services.config = msgspec.structs.replace(services.config, claims=claims)
    app = create_app(services)
    with serve(app) as url:
        yield RunningGateway(url, services, app)


class Phone:
    """One phone on one aggregator: `dial` opens a session, `press` sends the next input."""

    def __init__(
        self, http: httpx.Client, msisdn: str, aggregator: str = FORM, secret: str = SECRET
    ) -> None:
        self.http = http
        self.msisdn = msisdn
        self.aggregator = aggregator
        self.auth = (aggregator, secret)
        self.session_id = ""
        self.inputs: list[str] = []

    def post(self, text: str | None = None, latest: str | None = None) -> httpx.Response:
        """One hit of the current session: the form with `text` (default: the inputs so
        far), or the JSON shape with `latest` (None: the first hit)."""
        if self.aggregator == JSON:
            body = {"sessionId": self.session_id, "msisdn": self.msisdn,
                    "serviceCode": SERVICE_CODE, "newRequest": latest is None,
                    "input": latest or ""}  # fmt: skip
            return self.http.post("/ussd/json", json=body, auth=self.auth)
        form = {"sessionId": self.session_id, "serviceCode": SERVICE_CODE,
                "phoneNumber": self.msisdn, "networkCode": "45601",
                "text": "*".join(self.inputs) if text is None else text}  # fmt: skip
        return self.http.post("/ussd/callback", data=form, auth=self.auth)

    def _screen(self, answer: httpx.Response) -> str:
        assert answer.status_code == 200, answer.text
        if self.aggregator == JSON:
            reply = answer.json()
            assert reply["sessionId"] == self.session_id
            return f"{reply['action']} {reply['message']}"
        assert answer.headers["content-type"].startswith("text/plain")
        return answer.text

    def dial(self) -> str:
        self.session_id = f"ATUid_{next(_sessions)}_{self.msisdn[-4:]}"
        self.inputs = []
        return self._screen(self.post())

    def press(self, entry: str) -> str:
        self.inputs.append(entry)
        return self._screen(self.post(latest=entry) if self.aggregator == JSON else self.post())

    def run(self, *entries: str) -> str:
        """Dial, then press `entries`; the last screen."""
        screen = self.dial()
        for entry in entries:
            assert screen.startswith("CON "), screen
            screen = self.press(entry)
        return screen


def outbox(engine: Engine, phone: str) -> list[str]:
    table = db.sms_outbox
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(table.c.body).where(table.c.phone == phone).order_by(table.c.id)
            ).scalars()
        )


def customer_id(engine: Engine, phone: str) -> int:
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(db.customers.c.id).where(db.customers.c.phone == phone)
        ).scalar_one()
    return int(found)


def submissions_of(engine: Engine, phone: str) -> int:
    table = db.submissions
    with engine.connect() as connection:
        count = connection.execute(
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.customer_id == customer_id(engine, phone))
        ).scalar_one()
    return int(count)
