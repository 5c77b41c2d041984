"""A bank officer opens a merchant through the API; its owner signs in and works the till:
codes, payments, the webhook and its delivery log, Open API tokens. A running gateway over a
real node API on an in-memory chain, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bakong.gateway import webhooks
from bakong.khqr import decode
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.loopback import serve
from tests.gateway.test_wallets import auth, cash_in, officer_token, register

OWNER_PHONE = "+85590000042"
OWNER_PIN = "26071958"


def _officer(gateway: RunningGateway) -> str:
    return officer_token(gateway)


def _open(http: httpx.Client, officer: str, **extra: str) -> httpx.Response:
    body = {"handle": "noodle_bar", "name": "Noodle Bar", "phone": OWNER_PHONE,
            "pin": OWNER_PIN, **extra}  # fmt: skip
    return http.post("/v1/officer/merchants", headers=auth(officer), json=body)


def test_an_officer_opens_a_merchant_whose_owner_signs_in_to_the_till(
    gateway: RunningGateway,
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        customer = register(http, gateway, "+85512000061", "sokha_chan", "Sokha Chan")
        assert _open(http, customer).status_code == 401  # only an officer opens merchants
        officer = _officer(gateway)
        opened = _open(http, officer, merchant_id="M-0042")
        assert opened.status_code == 201, opened.text
        assert opened.json()["account_id"] == "noodle_bar@aclb"
        assert opened.json()["merchant_id"] == "M-0042"
        again = _open(http, officer, merchant_id="M-0042")  # the same opening, sent again
        assert again.status_code == 201, again.text
        taken = _open(http, officer, phone="+85590000043")
        assert taken.status_code == 409 and taken.json()["error"]["code"] == "handle_taken"

        login = http.post("/v1/sessions", json={"phone": OWNER_PHONE, "pin": OWNER_PIN})
        assert login.status_code == 201 and login.json()["role"] == "merchant"
        till = login.json()["token"]
        assert http.get("/v1/wallet", headers=auth(till)).status_code == 401  # not a wallet
        assert http.post("/v1/merchant/codes", headers=auth(customer),
                         json={"asset": "KHR"}).status_code == 401  # fmt: skip

        static = http.post("/v1/merchant/codes", headers=auth(till), json={"asset": "KHR"})
        assert static.status_code == 200, static.text
        fields = decode(static.json()["qr"])
        assert (fields["merchantType"], fields["bakongAccountID"]) == ("30", "noodle_bar@aclb")
        assert fields["merchantID"] == "M-0042"
        assert fields["merchantCity"] == "Phnom Penh"  # opened without a city: KHQR's default
        assert static.json()["amount"] is None and static.json()["expires_ms"] is None


def test_a_merchant_codes_print_its_city_and_its_owner_signs_out(
    gateway: RunningGateway,
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        officer = _officer(gateway)
        too_long = _open(http, officer, city="Kampong Chhnang!")  # 16 characters: tag 60 has 15
        assert too_long.status_code == 400
        padded = _open(http, officer, city=" Siem Reap")
        assert padded.status_code == 400 and padded.json()["error"]["code"] == "city_invalid"
        opened = _open(http, officer, city="Siem Reap")
        assert opened.status_code == 201, opened.text

        till = http.post("/v1/sessions", json={"phone": OWNER_PHONE, "pin": OWNER_PIN})
        token = till.json()["token"]
        static = http.post("/v1/merchant/codes", headers=auth(token), json={"asset": "USD"})
        dynamic = http.post("/v1/merchant/codes", headers=auth(token),
                            json={"asset": "KHR", "amount": 4_400})  # fmt: skip
        for code in (static, dynamic):
            assert code.status_code == 200, code.text
            assert decode(code.json()["qr"])["merchantCity"] == "Siem Reap"

        assert http.delete("/v1/sessions", headers=auth(token)).status_code == 204
        refused = http.post("/v1/merchant/codes", headers=auth(token), json={"asset": "KHR"})
        assert refused.status_code == 401  # the till's session is over
        assert http.delete("/v1/sessions", headers=auth(token)).status_code == 401


def _receiver(received: list[tuple[dict[str, str], bytes]]) -> Starlette:
    async def hook(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=204)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def test_a_paid_dynamic_code_shows_in_payments_webhook_log_and_open_api(
    gateway: RunningGateway, core: Core
) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    with (
        serve(_receiver(received)) as hook_url,
        httpx.Client(base_url=gateway.url, timeout=30) as http,
    ):
        payer = register(http, gateway, "+85512000062", "dara_sok", "Dara Sok")
        cash_in(core, "dara_sok@aclb", 100_000)
        assert _open(http, _officer(gateway)).status_code == 201
        till = http.post("/v1/sessions", json={"handle": "noodle_bar", "pin": OWNER_PIN})
        till_token = till.json()["token"]
        secret = http.put("/v1/merchant/webhook", headers=auth(till_token),
                          json={"url": f"{hook_url}/hook"}).json()["secret"]  # fmt: skip
        api_token = http.post("/v1/merchant/open-api-tokens", headers=auth(till_token))
        assert api_token.status_code == 200
        code = http.post("/v1/merchant/codes", headers=auth(till_token),
                         json={"asset": "KHR", "amount": 4_400}).json()  # fmt: skip
        assert code["amount"] == 4_400 and code["bill_number"] and code["expires_ms"]

        paid = http.post(
            "/v1/payments",
            headers=auth(payer),
            json={"idempotency_key": "noodles-1", "to": {"khqr": code["qr"]}},
        )
        assert paid.status_code == 200 and paid.json()["state"] == "committed", paid.text
        gateway.wait_for_height(core.height)

        payments = http.get("/v1/merchant/payments?limit=5", headers=auth(till_token)).json()
        assert [(p["from"], p["amount"], p["reference"]) for p in payments["payments"]] == [
            ("dara_sok@aclb", 4_400, code["md5"])
        ]
        gateway.wait_until(lambda: bool(received))
        headers, body = received[0]
        assert webhooks.verify_signature(
            secret.encode(), headers["x-bakong-signature"], body,
            now_ms=gateway.services.clock_ms(),
        )  # fmt: skip
        assert paid.json()["tx_hash"] in json.dumps(json.loads(body))

        def delivered() -> list[Any]:
            log = http.get("/v1/merchant/webhook/deliveries", headers=auth(till_token)).json()
            return [d for d in log["deliveries"] if d.get("deliveredMs")]

        gateway.wait_until(lambda: bool(delivered()))
        check = http.post("/openapi/v1/check_transaction_by_md5", json={"md5": code["md5"]},
                          headers=auth(api_token.json()["token"])).json()  # fmt: skip
        assert check["responseCode"] == 0 and check["data"]["amount"] == 4400
        again = http.post(
            "/v1/payments",
            headers=auth(payer),
            json={"idempotency_key": "noodles-2", "to": {"khqr": code["qr"]}},
        )
        assert again.status_code >= 400  # paid once
