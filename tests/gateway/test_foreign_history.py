"""A wallet's payment to a shop abroad where the payer reads it (issue 20), on SQLite and on
PostgreSQL, through a running gateway over a real node API and the fake link of
`tests/gateway/test_foreign_payments.py`: the history JSON gives the posted hold's entry the
quote it paid (shop, city, country, price in baht, riel total, rate), and only that entry of
only that wallet; the USSD mini statement shows it as the price in baht and the shop."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine

from bakong.gateway.ussd import actions, menu
from tests.gateway.conftest import Core
from tests.gateway.test_foreign_payments import (
    LINK_ACCOUNT,
    SOKHA_PHONE,
    fake_link,
    gateway_for,
    linked_services,
    pay,
    quote,
)
from tests.gateway.test_wallets import auth, cash_in, register

DARA_PHONE = "+85512000602"


def test_a_payment_abroad_in_the_history_and_the_mini_statement(
    engine: Engine, core: Core
) -> None:
    with fake_link(core) as (_, url), gateway_for(linked_services(engine, core, url)) as gw, \
            httpx.Client(base_url=gw.url, timeout=30) as http:  # fmt: skip
        sokha = register(http, gw, SOKHA_PHONE, "sokha_chan", "Sokha Chan")
        dara = register(http, gw, DARA_PHONE, "dara_sok", "Dara Sok")
        cash_in(core, "sokha_chan@aclb", 100_000)
        quote_id = quote(http, sokha).json()["quote"]["quote_id"]
        paid = pay(http, sokha, "k-1", quote_id)
        assert paid.status_code == 200, paid.text
        end_to_end_id = paid.json()["payment"]["end_to_end_id"]
        gw.wait_for_height(core.height)

        entries = http.get("/v1/wallet/history", headers=auth(sokha)).json()["entries"]
        abroad, cash = entries
        assert (abroad["direction"], abroad["counterparty"], abroad["amount"]) == (
            "out", LINK_ACCOUNT, 29_563)
        assert abroad["reference"] == end_to_end_id
        assert abroad["foreign"] == {
            "payment_id": quote_id, "scheme": "promptpay", "merchant_name": "Somchai Noodles",
            "city": "Bangkok", "country": "TH", "foreign_currency": "THB",
            "foreign_amount": 25_000, "foreign_exponent": 2, "khr_amount": 29_563,
            "rate_text": "1 THB = 118.25 KHR", "state": "completed",
        }  # fmt: skip
        assert "foreign" not in cash
        receipt = http.get("/v1/wallet/history", headers=auth(sokha),
                           params={"tx_hash": abroad["tx_hash"]}).json()["entries"]  # fmt: skip
        assert [entry["foreign"]["merchant_name"] for entry in receipt] == ["Somchai Noodles"]
        # The link's account sees the payment in, and no other wallet sees this one.
        assert http.get("/v1/wallet/history", headers=auth(dara),
                        params={"tx_hash": abroad["tx_hash"]}).json()["entries"] == []  # fmt: skip

        statement = actions._statement(engine, "sokha_chan@aclb")
        assert statement.entries[0][1:] == ("KHR", -29_563, "")
        assert statement.abroad == {0: menu.Abroad("Somchai Noodles", "THB", 2, 25_000)}
