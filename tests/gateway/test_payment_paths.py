"""The wallet API's other ways to pay and to look: a scanned KHQR string, an uploaded photo of
the code, a self-custody wallet's own signed transaction, the lookup of a payee by phone alias
for another bank's gateway, and the history's pages and filters. A running gateway over a real
node API on an in-memory chain, on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import PIL.Image
import segno

from bakong import limits
from bakong.client import TransactionBuilder, alias_hash, transaction_bytes, transfer
from bakong.ledger.assets import Asset
from bakong.sandbox import sandbox_key
from bakong.wire.keys import SigningKey
from bakong.wire.request import sign_request
from tests.gateway.conftest import Core, RunningGateway, gateway_key
from tests.gateway.test_wallets import PIN, _code, auth, cash_in, khr, register


def _png(qr: str) -> bytes:
    out = io.BytesIO()
    segno.make(qr, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def _request_money(http: httpx.Client, token: str, amount: int) -> dict[str, Any]:
    asked = http.post(
        "/v1/wallet/request", headers=auth(token), json={"amount": amount, "asset": "KHR"}
    )
    assert asked.status_code == 200, asked.text
    found: dict[str, Any] = asked.json()
    return found


def test_a_scanned_string_and_an_uploaded_photo_of_a_khqr_pay_its_owner(
    gateway: RunningGateway, core: Core
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, "+85512000301", "sokha_chan", "Sokha Chan")
        dara = register(http, gateway, "+85512000302", "dara_sok", "Dara Sok")
        cash_in(core, "sokha_chan@aclb", 100_000)
        gateway.wait_for_height(core.height)
        asked = _request_money(http, dara, 2_500)

        photo = {"content-type": "image/png", **auth(sokha)}
        scanned = http.post("/v1/payments/scan", headers=photo, content=_png(asked["qr"]))
        assert scanned.status_code == 200, scanned.text
        assert scanned.json() == {"khqr": asked["qr"]}
        blank = io.BytesIO()
        PIL.Image.new("L", (200, 200), 255).save(blank, format="PNG")
        nothing = http.post("/v1/payments/scan", headers=photo, content=blank.getvalue())
        assert (nothing.status_code, nothing.json()["error"]["code"]) == (422, "qr_not_found")
        garbage = http.post("/v1/payments/scan", headers=photo, content=b"\x89PNG not really")
        assert (garbage.status_code, garbage.json()["error"]["code"]) == (400, "image_invalid")
        stranger = http.post("/v1/payments/scan", content=_png(asked["qr"]))
        assert stranger.status_code == 401

        to_code = {"to": {"khqr": scanned.json()["khqr"]}}
        preview = http.post("/v1/payments/preview", headers=auth(sokha), json=to_code).json()
        assert preview["payee"] == {"account_id": "dara_sok@aclb", "display_name": "Dara S."}
        assert (preview["amount"], preview["asset"]) == (2_500, "KHR")  # the code's own amount
        other = http.post("/v1/payments", headers=auth(sokha),
                          json={"idempotency_key": "qr-0", **to_code, "amount": 2_600})  # fmt: skip
        assert other.json()["error"]["code"] == "khqr_amount_mismatch"
        pay = {"idempotency_key": "qr-1", **to_code, "memo": "noodles"}
        paid = http.post("/v1/payments", headers=auth(sokha), json=pay)
        assert paid.status_code == 200, paid.text
        assert paid.json()["state"] == "committed"
        gateway.wait_for_height(core.height)
        assert (khr(http, sokha), khr(http, dara)) == (97_500, 2_500)
        received = http.get("/v1/wallet/history", headers=auth(dara)).json()["entries"]
        assert [(e["amount"], e["reference"], e["memo"]) for e in received] == [
            (2_500, asked["md5"], "noodles")
        ]


def _register_self_custody(http: httpx.Client, gateway: RunningGateway, key: SigningKey) -> str:
    phone = "+85512000312"
    assert http.post("/v1/register/start", json={"phone": phone}).status_code == 202
    answer = http.post(
        "/v1/register/finish",
        json={
            "phone": phone, "code": _code(gateway, phone), "handle": "vanna_ly",
            "name": "Vanna Ly", "birth_date": "1993-02-11", "pin": PIN,
            "public_key": bytes(key.public_key).hex(),
        },
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    token: str = answer.json()["token"]
    return token


def _signed(gateway: RunningGateway, creator: str, key: SigningKey, amount: int) -> str:
    builder = TransactionBuilder(
        chain_id=gateway.services.chain_id, creator=creator,
        created_ms=time.time_ns() // 1_000_000, nonce=amount,
    ).add(transfer(creator, "sokha_chan@aclb", Asset.KHR, amount, memo="mine"))  # fmt: skip
    return transaction_bytes(builder.sign(key)).hex()


def test_a_self_custody_wallet_signs_and_the_gateway_only_relays_its_own(
    gateway: RunningGateway, core: Core
) -> None:
    key = SigningKey(bytes(range(1, 33)))
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, "+85512000311", "sokha_chan", "Sokha Chan")
        vanna = _register_self_custody(http, gateway, key)
        assert http.get("/v1/wallet", headers=auth(vanna)).json()["custody"] == "self"
        cash_in(core, "vanna_ly@aclb", 50_000)
        gateway.wait_for_height(core.height)

        custodial = {"idempotency_key": "c-1", "to": {"account": "sokha_chan@aclb"},
                     "amount": 1_000, "asset": "KHR"}  # fmt: skip
        refused = http.post("/v1/payments", headers=auth(vanna), json=custodial)
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "self_custody")

        signed = _signed(gateway, "vanna_ly@aclb", key, 4_000)
        mine = {"idempotency_key": "s-1", "transaction": signed}
        relayed = http.post("/v1/payments/signed", headers=auth(vanna), json=mine)
        assert relayed.status_code == 200, relayed.text
        assert relayed.json()["state"] == "committed"
        again = http.post("/v1/payments/signed", headers=auth(vanna), json=mine)
        assert again.json() == relayed.json()

        # Signed for sokha's account (by vanna's key, or even by sokha's own): not vanna's.
        for signer in (key, sandbox_key("sokha_chan@aclb")):
            signed = _signed(gateway, "sokha_chan@aclb", signer, 3_000)
            theirs = {"idempotency_key": "s-2", "transaction": signed}
            forged = http.post("/v1/payments/signed", headers=auth(vanna), json=theirs)
            assert forged.status_code == 403, forged.text
            assert forged.json()["error"]["code"] == "not_your_transaction"
        # Vanna's own account, signed by some other key: refused before it reaches the core.
        other_key = SigningKey(bytes(32))
        stolen = {"idempotency_key": "s-3",
                  "transaction": _signed(gateway, "vanna_ly@aclb", other_key, 2_000)}  # fmt: skip
        assert http.post("/v1/payments/signed", headers=auth(vanna), json=stolen).status_code == 403
        not_hex = http.post("/v1/payments/signed", headers=auth(vanna),
                            json={"idempotency_key": "s-4", "transaction": "zz"})  # fmt: skip
        assert (not_hex.status_code, not_hex.json()["error"]["code"]) == (400, "bad_request")

        gateway.wait_for_height(core.height)
        assert (khr(http, vanna), khr(http, sokha)) == (46_000, 4_000)


def _lookup(gateway: RunningGateway, path: str, signer: SigningKey) -> httpx.Response:
    headers = sign_request(
        gateway.services.chain_id, bytes(gateway.services.gateway_key.public_key), signer,
        "GET", path, b"", time.time_ns() // 1_000_000,
    )  # fmt: skip
    return httpx.get(gateway.url + path, headers=headers, timeout=30)


def test_another_banks_gateway_finds_a_masked_name_by_phone_alias(
    gateway: RunningGateway,
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        register(http, gateway, "+85512000321", "sokha_chan", "Sokha Chan")
    alias = alias_hash(gateway.services.alias_key, "+85512000321").hex()
    found = _lookup(gateway, f"/v1/parties/by-alias/{alias}", gateway_key("wing"))
    assert found.status_code == 200, found.text
    assert found.json() == {"account_id": "sokha_chan@aclb", "display_name": "Sokha C."}
    assert "+85512000321" not in found.text and "Chan" not in found.text

    nobody = alias_hash(gateway.services.alias_key, "+85512999999").hex()
    missing = _lookup(gateway, f"/v1/parties/by-alias/{nobody}", gateway_key("wing"))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "recipient_not_found")
    bad = _lookup(gateway, "/v1/parties/by-alias/not-hex", gateway_key("wing"))
    assert bad.status_code == 404
    # Not a gateway key the core lists (a bank's admin key): refused; unsigned: refused.
    outsider = _lookup(gateway, f"/v1/parties/by-alias/{alias}", sandbox_key("wing/admin"))
    assert outsider.status_code == 403
    assert httpx.get(f"{gateway.url}/v1/parties/by-alias/{alias}").status_code == 401


def test_history_pages_back_and_filters_by_direction_and_asset(
    gateway: RunningGateway, core: Core
) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        sokha = register(http, gateway, "+85512000331", "sokha_chan", "Sokha Chan")
        register(http, gateway, "+85512000332", "dara_sok", "Dara Sok")
        cash_in(core, "sokha_chan@aclb", 100_000)
        sandbox = core.sandbox
        core.commit([sandbox.transaction("nbc", [sandbox.issue("aclb", Asset.USD, 900, "U-1")])])
        core.commit([sandbox.transaction("settlement@aclb", [
            sandbox.transfer("settlement@aclb", "sokha_chan@aclb", Asset.USD, 900)])])  # fmt: skip
        gateway.wait_for_height(core.height)
        for number, (amount, asset) in enumerate([(1_000, "KHR"), (100, "USD"), (2_000, "KHR"),
                                                  (200, "USD"), (3_000, "KHR")]):  # fmt: skip
            body = {"idempotency_key": f"h-{number}", "to": {"account": "dara_sok@aclb"},
                    "amount": amount, "asset": asset}  # fmt: skip
            assert http.post("/v1/payments", headers=auth(sokha), json=body).status_code == 200
        gateway.wait_for_height(core.height)

        def page(query: str) -> dict[str, Any]:
            answer = http.get(f"/v1/wallet/history?{query}", headers=auth(sokha))
            assert answer.status_code == 200, answer.text
            found: dict[str, Any] = answer.json()
            return found

        every = page("limit=100")["entries"]  # newest first: 5 out, then the 2 cash-ins
        assert [(e["direction"], e["amount"]) for e in every] == [
            ("out", 3_000), ("out", 200), ("out", 2_000), ("out", 100), ("out", 1_000),
            ("in", 900), ("in", 100_000),
        ]  # fmt: skip
        walked, cursor = [], ""
        while True:
            found = page(f"limit=3{cursor}")
            walked += found["entries"]
            if found["next_cursor"] is None:
                break
            cursor = f"&cursor={found['next_cursor']}"
        assert walked == every
        assert [e["amount"] for e in page("asset=USD")["entries"]] == [200, 100, 900]
        assert [e["amount"] for e in page("asset=KHR&direction=in")["entries"]] == [100_000]
        out_khr = page("asset=KHR&direction=out&limit=2")
        assert [e["amount"] for e in out_khr["entries"]] == [3_000, 2_000]
        rest = page(f"asset=KHR&direction=out&limit=2&cursor={out_khr['next_cursor']}")
        assert [e["amount"] for e in rest["entries"]] == [1_000]
        assert {e["counterparty"] for e in page("direction=out")["entries"]} == {"dara_sok@aclb"}
        too_many = f"limit={limits.history_page_max + 1}"
        for bad in ("limit=0", too_many, "direction=sideways", "asset=EUR", "cursor=-1",
                    "colour=red"):  # fmt: skip
            refused = http.get(f"/v1/wallet/history?{bad}", headers=auth(sokha))
            assert (refused.status_code, refused.json()["error"]["code"]) == (400, "bad_request")
        assert http.get("/v1/wallet/history").status_code == 401

