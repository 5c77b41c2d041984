"""The link's client of one foreign switch: signed ISO messages out, signed answers checked.

Every request body is signed with the link's ISO key (a GET signs `GET <path>`), and every
answer must be signed by the switch's key from the corridor's config, or it is no answer.
Outcomes:
- an answer in the expected shape: returned (a Pacs002 may say RJCT: that is an answer);
- an error envelope the switch signed (4xx): `SwitchRefused` with its code;
- no answer within `limits.link_switch_timeout_s`, a connection refused, a 5xx, an unsigned
  or malformed answer: `SwitchUnavailable`. The caller must treat it as "maybe": a pacs.008
  that got no answer may have been credited.
"""

from __future__ import annotations

from typing import TypeVar

import httpx
import msgspec

from bakong import limits
from bakong.crossborder.messages import (
    Camt029,
    Camt056,
    IsoError,
    IsoProblem,
    Lookup,
    LookupAnswer,
    Pacs002,
    Pacs008,
    Statement,
    decode,
    encode,
    get_signed_bytes,
    sign_body,
    verify_body,
)
from bakong.errors import RemoteError
from bakong.wire.keys import SigningKey

__all__ = ["SwitchClient", "SwitchRefused", "SwitchUnavailable"]

M = TypeVar("M", bound=msgspec.Struct)


class SwitchRefused(RemoteError):
    """The switch answered with a signed error: `code` is its, `status` the HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.http_status = status


class SwitchUnavailable(SwitchRefused):
    """No usable answer: the outcome is unknown, ask again."""


class SwitchClient:
    """One corridor's switch. `transport` is for tests (httpx's)."""

    def __init__(self, url: str, switch_key: bytes, key: SigningKey, *,
                 timeout_s: float = limits.link_switch_timeout_s,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        self.switch_key = switch_key
        self.key = key
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout_s,
                                       transport=transport)  # fmt: skip

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _exchange(self, method: str, path: str, body: bytes, kind: type[M],
                        none_on: str | None = None) -> M | None:  # fmt: skip
        signed = get_signed_bytes(path) if method == "GET" else body
        headers = {"content-type": "application/json", **sign_body(self.key, signed)}
        try:
            answer = await self._http.request(method, path, content=body or None,
                                              headers=headers)  # fmt: skip
        except httpx.HTTPError as error:
            raise SwitchUnavailable(0, "switch_unreachable", type(error).__name__) from None
        if answer.status_code >= 500:
            raise SwitchUnavailable(answer.status_code, "switch_failed", "the switch failed")
        try:
            verify_body([self.switch_key], answer.headers, answer.content)
        except IsoProblem as problem:
            raise SwitchUnavailable(answer.status_code, "switch_" + problem.code,
                                    "the switch's answer is not signed by its key") from None
        try:
            if answer.status_code >= 400:
                refusal = msgspec.json.decode(answer.content, type=IsoError)
                if none_on is not None and refusal.code == none_on:
                    return None
                raise SwitchRefused(answer.status_code, refusal.code, refusal.message)
            return decode(answer.content, kind)
        except (IsoProblem, msgspec.DecodeError, msgspec.ValidationError):
            raise SwitchUnavailable(answer.status_code, "switch_answer_malformed",
                                    "the switch's answer cannot be read") from None

    async def _post(self, path: str, message: msgspec.Struct, kind: type[M]) -> M:
        found = await self._exchange("POST", path, encode(message), kind)
        assert found is not None
        return found

    async def lookup(self, message: Lookup) -> LookupAnswer:
        return await self._post("/iso/lookup", message, LookupAnswer)

    async def pacs008(self, message: Pacs008) -> Pacs002:
        return await self._post("/iso/pacs008", message, Pacs002)

    async def camt056(self, message: Camt056) -> Camt029:
        return await self._post("/iso/camt056", message, Camt029)

    async def status(self, end_to_end_id: str) -> Pacs002 | None:
        """The switch's status of a payment; None if it has never seen the id."""
        path = f"/iso/pacs002/{end_to_end_id}"
        return await self._exchange("GET", path, b"", Pacs002, none_on="payment_not_found")

    async def statement(self, day: str) -> Statement:
        found = await self._exchange("GET", f"/iso/statement/{day}", b"", Statement)
        assert found is not None
        return found
