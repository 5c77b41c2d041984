"""The gateway's client of the cross-border link service (`bakong.crossborder`, issue 20).

Rules:
1. Each request is signed as a party lookup between gateways is (`bakong.wire.request`): with
   the gateway key, addressed to the link's public key from `[crossborder] link_key`. The link
   trusts a key the core lists as an active participant's gateway key.
2. Answers are definite or they raise. `LinkUnavailable` (a timeout, no connection, a 5xx, a
   429, an answer that does not decode) means the outcome is UNKNOWN: a payment may have been
   taken just before the connection dropped. The caller asks again (the payment request is
   idempotent on the end-to-end id) and never treats silence as a refusal. `LinkRefused` is a
   4xx refusal with the link's code and the HTTP status (`http_status`).
3. Every field of an answer is bounded and typed (msgspec); unknown fields are ignored, so the
   link may add some. Nothing personal travels: the payer is named by its account id only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
import msgspec
from msgspec import Meta

from bakong import limits
from bakong.errors import RemoteError
from bakong.gateway.crossborder.config import CrossborderConfig
from bakong.wire.keys import SigningKey
from bakong.wire.request import sign_request

__all__ = [
    "HoldTerms",
    "LinkClient",
    "LinkPayment",
    "LinkRefused",
    "LinkUnavailable",
    "Quote",
    "link_from_config",
]


class LinkRefused(RemoteError):
    """The link refused the request (a definite answer), with its code."""


class LinkUnavailable(LinkRefused):
    """No usable answer (timeout, connection, 5xx): the outcome is unknown (rule 2)."""


Text = Annotated[str, Meta(max_length=limits.foreign_text_chars_max)]
Code = Annotated[str, Meta(pattern=r"^[a-z0-9_]{1,64}$")]
AccountId = Annotated[str, Meta(pattern=r"^[a-z0-9_.-]{1,64}@[a-z]{4,8}$")]
EndToEndId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.:-]{1,35}$")]
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[int, Meta(gt=0, le=limits.foreign_amount_max)]
Millis = Annotated[int, Meta(ge=0, le=2**53)]


class HoldTerms(msgspec.Struct, frozen=True):
    """Where the wallet's hold goes: the link's account, the account that posts or voids it,
    when it expires, and its reference (the payment's end-to-end id)."""

    target: AccountId
    poster: AccountId
    expires_ms: Millis
    reference: EndToEndId


class Quote(msgspec.Struct, frozen=True):
    quote_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
    scheme: Code
    merchant_name: Text
    city: Text
    country: Annotated[str, Meta(pattern=r"^[A-Z]{2}$")]
    foreign_currency: Currency
    foreign_amount: Amount
    khr_amount: Amount
    rate_text: Text
    rate_num: Annotated[int, Meta(gt=0, le=2**62)]
    rate_den: Annotated[int, Meta(gt=0, le=2**62)]
    spread_bps: Annotated[int, Meta(ge=0, le=10_000)]
    expires_ms: Millis
    hold: HoldTerms


class LinkPayment(msgspec.Struct, frozen=True):
    end_to_end_id: EndToEndId
    status: Literal["pending", "completed", "failed", "reversed"]
    reason: Text | None = None


class _Error(msgspec.Struct, frozen=True):
    code: Code
    message: Text = ""


class _Envelope(msgspec.Struct, frozen=True):
    error: _Error


def _refusal(status: int, content: bytes) -> LinkRefused:
    """The refusal of a 4xx answer, with its HTTP status (404: the link knows no such thing)."""
    try:
        error = msgspec.json.decode(content, type=_Envelope).error
    except msgspec.DecodeError:
        try:
            error = msgspec.json.decode(content, type=_Error)
        except msgspec.DecodeError:
            error = _Error("link_refused")
    refused = LinkRefused(error.code, error.message or f"the link refused (HTTP {status})")
    refused.http_status = status
    return refused


class LinkClient:
    """The link's JSON API over HTTP, signed with `gateway_key` (rule 1)."""

    def __init__(self, url: str, link_key: bytes, gateway_key: SigningKey, chain_id: str, *,
                 timeout_s: float, transport: httpx.AsyncBaseTransport | None = None,
                 ) -> None:  # fmt: skip
        self.url = url.rstrip("/")
        self.link_key = link_key
        self.gateway_key = gateway_key
        self.chain_id = chain_id
        self.timeout_s = timeout_s
        self._transport = transport

    async def _call(self, method: str, target: str, body: Any, now_ms: int) -> bytes:
        content = b"" if body is None else msgspec.json.encode(body)
        headers = sign_request(self.chain_id, self.link_key, self.gateway_key, method, target,
                               content, now_ms)  # fmt: skip
        if content:
            headers["content-type"] = "application/json"
        # A client per call: calls are few, and each event loop (a test's, the app's) owns its.
        async with httpx.AsyncClient(timeout=self.timeout_s, transport=self._transport) as http:
            try:
                answer = await http.request(method, self.url + target, headers=headers,
                                            content=content or None)  # fmt: skip
            except httpx.HTTPError as error:
                raise LinkUnavailable(
                    "link_unavailable", f"the link gave no answer ({type(error).__name__})"
                ) from None
        if answer.status_code >= 500 or answer.status_code == 429:
            raise LinkUnavailable("link_unavailable",
                                  f"the link answered HTTP {answer.status_code}")
        if len(answer.content) > limits.link_answer_bytes_max:
            raise LinkUnavailable("link_unavailable", "the link's answer is too large")
        if answer.status_code >= 400:
            raise _refusal(answer.status_code, answer.content)
        return answer.content

    @staticmethod
    def _decode(content: bytes, shape: type[Any]) -> Any:
        try:
            return msgspec.json.decode(content, type=shape)
        except msgspec.DecodeError as error:
            raise LinkUnavailable("link_answer_invalid", f"the link's answer is unusable: {error}"
                                  ) from None  # fmt: skip

    async def quote(self, qr: str, amount: int | None, payer: str, now_ms: int) -> Quote:
        body = {"qr": qr, "amount": amount, "payer": payer}
        quote: Quote = self._decode(await self._call("POST", "/v1/link/quotes", body, now_ms),
                                    Quote)  # fmt: skip
        return quote

    async def pay(self, quote_id: str, end_to_end_id: str, hold_id: bytes,
                  now_ms: int) -> LinkPayment:  # fmt: skip
        body = {"quote_id": quote_id, "end_to_end_id": end_to_end_id, "hold_id": hold_id.hex()}
        paid: LinkPayment = self._decode(
            await self._call("POST", "/v1/link/payments", body, now_ms), LinkPayment)
        return paid

    async def status(self, end_to_end_id: str, now_ms: int) -> LinkPayment:
        target = f"/v1/link/payments/{end_to_end_id}"
        found: LinkPayment = self._decode(await self._call("GET", target, None, now_ms),
                                          LinkPayment)  # fmt: skip
        return found


def link_from_config(config: CrossborderConfig, gateway_key: SigningKey,
                     chain_id: str) -> LinkClient | None:  # fmt: skip
    """The link client of a `[crossborder]` table (checked already); None without one."""
    if not config.configured:
        return None
    return LinkClient(config.link_url, bytes.fromhex(config.link_key), gateway_key, chain_id,
                      timeout_s=config.timeout_s)  # fmt: skip
