"""A merchant's dynamic KHQR paid through the wallet API and confirmed by third-party Open API
clients, all through the real path: the whole gateway (wallet, merchant till, Open API,
projection) served over HTTPS by uvicorn (a certificate from a throwaway CA made by trustme),
over a real node API on an in-memory chain, on SQLite and on PostgreSQL. Nothing is written
into the store by the test: the code is made at the till, paid by a customer's wallet, and
marked paid by the projection when the ledger commits the transfer.

`bakong-khqr`'s `check_payment(md5)` says PAID for the paid code and UNPAID for an unpaid or
expired one; `pybakong` finds the payment by its hash. The same code is refused the second
time, and an expired code is refused.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pybakong
import pytest
import trustme
from bakong_khqr import KHQR
from sqlalchemy.engine import Engine

from bakong.client import create_account
from bakong.gateway import db, merchants, sessions
from bakong.gateway.app import ROUTE_MODULES, create_app
from bakong.gateway.merchants import Merchant
from bakong.ledger.assets import Asset
from bakong.ledger.records import AccountKind, KycTier
from bakong.sandbox import sandbox_key
from tests.gateway.conftest import Core, RunningGateway, make_services
from tests.gateway.loopback import serve
from tests.gateway.test_wallets import auth, cash_in, khr, register

SHOP = "coffee_klaing@aclb"


@dataclass
class Secure:
    """The gateway over HTTPS, and the CA bundle its clients trust."""

    gateway: RunningGateway
    bundle: str

    def http(self) -> httpx.Client:
        trusted = ssl.create_default_context(cafile=self.bundle)
        return httpx.Client(base_url=self.gateway.url, verify=trusted, timeout=30)


@pytest.fixture
def secure(
    engine: Engine, core: Core, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Secure]:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    cert, key, bundle = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(str(cert))
    certificate.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # bakong-khqr: http.client's default
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))  # pybakong: requests'
    services = make_services(engine, core)
    app = create_app(services, route_modules=ROUTE_MODULES)
    with serve(app, certfile=str(cert), keyfile=str(key)) as url:
        yield Secure(RunningGateway(url, services, app), str(bundle))


def _open_shop(core: Core, gateway: RunningGateway) -> str:
    """The back office opens the merchant: its ledger account, its rows, a till session."""
    sandbox = core.sandbox
    opened = create_account(
        SHOP, [sandbox_key(SHOP).public_key], kind=AccountKind.merchant, tier=KycTier.full
    )
    assert core.commit([sandbox.transaction("aclb", [opened])]).results[0].code == 0
    services = gateway.services
    with services.engine.begin() as connection:
        inserted = connection.execute(
            db.customers.insert().values(
                handle="coffee_klaing", account_id=SHOP, phone=None, name="Coffee Klaing",
                birth_date=None, tier=int(KycTier.full), kind="merchant", pin_hash=None,
                pin_failures=0, locked_until_ms=0, custody="self", key_sealed=None,
                public_key=bytes(sandbox_key(SHOP).public_key), created_ms=services.clock_ms(),
            )
        ).inserted_primary_key  # fmt: skip
        assert inserted is not None
        customer_id = inserted[0]
        merchants.register_merchant(
            connection, SHOP, merchant_id="M-0042", acquiring_bank="ACLEDA Bank"
        )
        token, _ = sessions.open_session(
            connection, customer_id, "merchant", services.clock_ms(), services.random_bytes
        )
    return token


def _expired_code(gateway: RunningGateway) -> dict[str, Any]:
    """A code the till made eleven minutes ago, for five minutes: expired six minutes ago."""
    made_ms = gateway.services.clock_ms() - 11 * 60_000
    expires = merchants.expiry_ms(made_ms, None)
    shop = Merchant(
        account_id=SHOP, name="Coffee Klaing", city=None, merchant_id="M-0042",
        acquiring_bank="ACLEDA Bank",
    )  # fmt: skip
    code = merchants.dynamic_code(
        shop, Asset.KHR, 4_400, bill="expired-bill", expires_ms=expires, now_ms=made_ms
    )
    with gateway.services.engine.begin() as connection:
        merchants.store_code(
            connection, code, account_id=SHOP, asset=Asset.KHR, amount=4_400,
            bill="expired-bill", expires_ms=expires, now_ms=made_ms,
        )  # fmt: skip
    return {"qr": code.qr, "md5": code.md5}


def test_a_code_paid_through_the_wallet_is_paid_for_bakong_khqr_and_pybakong(
    secure: Secure, core: Core
) -> None:
    gateway = secure.gateway
    with secure.http() as http:
        sokha = register(http, gateway, "+85512000401", "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 100_000)
        till = _open_shop(core, gateway)
        api_token = http.post("/v1/merchant/open-api-tokens", headers=auth(till)).json()["token"]

        def new_code() -> dict[str, Any]:
            made = http.post("/v1/merchant/codes", headers=auth(till),
                             json={"asset": "KHR", "amount": 4_400})  # fmt: skip
            assert made.status_code == 200, made.text
            found: dict[str, Any] = made.json()
            return found

        def pay(key: str, qr: str) -> httpx.Response:
            body = {"idempotency_key": key, "to": {"khqr": qr}}
            return http.post("/v1/payments", headers=auth(sokha), json=body)

        latte, unpaid, expired = new_code(), new_code(), _expired_code(gateway)
        gateway.wait_for_height(core.height)
        khqr = KHQR(api_token)
        khqr._KHQR__bakong_api = f"{gateway.url}/openapi/v1"  # where the client keeps it
        assert khqr.check_payment(latte["md5"]) == "UNPAID"

        paid = pay("latte-1", latte["qr"])
        assert paid.status_code == 200, paid.text
        assert paid.json()["state"] == "committed"
        gateway.wait_for_height(core.height)
        gateway.wait_until(lambda: khqr.check_payment(latte["md5"]) == "PAID")
        assert khqr.check_payment(unpaid["md5"]) == "UNPAID"
        assert khqr.check_payment(expired["md5"]) == "UNPAID"
        assert khqr.check_bulk_payments([latte["md5"], unpaid["md5"], expired["md5"]]) == [
            latte["md5"]
        ]
        details = khqr.get_payment(latte["md5"])
        assert details is not None
        assert (details["amount"], details["currency"]) == (4_400, "KHR")
        assert (details["fromAccountId"], details["toAccountId"]) == ("sokha_chan@aclb", SHOP)
        assert details["hash"] == paid.json()["tx_hash"]

        client = pybakong.BakongClient(base_url=f"{gateway.url}/openapi/v1")
        client.token = api_token
        by_hash = client.check_transaction_hash(paid.json()["tx_hash"])
        assert (by_hash["amount"], by_hash["toAccountId"]) == (4_400, SHOP)
        assert client.check_transaction_md5(latte["md5"])["hash"] == paid.json()["tx_hash"]

        twice = pay("latte-2", latte["qr"])
        assert (twice.status_code, twice.json()["error"]["code"]) == (409, "khqr_paid")
        late = pay("late-1", expired["qr"])
        assert late.status_code in (400, 409), late.text
        assert late.json()["error"]["code"] == "khqr_expired"
        # The first request again, by its key: the first answer, not a refusal nor a payment.
        again = pay("latte-1", latte["qr"])
        assert again.json() == paid.json()
        gateway.wait_for_height(core.height)
        assert khr(http, sokha) == 100_000 - 4_400  # paid once
        merchant_side = http.get("/v1/merchant/payments", headers=auth(till)).json()
        assert len(merchant_side["payments"]) == 1, merchant_side
