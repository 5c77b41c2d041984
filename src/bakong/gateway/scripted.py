"""Scripted people at a running gateway: what a customer, a merchant and a bank's back office
do, step by step, for `bakong demo` and the end-to-end tests.

A customer registers as a person would: asks for a code for a phone number, reads the text
message (here: the gateway's SMS outbox, the default sink, standing in for the phone), and
finishes with the code, a handle, a name, a birth date and a PIN; then logs in with phone and
PIN, reads the wallet and pays through the wallet API. A merchant uses the till's API (codes,
webhook, Open API tokens) and confirms payments through the Open API like any integration.

Rules:
- Everything a customer, merchant or officer does goes through the gateway's HTTP API, at the
  URL the bank published on the ledger. Only the back office reaches past it, on the gateway's
  own machine: it opens a session of its officer `back-office` in the store (as
  `bakong gateway officer-token --name back-office` does), and cash-in is the participant's
  settlement account paying through the SDK. The officer opens a merchant with
  `POST /v1/officer/merchants`; the owner's phone and PIN are derived from the home's KEK and
  the account, so the back office can sign the till in again (`till_session`) without keeping
  them anywhere.
- A refusal is raised as the `GatewayProblem` the gateway answered (its status and code); an
  Open API answer is returned as its envelope, refusals included, as a client sees it.
- Personal data here is the demo's invented people; nothing of it is logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from bakong import limits
from bakong.client import Client, Committed, SyncClient, transfer
from bakong.gateway import custody, db, officers
from bakong.gateway.home import GatewayHome
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.processes import loopback_tls
from bakong.ledger.assets import Asset
from bakong.wire.keys import SigningKey

__all__ = [
    "GatewayCalls",
    "MerchantDesk",
    "Person",
    "cash_in",
    "open_merchant",
    "register",
    "sms_code",
    "till_session",
    "till_sign_in",
    "wait_until",
]

_CODE = re.compile(rf"\b([0-9]{{{limits.otp_digits}}})\b")
BACK_OFFICE = "back-office"  # the officer the scripted back office acts as


@dataclass(frozen=True)
class Person:
    """An invented customer of one bank."""

    participant: str
    handle: str
    name: str
    phone: str
    birth_date: str
    pin: str

    @property
    def account_id(self) -> str:
        return f"{self.handle}@{self.participant}"


class GatewayCalls:
    """HTTP calls to one gateway, each answered as JSON or raised as its `GatewayProblem`."""

    def __init__(self, url: str, *, verify: bool | ssl.SSLContext = True) -> None:
        self.url = url
        self.http = httpx.Client(
            base_url=url, verify=verify, timeout=limits.local_gateway_request_timeout_s
        )

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        client_address: str | None = None,
    ) -> Any:
        """`client_address`: the phone's address as a reverse proxy on loopback would forward
        it (`X-Forwarded-For`, which uvicorn trusts from 127.0.0.1 only), so that many phones
        scripted from one machine are rate-limited as many clients, as they are in the field."""
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        if client_address is not None:
            headers["X-Forwarded-For"] = client_address
        answer = self.http.request(method, path, json=body, headers=headers)
        try:
            decoded = answer.json()
        except ValueError:
            decoded = None
        if answer.status_code >= 400:
            error = decoded.get("error", {}) if isinstance(decoded, dict) else {}
            raise GatewayProblem(
                answer.status_code,
                str(error.get("code", f"http_{answer.status_code}")),
                str(error.get("message", answer.reason_phrase)),
            )
        return decoded

    def login(self, phone: str, pin: str) -> str:
        token: str = self.call("POST", "/v1/sessions", body={"phone": phone, "pin": pin})["token"]
        return token

    def wallet(self, token: str) -> dict[str, Any]:
        found: dict[str, Any] = self.call("GET", "/v1/wallet", token=token)
        return found

    def pay(
        self,
        token: str,
        idempotency_key: str,
        to: dict[str, str],
        *,
        amount: int | None = None,
        asset: str | None = None,
        memo: str = "",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"idempotency_key": idempotency_key, "to": to, "memo": memo}
        if amount is not None:
            body["amount"] = amount
        if asset is not None:
            body["asset"] = asset
        answer: dict[str, Any] = self.call("POST", "/v1/payments", token=token, body=body)
        return answer

    def payment(self, token: str, idempotency_key: str) -> dict[str, Any]:
        """Where the payment made with `idempotency_key` stands."""
        found: dict[str, Any] = self.call("GET", f"/v1/payments/{idempotency_key}", token=token)
        return found

    def pay_and_wait(
        self, token: str, idempotency_key: str, to: dict[str, str], **details: Any
    ) -> dict[str, Any]:
        """`pay`, then wait (bounded) until it is committed or rejected; its last answer."""
        answer = self.pay(token, idempotency_key, to, **details)

        def settled() -> dict[str, Any] | None:
            found = self.payment(token, idempotency_key)
            return found if found.get("state") in ("committed", "rejected") else None

        if answer.get("state") in ("committed", "rejected"):
            return answer
        found: dict[str, Any] = wait_until(
            settled, limits.local_gateway_request_timeout_s, "the payment's commit"
        )
        return found

    def open_api(self, token: str, endpoint: str, body: Any) -> dict[str, Any]:
        """An Open API call (`/openapi/v1/<endpoint>`): its envelope, whatever the status."""
        answer = self.http.post(
            f"/openapi/v1/{endpoint}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        envelope: dict[str, Any] = answer.json()
        return envelope


def sms_code(database_url: str, phone: str) -> str:
    """The code in the newest text message to `phone` in a gateway's SMS outbox."""
    engine = db.engine_for(database_url)
    try:
        with engine.connect() as connection:
            body = connection.execute(
                sa.select(db.sms_outbox.c.body)
                .where(db.sms_outbox.c.phone == phone)
                .order_by(db.sms_outbox.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
    finally:
        engine.dispose()
    found = _CODE.search(body or "")
    if found is None:
        raise GatewayProblem(404, "sms_not_found", "no code was texted to this phone")
    return found.group(1)


def register(
    calls: GatewayCalls, database_url: str, person: Person, client_address: str | None = None
) -> str:
    """Register `person` through the wallet API (from `client_address`, see
    `GatewayCalls.call`); their session token."""
    calls.call(
        "POST", "/v1/register/start", body={"phone": person.phone}, client_address=client_address
    )
    answer = calls.call(
        "POST",
        "/v1/register/finish",
        client_address=client_address,
        body={
            "phone": person.phone,
            "code": sms_code(database_url, person.phone),
            "handle": person.handle,
            "name": person.name,
            "birth_date": person.birth_date,
            "pin": person.pin,
        },
    )
    token: str = answer["token"]
    return token


async def cash_in(
    core: Client, admin_key: SigningKey, account_id: str, amounts: dict[Asset, int]
) -> Committed:
    """The participant's settlement account pays `account_id` (a branch's cash-in)."""
    code = account_id.rpartition("@")[2]
    settlement = f"settlement@{code}"
    commands = [transfer(settlement, account_id, asset, amount, memo="cash-in")
                for asset, amount in amounts.items()]  # fmt: skip
    transaction = (await core.builder(settlement)).add(*commands).sign(admin_key)
    return await core.submit_and_wait(transaction, timeout_s=limits.gateway_submit_wait_s)


@dataclass(frozen=True)
class MerchantDesk:
    """What the back office hands a new merchant: its account and a till session."""

    account_id: str
    till_token: str


def _derived(home: GatewayHome, purpose: str, account_id: str, digits: int) -> str:
    """Digits only the back office of `home` can derive again (keyed by its KEK)."""
    key = custody.derive_key(home.kek, f"scripted-merchant-{purpose}")
    number = int.from_bytes(hmac.new(key, account_id.encode(), hashlib.sha256).digest(), "big")
    return f"{number % 10**digits:0{digits}d}"


def _owner_pin(home: GatewayHome, account_id: str) -> str:
    return _derived(home, "pin", account_id, limits.pin_digits_min + 2)


def _owner_phone(home: GatewayHome, account_id: str) -> str:
    return "+85590" + _derived(home, "phone", account_id, 7)


def _published_url(home: GatewayHome, gateway_url: str | None) -> GatewayCalls:
    """Calls to `home`'s gateway at the URL its participant published on the ledger (over
    the local network's loopback CA when it is HTTPS: `processes.loopback_tls`)."""
    url = gateway_url or f"http://{home.config.gateway.public_url or home.config.gateway.listen}"
    verify: bool | ssl.SSLContext = True
    if url.startswith("https://"):
        verify = ssl.create_default_context(cafile=str(loopback_tls(home.path.parent).authority))
    return GatewayCalls(url, verify=verify)


def officer_token(home: GatewayHome) -> str:
    """What `bakong gateway officer-token --name back-office` does on the gateway's host (the
    back office is an officer of its own, made on first use, so its acts are recorded)."""
    engine = db.engine_for(home.database_url)
    now_ms = time.time_ns() // 1_000_000
    try:
        officers.ensure_officer(engine, BACK_OFFICE, now_ms, os.urandom)
        token, _ = officers.open_officer_session(
            engine, BACK_OFFICE, now_ms, os.urandom, limits.officer_session_lifetime_ms_default
        )
    finally:
        engine.dispose()
    return token


def _open_and_sign_in(
    home: GatewayHome, gateway_url: str | None, handle: str, business_name: str, merchant_id: str
) -> MerchantDesk:
    participant = home.config.gateway.participant
    account_id = f"{handle}@{participant}"
    body = {
        "handle": handle, "name": business_name, "merchant_id": merchant_id,
        "phone": _owner_phone(home, account_id), "pin": _owner_pin(home, account_id),
    }  # fmt: skip
    calls = _published_url(home, gateway_url)
    try:
        officer = officer_token(home)
        opened = calls.call("POST", "/v1/officer/merchants", token=officer, body=body)

        def on_ledger() -> Any:  # 202 while on its way: the same request finishes it
            nonlocal opened
            if "state" not in opened:
                return opened
            opened = calls.call("POST", "/v1/officer/merchants", token=officer, body=body)
            return None

        wait_until(on_ledger, limits.local_gateway_request_timeout_s, "the merchant's account")
        return MerchantDesk(account_id, _sign_in(calls, home, account_id))
    finally:
        calls.close()


def _sign_in(calls: GatewayCalls, home: GatewayHome, account_id: str) -> str:
    handle = account_id.rpartition("@")[0]
    body = {"handle": handle, "pin": _owner_pin(home, account_id)}
    answer = calls.call("POST", "/v1/sessions", body=body)
    if answer.get("role") != "merchant":
        raise GatewayProblem(404, "merchant_not_found", "no merchant has this account")
    token: str = answer["token"]
    return token


async def open_merchant(
    home: GatewayHome, core: Client, handle: str, business_name: str, merchant_id: str
) -> MerchantDesk:
    """The back office opens a merchant at `home`'s bank (module rules): an officer token from
    the store, then `POST /v1/officer/merchants` at the URL the bank published, then the
    owner's sign-in to the till. A refused handle raises the gateway's `GatewayProblem`."""
    participant = home.config.gateway.participant
    published = (await core.participant(participant)).gateway_url or None
    return await asyncio.to_thread(
        _open_and_sign_in, home, published, handle, business_name, merchant_id
    )


def till_sign_in(home: GatewayHome, account_id: str) -> tuple[str, str]:
    """What the owner of the merchant `account_id` signs in to the till with: handle, PIN."""
    return account_id.rpartition("@")[0], _owner_pin(home, account_id)


def till_session(home: GatewayHome, account_id: str) -> str:
    """A new till session for the merchant `account_id` of `home`'s bank, opened by the
    owner's sign-in (`POST /v1/sessions` with the handle and PIN the back office set)."""
    with SyncClient(Client(home.config.gateway.core_url, home.gateway_key,
                           chain_id=home.genesis.chain_id)) as core:  # fmt: skip
        published = core.participant(home.config.gateway.participant).gateway_url or None
    calls = _published_url(home, published)
    try:
        return _sign_in(calls, home, account_id)
    finally:
        calls.close()


def wait_until(probe: Any, timeout_s: float, what: str) -> Any:
    """Call `probe()` until it returns something true; that value. `GatewayProblem` 504 if
    `timeout_s` passes first (`what` says what was awaited)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise GatewayProblem(504, "timeout", f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.1)
