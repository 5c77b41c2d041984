"""The aggregator seam: both callback shapes, their bounds and precise refusals, the aggregators'
authentication, and the `[ussd]` table of the config.

Refusals name the field, never what it held: each bad request below carries the phone number
or a PIN-like input, and no answer may repeat it."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from bakong import limits
from bakong.errors import ConfigError
from bakong.gateway import db
from bakong.gateway.home import GatewayConfig, GatewaySection, format_config
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.ussd.adapters import parse_text
from bakong.gateway.ussd.config import UssdAggregator, UssdConfig, check_ussd, secret_digest
from bakong.sandbox import Sandbox
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.ussd import FORM, JSON, SECRET, SERVICE_CODE, Phone, ussd_config, ussd_gateway

PHONE, PIN = "+85512000931", "482913"


@pytest.fixture
def gateway(core: Core, tmp_path: Path) -> Iterator[RunningGateway]:
    """The routes only read the store here: one database (SQLite) is enough."""
    engine = db.engine_for(db.sqlite_url(tmp_path / "gateway.db"))
    db.migrate(engine)
    short = UssdAggregator(shape="form", secret_sha256=secret_digest("short"))
    ussd = ussd_config()
    ussd = msgspec.structs.replace(ussd, aggregators={**ussd.aggregators, "short": short})
    try:
        with ussd_gateway(engine, core, ussd) as running:
            yield running
    finally:
        engine.dispose()


def _form(**fields: str) -> dict[str, str]:
    base = {"sessionId": "ATUid_1", "serviceCode": SERVICE_CODE, "phoneNumber": PHONE,
            "networkCode": "45601", "text": ""}  # fmt: skip
    return {**base, **fields}


def _refused(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code, error
    for secret in (PHONE, PHONE.lstrip("+"), PIN):
        assert secret not in answer.text
    return str(error["message"])


def test_the_form_shape_is_bounded_and_refused_precisely(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30, auth=(FORM, SECRET)) as http:

        def post(**fields: str) -> httpx.Response:
            return http.post("/ussd/callback", data=_form(**fields))

        for field in ("sessionId", "serviceCode", "phoneNumber", "text"):
            body = {name: value for name, value in _form().items() if name != field}
            message = _refused(http.post("/ussd/callback", data=body), 400, "ussd_field_missing")
            assert field in message
        for phone in ("85512000931", "+0855120009", "+8551", "+85512000931x"):
            _refused(post(phoneNumber=phone), 400, "ussd_phone_invalid")
        _refused(post(text=f"1*{PIN}*a"), 400, "ussd_text_invalid")
        _refused(post(text=f"1*{PIN}" + "9" * limits.ussd_input_chars_max), 400,
                 "ussd_text_invalid")  # fmt: skip
        _refused(post(text="*".join([PIN] * (limits.ussd_inputs_max + 1))), 400,
                 "ussd_too_many_inputs")  # fmt: skip
        _refused(post(text="1" * (limits.ussd_text_chars_max + 1)), 400, "ussd_text_invalid")
        _refused(post(sessionId="has space"), 400, "ussd_field_invalid")
        _refused(post(networkCode="456-01"), 400, "ussd_field_invalid")
        twice = http.post(
            "/ussd/callback", content=f"text=1&text={PIN}&sessionId=a&serviceCode=%2A855%23",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        _refused(twice, 400, "ussd_field_invalid")
        _refused(http.post("/ussd/callback", json=_form()), 415, "unsupported_media_type")
        huge = {**_form(), "pad": "x" * limits.ussd_body_bytes_max}
        _refused(http.post("/ussd/callback", data=huge), 413, "body_too_large")
        _refused(post(serviceCode="*999#"), 404, "service_code_unknown")


def test_the_json_shape_is_bounded_and_refused_precisely(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30, auth=(JSON, SECRET)) as http:
        body = {"sessionId": "s-1", "msisdn": PHONE, "serviceCode": SERVICE_CODE,
                "newRequest": False, "input": PIN}  # fmt: skip

        def post(**fields: object) -> httpx.Response:
            return http.post("/ussd/json", json={**body, **fields})

        _refused(post(extra=PIN), 400, "ussd_field_invalid")
        _refused(post(newRequest="yes"), 400, "ussd_field_invalid")
        _refused(post(input=f"{PIN}*1"), 400, "ussd_field_invalid")
        _refused(post(input="1" * (limits.ussd_input_chars_max + 1)), 400, "ussd_field_invalid")
        _refused(post(msisdn=PHONE.lstrip("+")), 400, "ussd_phone_invalid")
        missing = {name: value for name, value in body.items() if name != "newRequest"}
        _refused(http.post("/ussd/json", json=missing), 400, "ussd_field_invalid")
        _refused(http.post("/ussd/json", content=b"{", headers={"content-type":
                 "application/json"}), 400, "bad_request")  # fmt: skip
        _refused(http.post("/ussd/json", data={"input": PIN}), 415, "unsupported_media_type")


def test_only_configured_aggregators_get_in(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:

        def post(auth: tuple[str, str] | None, path: str = "/ussd/callback") -> httpx.Response:
            return http.post(path, data=_form(), auth=auth)

        for auth in (None, (FORM, SECRET[:-1] + "0"), ("stranger", SECRET), ("short", "short")):
            _refused(post(auth), 401, "aggregator_unauthenticated")
        garbled = http.post("/ussd/callback", data=_form(), headers={"authorization": "Basic %%"})
        _refused(garbled, 401, "aggregator_unauthenticated")
        assert "/ussd/json" in _refused(post((JSON, SECRET)), 403, "wrong_shape")
        assert post((FORM, SECRET)).text.startswith("CON ")
        # A session belongs to the phone that dialled it.
        other = http.post("/ussd/callback", data=_form(phoneNumber="+85512000932"),
                          auth=(FORM, SECRET))  # fmt: skip
        _refused(other, 409, "ussd_session_mismatch")
        # Another aggregator's session of the same id is another session.
        theirs = Phone(http, PHONE, aggregator=JSON)
        theirs.session_id = "ATUid_1"
        assert theirs.post().json()["action"] == "CON"


def test_without_a_service_code_there_is_no_ussd(core: Core, tmp_path: Path) -> None:
    engine = db.engine_for(db.sqlite_url(tmp_path / "off.db"))
    db.migrate(engine)
    off = msgspec.structs.replace(ussd_config(), service_code="")
    try:
        with (
            ussd_gateway(engine, core, off) as gateway,
            httpx.Client(base_url=gateway.url, timeout=30, auth=(FORM, SECRET)) as http,
        ):
            _refused(http.post("/ussd/callback", data=_form()), 404, "ussd_disabled")
    finally:
        engine.dispose()


def test_the_answers_of_each_shape_and_a_dial_with_inputs(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        first = http.post("/ussd/callback", data=_form(sessionId="quick", text="2"),
                          auth=(FORM, SECRET))  # fmt: skip
        assert first.headers["content-type"] == "text/plain; charset=utf-8"
        # A first hit that carries inputs (a code dialled with them): each is taken in order.
        assert first.text.startswith("CON Welcome to ACLB. This number has no wallet")
        phone = Phone(http, "+85512000933", aggregator=JSON)
        phone.session_id = "json-1"
        answer = phone.post()
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"sessionId": "json-1", "action": "CON",
                                 "message": "ជ្រើសភាសា / Language\n1 ខ្មែរ\n2 English"}  # fmt: skip


def test_parse_text_splits_and_bounds_the_inputs() -> None:
    assert parse_text("") == ()
    assert parse_text("1*012345678*#") == ("1", "012345678", "#")
    assert parse_text("1**2") == ("1", "", "2")
    for bad in ("1*a", "1 2", "1*" + "1" * (limits.ussd_input_chars_max + 1)):
        with pytest.raises(GatewayProblem):
            parse_text(bad)


def test_the_ussd_table_of_the_config() -> None:
    genesis = Sandbox().genesis
    config = GatewayConfig(GatewaySection(participant="aclb", core_url="http://core"),
                           ussd=ussd_config(daily_cap_khr=250_000))  # fmt: skip
    text = format_config(config)
    assert "[ussd.aggregators.africastalking]" in text and SECRET not in text
    assert msgspec.convert(tomllib.loads(text), GatewayConfig) == config
    plain = GatewayConfig(GatewaySection(participant="aclb", core_url="http://core"))
    assert "[ussd" not in format_config(plain)
    check_ussd(config.ussd, "aclb", genesis)
    digest = secret_digest(SECRET)
    for bad in (
        UssdConfig(service_code="855"),
        UssdConfig(service_code="*855#", country_code="0855"),
        UssdConfig(service_code="*855#", daily_cap_khr=2_000_001),  # above the basic tier's day
        UssdConfig(service_code="*855#", daily_cap_usd=0),
        UssdConfig(service_code="*855#",
                   aggregators={"Bad Name": UssdAggregator(secret_sha256=digest)}),
        UssdConfig(service_code="*855#",
                   aggregators={"at": UssdAggregator(secret_sha256=digest.upper())}),
    ):  # fmt: skip
        with pytest.raises(ConfigError):
            check_ussd(bad, "aclb", genesis)
