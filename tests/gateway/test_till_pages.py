"""What the till page reads from the gateway (issue 16, "Merchant till"): a day's sales with
totals per currency on the Asia/Phnom_Penh calendar, the printable store card (its PNG read
back by zxing-cpp is the merchant's static KHQR; the PDF is a PDF), the merchant's event
stream turning "paid" when its dynamic code is paid, and each merchant seeing only its own.
A running gateway over a real node API on an in-memory chain, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime
import io
import queue
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import msgspec
import PIL.Image
import pytest

from bakong.gateway import db, merchants, officer_desk
from bakong.gateway.pages import i18n
from bakong.gateway.pages import officer as officer_pages
from bakong.gateway.pages import till as till_pages
from bakong.gateway.pages.render import CSP
from bakong.khqr import decode
from bakong.ledger.assets import Asset
from bakong.ledger.policy import phnom_penh_day
from bakong.ledger.records import KycTier
from bakong.qrimage.scan import scan_image
from tests.gateway.conftest import Core, RunningGateway
from tests.gateway.test_wallets import auth, cash_in, officer_token, register

TILL_PIN = "260719"
KHMER = re.compile("[\u1780-\u17ff]")
Event = tuple[str, dict[str, Any]]


def _open_shop(
    http: httpx.Client, gateway: RunningGateway, handle: str, phone: str, **extra: str
) -> str:
    """Open a merchant through the officer API; its till's token."""
    body = {"handle": handle, "name": handle.replace("_", " ").title(), "phone": phone,
            "pin": TILL_PIN, **extra}  # fmt: skip
    opened = http.post("/v1/officer/merchants", headers=auth(officer_token(gateway)), json=body)
    assert opened.status_code == 201, opened.text
    till = http.post("/v1/sessions", json={"handle": handle, "pin": TILL_PIN})
    assert till.status_code == 201 and till.json()["role"] == "merchant"
    token: str = till.json()["token"]
    return token


def _cash_in_usd(core: Core, account: str, amount: int) -> None:
    sandbox = core.sandbox
    issued = sandbox.transaction("nbc", [sandbox.issue("aclb", Asset.USD, amount, "NBC-USD")])
    paid = sandbox.transaction(
        "settlement@aclb", [sandbox.transfer("settlement@aclb", account, Asset.USD, amount)]
    )
    core.commit([issued])
    core.commit([paid])


def _pay(http: httpx.Client, token: str, key: str, **body: Any) -> httpx.Response:
    return http.post("/v1/payments", headers=auth(token), json={"idempotency_key": key, **body})


def _today() -> str:
    return datetime.datetime.now(merchants.PHNOM_PENH).date().isoformat()


def test_todays_sales_total_each_currency_and_count_only_this_tills_money(
    gateway: RunningGateway, core: Core
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        payer = register(http, gateway, "+85512000801", "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 200_000)
        _cash_in_usd(core, "sokha_chan@aclb", 1_000)
        noodles = _open_shop(http, gateway, "noodle_bar", "+85590000042")
        tea = _open_shop(http, gateway, "tea_house", "+85590000043")
        code = http.post("/v1/merchant/codes", headers=auth(noodles),
                         json={"asset": "KHR", "amount": 4_400}).json()  # fmt: skip
        paid = [
            _pay(http, payer, "k1", to={"khqr": code["qr"]}),
            _pay(http, payer, "k2", to={"account": "noodle_bar@aclb"}, amount=10_000, asset="KHR"),
            _pay(http, payer, "u1", to={"account": "noodle_bar@aclb"}, amount=250, asset="USD"),
            _pay(http, payer, "t1", to={"account": "tea_house@aclb"}, amount=7_000, asset="KHR"),
        ]
        assert [answer.status_code for answer in paid] == [200] * 4, [p.text for p in paid]
        failed = _pay(http, payer, "u2", to={"account": "noodle_bar@aclb"}, amount=5_000,
                      asset="USD")  # fmt: skip
        assert failed.json()["error"]["code"] == "insufficient_funds"  # shown, never counted
        gateway.wait_for_height(core.height)

        sales = http.get("/v1/merchant/sales", headers=auth(noodles))
        assert sales.status_code == 200, sales.text
        answer = sales.json()
        assert (answer["date"], answer["timezone"]) == (_today(), "Asia/Phnom_Penh")
        assert answer["totals"] == {"KHR": {"amount": 14_400, "count": 2},
                                    "USD": {"amount": 250, "count": 1}}  # fmt: skip
        assert answer["complete"] is True
        assert [(p["asset"], p["amount"]) for p in answer["payments"]] == [
            ("USD", 250), ("KHR", 10_000), ("KHR", 4_400),
        ]  # fmt: skip
        assert {(p["from"], p["from_bank"]) for p in answer["payments"]} == {
            ("sokha_chan@aclb", merchants.bank_name(gateway.services, "x@aclb"))
        }
        assert answer["payments"][2]["reference"] == code["md5"]
        theirs = http.get(f"/v1/merchant/sales?date={_today()}", headers=auth(tea)).json()
        assert theirs["totals"]["KHR"] == {"amount": 7_000, "count": 1}

        yesterday = datetime.date.fromisoformat(_today()) - datetime.timedelta(days=1)
        earlier = http.get(f"/v1/merchant/sales?date={yesterday}", headers=auth(noodles)).json()
        assert earlier["totals"] == {"KHR": {"amount": 0, "count": 0},
                                     "USD": {"amount": 0, "count": 0}}  # fmt: skip
        for bad in ("2024-02-30", "yesterday", "2024-1-5"):
            refused = http.get(f"/v1/merchant/sales?date={bad}", headers=auth(noodles))
            assert refused.status_code == 400, bad
        assert http.get("/v1/merchant/sales", headers=auth(payer)).status_code == 401


def test_a_day_of_sales_runs_from_midnight_to_midnight_in_phnom_penh(
    gateway: RunningGateway,
) -> None:
    """Payments a millisecond either side of Phnom Penh's midnight (17:00 UTC) fall on the
    days the ledger's own day rule (`phnom_penh_day`) puts them on. The rows are written into
    the projection's history as the projection would write them, at chosen times."""
    day = datetime.date(2025, 3, 14)
    start_ms, end_ms = merchants.day_bounds_ms(day)
    utc_start = datetime.datetime(2025, 3, 13, 17, 0, tzinfo=datetime.UTC)
    assert start_ms == int(utc_start.timestamp()) * 1000 and end_ms - start_ms == 86_400_000
    assert (
        phnom_penh_day(start_ms - 1) + 1 == phnom_penh_day(start_ms) == phnom_penh_day(end_ms - 1)
    )
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        till = _open_shop(http, gateway, "noodle_bar", "+85590000042")
        times = {"before": start_ms - 1, "first": start_ms, "last": end_ms - 1, "after": end_ms}
        with gateway.services.engine.begin() as connection:
            for index, (memo, time_ms) in enumerate(times.items()):
                connection.execute(db.history.insert().values(
                    height=index + 1, tx_index=0, command_index=0, tx_hash=bytes([index]) * 32,
                    account_id="noodle_bar@aclb", counterparty="sokha_chan@wing",
                    direction="in", asset="USD", amount=100 * (index + 1), memo=memo,
                    reference="", external_ref="", result="ok", time_ms=time_ms,
                ))  # fmt: skip

        def totals(date: datetime.date) -> Any:
            got = http.get(f"/v1/merchant/sales?date={date}", headers=auth(till))
            assert got.status_code == 200, got.text
            return got.json()["totals"]["USD"], [p["amount"] for p in got.json()["payments"]]

        assert totals(day) == ({"amount": 200 + 300, "count": 2}, [300, 200])
        assert totals(day - datetime.timedelta(days=1)) == ({"amount": 100, "count": 1}, [100])
        assert totals(day + datetime.timedelta(days=1)) == ({"amount": 400, "count": 1}, [400])


def test_the_store_card_is_the_static_code_as_png_and_pdf(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        noodles = _open_shop(http, gateway, "noodle_bar", "+85590000042",
                             name_km="ហាងគុយទាវ", city="Siem Reap")  # fmt: skip
        tea = _open_shop(http, gateway, "tea_house", "+85590000043")
        profile = http.get("/v1/merchant", headers=auth(noodles)).json()
        assert (profile["name"], profile["name_km"], profile["city"]) == (
            "Noodle Bar", "ហាងគុយទាវ", "Siem Reap",
        )  # fmt: skip
        for token, asset in ((noodles, "KHR"), (noodles, "USD"), (tea, "KHR")):
            static = http.post("/v1/merchant/codes", headers=auth(token), json={"asset": asset})
            card = http.get(f"/v1/merchant/card.png?asset={asset}", headers=auth(token))
            assert card.status_code == 200 and card.headers["content-type"] == "image/png"
            assert "attachment" in card.headers["content-disposition"]
            with PIL.Image.open(io.BytesIO(card.content)) as image:
                assert scan_image(image) == [static.json()["qr"]]
        fields = decode(scan_image(PIL.Image.open(io.BytesIO(card.content)))[0])
        assert fields["bakongAccountID"] == "tea_house@aclb"  # each till its own card
        pdf = http.get("/v1/merchant/card.pdf", headers=auth(noodles))
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-") and pdf.content.rstrip().endswith(b"%%EOF")
        customer = register(http, gateway, "+85512000801", "sokha_chan", "Sokha Chan")
        assert http.get("/v1/merchant/card.png", headers=auth(customer)).status_code == 401
        assert http.get("/v1/merchant/card.png?asset=EUR", headers=auth(tea)).status_code == 400


def _listen(url: str, token: str, events: queue.Queue[Event], ready: threading.Event,
            until: str) -> None:  # fmt: skip
    """Put each event of `token`'s stream in `events`, until an event named `until`."""
    name = ""
    with httpx.stream("GET", f"{url}/v1/events", headers=auth(token), timeout=30) as stream:
        for line in stream.iter_lines():
            if line.startswith(": open"):
                ready.set()
            elif line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                events.put((name, msgspec.json.decode(line[len("data: ") :])))
                if name == until:
                    return


def _stream(url: str, token: str, until: str) -> queue.Queue[Event]:
    events: queue.Queue[Event] = queue.Queue()
    ready = threading.Event()
    threading.Thread(target=_listen, args=(url, token, events, ready, until), daemon=True).start()
    assert ready.wait(10)
    return events


def test_the_tills_stream_turns_paid_and_no_other_till_hears_it(
    gateway: RunningGateway, core: Core
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        payer = register(http, gateway, "+85512000801", "sokha_chan", "Sokha Chan")
        cash_in(core, "sokha_chan@aclb", 100_000)
        noodles = _open_shop(http, gateway, "noodle_bar", "+85590000042")
        tea = _open_shop(http, gateway, "tea_house", "+85590000043")
        mine = _stream(gateway.url, noodles, until="khqr_paid")
        theirs = _stream(gateway.url, tea, until="payment")
        code = http.post("/v1/merchant/codes", headers=auth(noodles),
                         json={"asset": "KHR", "amount": 4_400}).json()  # fmt: skip
        before = http.get(f"/v1/merchant/codes/{code['md5']}", headers=auth(noodles)).json()
        assert before["paid"] is False and before["expires_ms"] == code["expires_ms"]
        paid = _pay(http, payer, "noodles", to={"khqr": code["qr"]})
        assert paid.status_code == 200, paid.text

        payment, turned = mine.get(timeout=10), mine.get(timeout=10)
        assert payment[0] == "payment" and payment[1]["reference"] == code["md5"]
        bank = merchants.bank_name(gateway.services, "sokha_chan@aclb")
        assert turned == ("khqr_paid", {
            "md5": code["md5"], "bill_number": code["bill_number"],
            "tx_hash": paid.json()["tx_hash"], "from": "sokha_chan@aclb", "from_bank": bank,
            "asset": "KHR", "amount": 4_400, "time_ms": turned[1]["time_ms"],
        })  # fmt: skip
        state = http.get(f"/v1/merchant/codes/{code['md5']}", headers=auth(noodles)).json()
        assert (state["paid"], state["from"], state["from_bank"]) == (True, "sokha_chan@aclb", bank)
        hidden = http.get(f"/v1/merchant/codes/{code['md5']}", headers=auth(tea))
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "code_not_found"

        # The other till heard nothing of it: the first thing on its stream is its own money.
        assert theirs.empty()
        assert _pay(http, payer, "tea", to={"account": "tea_house@aclb"}, amount=3_000,
                    asset="KHR").status_code == 200  # fmt: skip
        name, data = theirs.get(timeout=10)
        assert (name, data["to"], data["amount"]) == ("payment", "tea_house@aclb", 3_000)
        assert theirs.empty()


# -- the pages, from the server's side ----------------------------------------------------------

PAGE_PATHS = [path for path, _, _ in till_pages.PAGES] + [p for p, _, _ in officer_pages.PAGES]
ACTIONS = re.compile(r"""record_action\(\s*connection,\s*officer,\s*"([a-z_]+)\"""")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_till_and_officer_pages_render_in_both_languages_as_shells(
    gateway: RunningGateway, language: str
) -> None:
    """Every page answers with the pages' headers and its own script, in the language asked
    for, and holds nothing of anybody's: its script fetches that with the session's token."""
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        http.cookies.set("lang", language)
        for path in PAGE_PATHS:
            answer = http.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-security-policy"] == CSP
            assert answer.headers["cache-control"] == "no-store"
            html = answer.text
            assert f'<html lang="{language}">' in html
            family = "till" if path.startswith("/till") else "officer"
            assert re.search(rf'<script type="module" src="/static/js/{family}\.js\?v=', html)
            assert "<script>" not in html and "style=" not in html  # the CSP allows neither
            heading = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
            assert heading is not None, path
            assert (KHMER.search(heading[1]) is not None) == (language == "km"), path
        for bare, slashed in (("/till", "/till/"), ("/officer", "/officer/")):
            moved = http.get(bare, follow_redirects=False)
            assert moved.status_code == 308 and moved.headers["location"] == slashed


def test_every_name_the_scripts_translate_has_a_message() -> None:
    """The scripts build some keys from what the API sends (`officer.action.<act>`,
    `officer.tier.<name>`, ...): each value the gateway can send has its message."""
    english = i18n.catalog("officer", "en")
    desk = (Path(officer_desk.__file__)).read_text()
    literal = set(ACTIONS.findall(desk))
    assert literal == {"customer_search", "customer_view", "tier_change", "pin_reset",
                       "merchant_open"}  # fmt: skip
    acts = literal | {"freeze", "unfreeze"}  # the status change names its act by the status
    expected = (
        [f"officer.action.{act}" for act in acts]
        + [f"officer.tier.{tier.name}" for tier in KycTier]
        + [f"officer.kind.{kind}" for kind in ("personal", "merchant")]
        + [f"officer.state.{state}" for state in ("active", "frozen")]
        + [f"officer.delivery.{state}" for state in ("delivered", "pending", "failed")]
    )
    assert [key for key in expected if key not in english] == []
    till = i18n.catalog("till", "en")
    codes = ["login_failed", "pin_locked", "account_frozen", "not_a_merchant", "code_not_found"]
    assert [code for code in codes if f"error.{code}" not in till] == []
