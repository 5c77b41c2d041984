"""Third-party Open API clients from PyPI, pointed at the gateway's Open API on loopback.

`bakong-khqr` (bsthen) only speaks HTTPS and keeps its base URL in the name-mangled attribute
`_KHQR__bakong_api`; `pybakong` takes `base_url` and a `token` attribute. Both are driven
against a real uvicorn server (HTTPS with a certificate from a throwaway CA made by trustme),
serving the Open API routes over a real store in which a dynamic KHQR was paid as the
projection records it: the code stored by the till's functions, the payment's history row, and
`projection.mark_khqr_paid` marking the code.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pybakong
import pytest
import sqlalchemy as sa
import trustme
from bakong_khqr import KHQR
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

from bakong.client import Client
from bakong.gateway import db, merchants, open_api, projection
from bakong.gateway.home import GatewayConfig, GatewaySection
from bakong.gateway.merchants import Merchant
from bakong.gateway.projection import Payment
from bakong.gateway.service import GatewayServices
from bakong.ledger.assets import Asset
from bakong.sandbox import Sandbox, sandbox_key
from tests.gateway.loopback import serve

NOW_MS = 1_800_000_000_000
SHOP = Merchant(
    account_id="coffee_klaing@aclb",
    name="Coffee Klaing",
    city=None,
    merchant_id="M-1",
    acquiring_bank="ACLEDA",
)
PAID_TX = bytes(range(32))


def _services(engine: Engine) -> GatewayServices:
    sandbox = Sandbox()
    key = sandbox_key("aclb/gateway")
    # The Open API's transaction checks read the store only; the core is never called here.
    core = Client("http://127.0.0.1:9", key, chain_id=sandbox.genesis.chain_id)
    config = GatewayConfig(
        gateway=GatewaySection(participant="aclb", core_url="http://127.0.0.1:9")
    )
    return GatewayServices(
        config=config,
        genesis=sandbox.genesis,
        engine=engine,
        core=core,
        gateway_key=key,
        admin_key=sandbox_key("aclb/admin"),
        kek=bytes(32),
        alias_key=bytes(32),
        clock_ms=lambda: NOW_MS + 60_000,
        random_bytes=lambda n: bytes(n),
    )


def _code(engine: Engine, amount: int, bill: str) -> str:
    expires = merchants.expiry_ms(NOW_MS, None)
    code = merchants.dynamic_code(
        SHOP, Asset.USD, amount, bill=bill, expires_ms=expires, now_ms=NOW_MS
    )
    with engine.begin() as connection:
        merchants.store_code(
            connection,
            code,
            account_id=SHOP.account_id,
            asset=Asset.USD,
            amount=amount,
            bill=bill,
            expires_ms=expires,
            now_ms=NOW_MS,
        )
    return code.md5


def _pay(engine: Engine, md5: str, amount: int) -> None:
    payment = Payment(
        height=9,
        tx_index=0,
        command_index=0,
        tx_hash=PAID_TX,
        account_id=SHOP.account_id,
        counterparty="dara@wing",
        direction="in",
        asset="USD",
        amount=amount,
        memo="coffee",
        reference=md5,
        external_ref="",
        result="ok",
        time_ms=NOW_MS + 30_000,
    )
    with engine.begin() as connection:
        connection.execute(sa.insert(db.history).values(**payment.__dict__))
        assert projection.mark_khqr_paid(connection, payment)


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Engine]]:
    engine = db.engine_for(db.sqlite_url(tmp_path / "gateway.sqlite"))
    db.metadata.create_all(engine)
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    cert, key, bundle = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.cert_chain_pems[0].write_to_path(str(cert))
    certificate.private_key_pem.write_to_path(str(key))
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # http.client's default context
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))  # requests' (pybakong)
    app = Starlette(routes=open_api.routes(_services(engine)))
    with serve(app, certfile=str(cert), keyfile=str(key)) as base:
        yield f"{base}/openapi/v1", engine
    engine.dispose()


def _token(engine: Engine, account: str) -> str:
    with engine.begin() as connection:
        return open_api.issue_token(
            connection, account, now_ms=NOW_MS, random_bytes=lambda n: account.encode()[:1] * n
        )


def test_bakong_khqr_sees_a_paid_code_paid_and_an_unpaid_one_unpaid(
    gateway: tuple[str, Engine],
) -> None:
    base, engine = gateway
    paid, unpaid = _code(engine, 450, "bill-paid"), _code(engine, 1_000, "bill-unpaid")
    _pay(engine, paid, 450)
    khqr = KHQR(_token(engine, SHOP.account_id))
    khqr._KHQR__bakong_api = base  # type: ignore[attr-defined]  # where the client keeps it
    assert khqr.check_payment(paid) == "PAID"
    assert khqr.check_payment(unpaid) == "UNPAID"
    assert khqr.check_bulk_payments([paid, unpaid, "0" * 32]) == [paid]
    details = khqr.get_payment(paid)
    assert details is not None
    assert (details["amount"], details["currency"], details["hash"]) == (4.5, "USD", PAID_TX.hex())
    assert (details["fromAccountId"], details["toAccountId"]) == ("dara@wing", SHOP.account_id)

    stranger = KHQR(_token(engine, "noodle_bar@aclb"))
    stranger._KHQR__bakong_api = base  # type: ignore[attr-defined]
    assert stranger.check_payment(paid) == "UNPAID"  # another merchant's payment: not found
    forged = KHQR("boa_" + "A" * 43)
    forged._KHQR__bakong_api = base  # type: ignore[attr-defined]
    assert forged.check_payment(paid) == "UNPAID"


def test_pybakong_reads_transactions_by_md5_and_hash(gateway: tuple[str, Engine]) -> None:
    base, engine = gateway
    paid = _code(engine, 450, "bill-paid")
    _pay(engine, paid, 450)
    client = pybakong.BakongClient(base_url=base)
    client.token = _token(engine, SHOP.account_id)
    assert client.check_transaction_md5(paid)["hash"] == PAID_TX.hex()  # sent as a bare string
    assert client.check_transaction_hash(PAID_TX.hex())["amount"] == 4.5
    with pytest.raises(pybakong.BakongAPIError, match="could not be found"):
        client.check_transaction_hash("ff" * 32)
    with pytest.raises(pybakong.BakongAPIError, match="Account ID is invalid"):
        client.check_bakong_account("Not An Account")
    # NBC renews a token for an e-mail alone; we renew only for a bearer of a live token, which
    # pybakong does not send on this call (docs/open-api.md).
    with pytest.raises(pybakong.BakongAPIError, match="Unauthorized"):
        client.renew_token("merchant@example.com")


def test_the_envelope_of_refusals_and_an_authenticated_renewal(gateway: tuple[str, Engine]) -> None:
    base, engine = gateway
    token = _token(engine, SHOP.account_id)
    with httpx.Client(verify=ssl.create_default_context()) as http:
        anonymous = http.post(f"{base}/check_transaction_by_md5", json={"md5": "0" * 32})
        assert anonymous.status_code == 401
        assert anonymous.json() == {
            "responseCode": 1,
            "responseMessage": open_api.MESSAGES[6],
            "errorCode": 6,
            "data": None,
        }
        auth = {"Authorization": f"Bearer {token}"}
        for body in ({"md5": ""}, {"md5": "0" * 256}, {"hash": "x"}, ["0" * 32] * 51):
            bad = http.post(f"{base}/check_transaction_by_md5_list", json=body, headers=auth)
            assert (bad.status_code, bad.json()["errorCode"]) == (400, 5)
        renewed = http.post(f"{base}/renew_token", json={}, headers=auth).json()["data"]["token"]
        again = http.post(
            f"{base}/check_transaction_by_md5",
            json={"md5": "0" * 32},
            headers={"Authorization": f"Bearer {renewed}"},
        )
        assert (again.status_code, again.json()["errorCode"]) == (200, 1)
