"""Onboarding by ID card and selfie through a running gateway (issue 18): a matching selfie
raises the wallet to partial by itself (recorded as the system's act, and the ledger applies
the new limit), a stranger's selfie waits in the officer's queue with the images, fields and
distance, an officer approves or rejects with a reason; uploads are bounded; the images are
sealed in the store and nothing personal reaches a log."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa

from bakong import limits
from bakong.errors import ConfigError
from bakong.gateway import db, officers
from bakong.gateway.kyc import store
from bakong.gateway.kyc.config import KycConfig
from tests.gateway import kyc_cards as cards
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_officers import PASSWORD
from tests.gateway.test_wallets import auth, cash_in, register

CHECK_WAIT_S = 90.0


@pytest.fixture(scope="module")
def bodies() -> dict[str, dict[str, object]]:
    """Submission bodies: Sokha's own card, and the same card with a stranger's photo."""
    me = cards.astronaut()
    frames = cards.blink_frames(me)
    person = cards.Person()
    back = cards.card_back(person)
    return {
        "match": cards.submission(cards.card_front(cards.id_photo(me), person), back, frames),
        "stranger": cards.submission(cards.card_front(cards.other_person(), person), back, frames),
    }


def _officer(http: httpx.Client, gateway: RunningGateway) -> str:
    services = gateway.services
    officers.add_officer(services.engine, "kanha", PASSWORD, services.clock_ms())
    signed_in = http.post("/v1/officer/sessions", json={"name": "kanha", "password": PASSWORD})
    assert signed_in.status_code == 201, signed_in.text
    token = signed_in.json()["token"]
    assert isinstance(token, str)
    return token


def _settled(http: httpx.Client, token: str) -> dict[str, Any]:
    """The latest submission once its checks are done."""
    deadline = time.monotonic() + CHECK_WAIT_S
    while True:
        answer = http.get("/v1/kyc/submissions/latest", headers=auth(token))
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        if found["state"] not in ("checking", "approving"):
            return found
        assert time.monotonic() < deadline, "the checks did not finish in time"
        time.sleep(0.2)


def _pay(http: httpx.Client, token: str, key: str, amount: int) -> httpx.Response:
    body = {"idempotency_key": key, "to": {"account": "dara_sok@aclb"}, "amount": amount,
            "asset": "KHR"}  # fmt: skip
    return http.post("/v1/payments", headers=auth(token), json=body)


def test_a_match_is_raised_to_partial_and_a_stranger_waits_for_an_officer(
    gateway: RunningGateway, core: Core, bodies: dict[str, dict[str, object]],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="bakong")
    with httpx.Client(base_url=gateway.url, timeout=60) as http:
        sokha = register(http, gateway, "+85512000801", "sokha_chan", "Sokha Chan")
        register(http, gateway, "+85512000802", "dara_sok", "Dara Sok")
        other = register(http, gateway, "+85512000803", "chan_sokha", "Chan Sokha")
        cash_in(core, "sokha_chan@aclb", 3_000_000)
        gateway.wait_for_height(core.height)
        over = _pay(http, sokha, "k-1", 2_500_000)  # over basic's KHR 2,000,000 a day
        assert over.json()["error"]["code"] == "daily_limit_exceeded", over.text

        sent = http.post("/v1/kyc/submissions", headers=auth(sokha), json=bodies["match"])
        assert sent.status_code == 202 and sent.json()["state"] == "checking", sent.text
        again = http.post("/v1/kyc/submissions", headers=auth(sokha), json=bodies["match"])
        # One open at a time (or, if the checks were that quick, no longer needed).
        assert again.status_code == 409
        assert again.json()["error"]["code"] in ("kyc_pending", "kyc_not_needed")
        stranger = http.post("/v1/kyc/submissions", headers=auth(other), json=bodies["stranger"])
        assert stranger.status_code == 202, stranger.text

        verified = _settled(http, sokha)
        assert (verified["state"], verified["tier"]) == ("verified", 1)
        assert http.get("/v1/wallet", headers=auth(sokha)).json()["tier"] == 1
        paid = _pay(http, sokha, "k-2", 2_500_000)  # the ledger applies partial's limit now
        assert paid.status_code == 200 and paid.json()["state"] == "committed", paid.text
        refused = http.post("/v1/kyc/submissions", headers=auth(sokha), json=bodies["match"])
        assert refused.json()["error"]["code"] == "kyc_not_needed"

        waiting = _settled(http, other)
        assert (waiting["state"], waiting["tier"]) == ("review", 0)
        assert "doubts" not in waiting  # the customer is not told what to change to get past
        officer = _officer(http, gateway)
        _officer_reviews(http, officer, other)

    _nothing_personal_logged(caplog)
    _sealed_at_rest(gateway)


def _officer_reviews(http: httpx.Client, officer: str, customer: str) -> None:
    queue = http.get("/v1/officer/kyc/queue", headers=auth(officer)).json()["submissions"]
    # The card's name is the wallet's (in another order): only the face is in doubt.
    assert [(entry["handle"], entry["doubts"]) for entry in queue] == [
        ("chan_sokha", ["face_mismatch"])
    ]
    entry = queue[0]
    assert entry["face_distance_milli"] > entry["threshold_milli"] == 500
    detail = http.get(f"/v1/officer/kyc/{entry['id']}", headers=auth(officer)).json()
    assert detail["images"]["id_front"].startswith("data:image/jpeg;base64,")
    assert len(detail["images"]["selfie_frames"]) == 4
    fields = detail["reading"]["fields"]
    assert fields["document_number"] == {"value": "012345678", "status": "checked"}
    assert fields["birth_date"] == {"value": "1990-04-17", "status": "checked"}
    assert "ចាន់ សុខា" in detail["reading"]["front_text"]
    assert detail["customer"]["name"] == "Chan Sokha" and detail["liveness"] == "blink_seen"
    customer_calls = http.get("/v1/officer/kyc/queue", headers=auth(customer))
    assert customer_calls.status_code == 401

    no_reason = http.post(f"/v1/officer/kyc/{entry['id']}/decision", headers=auth(officer),
                          json={"decision": "reject", "reason": ""})  # fmt: skip
    assert no_reason.status_code == 400
    reason = "the selfie is not the person on the card"
    rejected = http.post(f"/v1/officer/kyc/{entry['id']}/decision", headers=auth(officer),
                         json={"decision": "reject", "reason": reason})  # fmt: skip
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    twice = http.post(f"/v1/officer/kyc/{entry['id']}/decision", headers=auth(officer),
                      json={"decision": "approve", "reason": "changed my mind"})  # fmt: skip
    assert twice.status_code == 409
    latest = http.get("/v1/kyc/submissions/latest", headers=auth(customer)).json()
    assert (latest["state"], latest["reason"], latest["tier"]) == ("rejected", reason, 0)
    log = http.get("/v1/officer/actions?limit=50", headers=auth(officer)).json()["actions"]
    acts = [(a["officer"], a["action"], a["handle"], a["detail"]) for a in log]
    assert ("kanha", "kyc_reject", "chan_sokha", f"kyc {entry['id']}") in acts
    assert ("kanha", "kyc_view", "chan_sokha", f"kyc {entry['id']}") in acts
    assert ("system.kyc", "tier_change", "sokha_chan", "tier 0 -> 1") in acts


def _nothing_personal_logged(caplog: pytest.LogCaptureFixture) -> None:
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert caplog.records, "the test must see the gateway's log records to search them"
    for secret in ("012345678", "SOKHA", "Sokha", "1990-04-17", "900417", "/9j/", "JFIF",
                   "ចាន់"):  # fmt: skip
        assert secret not in logged


def _sealed_at_rest(gateway: RunningGateway) -> None:
    with gateway.services.engine.connect() as connection:
        rows = connection.execute(sa.select(db.kyc_submissions)).all()
    assert len(rows) == 2
    for row in rows:
        for sealed in (row.images_sealed, row.fields_sealed):
            assert b"JFIF" not in sealed and b"012345678" not in sealed and b"CHAN" not in sealed
        # Sealed for its customer: another customer's key does not open it.
        with pytest.raises(ConfigError, match="key-encryption key"):
            store.open_images(gateway.services.kek, row.customer_id + 1, row.images_sealed)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_officer_approves_what_the_gateway_would_not_decide_alone(
    gateway: RunningGateway, bodies: dict[str, dict[str, object]]
) -> None:
    services = gateway.services
    services.config = msgspec.structs.replace(services.config, kyc=KycConfig(automatic=False))
    with httpx.Client(base_url=gateway.url, timeout=60) as http:
        sokha = register(http, gateway, "+85512000811", "sokha_chan", "Sokha Chan")
        sent = http.post("/v1/kyc/submissions", headers=auth(sokha), json=bodies["match"])
        assert sent.status_code == 202, sent.text
        assert _settled(http, sokha)["state"] == "review"
        officer = _officer(http, gateway)
        queue = http.get("/v1/officer/kyc/queue", headers=auth(officer)).json()["submissions"]
        assert queue[0]["doubts"] == ["automatic_off"]
        assert queue[0]["face_distance_milli"] < 300
        approved = http.post(
            f"/v1/officer/kyc/{queue[0]['id']}/decision", headers=auth(officer),
            json={"decision": "approve", "reason": "card and face checked"},
        )  # fmt: skip
        assert approved.status_code == 200, approved.text
        assert _settled(http, sokha)["state"] == "approved"
        assert http.get("/v1/wallet", headers=auth(sokha)).json()["tier"] == 1
        log = http.get("/v1/officer/actions?limit=50", headers=auth(officer)).json()["actions"]
        acts = [(a["officer"], a["action"], a["detail"]) for a in log]
        assert ("kanha", "tier_change", "tier 0 -> 1") in acts
        assert ("kanha", "kyc_approve", f"kyc {queue[0]['id']}") in acts


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_uploads_are_bounded_and_refused_precisely(
    gateway: RunningGateway, bodies: dict[str, dict[str, object]]
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=60) as http:
        sokha = register(http, gateway, "+85512000821", "sokha_chan", "Sokha Chan")

        def send(body: object, token: str | None = sokha) -> httpx.Response:
            headers = auth(token) if token else {}
            return http.post("/v1/kyc/submissions", headers=headers, json=body)

        def code(answer: httpx.Response) -> tuple[int, str]:
            return answer.status_code, answer.json()["error"]["code"]

        good = bodies["match"]
        assert code(send(good, None)) == (401, "unauthenticated")
        huge = b"\xff" * (limits.kyc_body_bytes_max + 1)
        too_big = http.post("/v1/kyc/submissions", headers={**auth(sokha),
                            "content-type": "application/json"}, content=huge)  # fmt: skip
        assert code(too_big) == (413, "body_too_large")
        oversized = cards.b64(b"\xff\xd8" + b"\x00" * limits.kyc_image_bytes_max)
        assert code(send({**good, "id_front": oversized})) == (413, "image_too_large")
        assert code(send({**good, "id_back": cards.b64(b"GIF89a....")})) == (400, "image_invalid")
        assert code(send({**good, "id_back": "not base64!"})) == (400, "image_invalid")
        frames = good["selfie_frames"]
        assert isinstance(frames, list)
        assert code(send({**good, "selfie_frames": frames[:2]})) == (400, "bad_request")
        assert code(send({**good, "challenge": "smile"})) == (400, "bad_request")
        assert code(send({**good, "extra": 1})) == (400, "bad_request")
        with gateway.services.engine.connect() as connection:  # nothing refused was stored
            assert connection.execute(sa.select(sa.func.count()).select_from(
                db.kyc_submissions)).scalar_one() == 0  # fmt: skip
