"""The core-banking adapter: what the gateway asks of its bank's core system, and the HTTP
implementation for the sample core bank (`bakong.corebank`).

Rules:
1. `CoreBanking` is the protocol a bank implements for its own core system: look up a deposit
   account (does this phone own it, whose name is on it), credit or debit it under a posting
   id the caller chooses, tell a posting's status by id, reverse a posting with a
   compensating one, and list a day's journal on the bank's Bakong GL account.
2. Answers are definite or they raise. `CoreBankingUnavailable` (a timeout, no connection, a
   5xx) means the outcome is UNKNOWN: a credit may have been committed just before the
   connection dropped. The caller must then ask `posting(id)` before deciding anything, and
   never treat the silence as a refusal. `CoreBankingError` is a definite refusal of the
   request itself (with the core bank's code). A posting the bank refused is not an error: it
   is a `Posting` with `state == "refused"` and its code, stored by the bank under its id.
3. The secret is sent as a bearer token; nothing personal is logged or put in a URL (an
   account number and a phone travel in bodies).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import msgspec

from bakong import limits
from bakong.errors import ConfigError, KeyFileError, RemoteError
from bakong.gateway.corebanking.config import CoreBankingConfig
from bakong.gateway.home import read_secret

__all__ = [
    "BankAccount",
    "CoreBanking",
    "CoreBankingError",
    "CoreBankingUnavailable",
    "HttpCoreBanking",
    "Posting",
    "core_banking_from_home",
]


class CoreBankingError(RemoteError):
    """The core bank refused the request itself (a definite answer), with its code."""


class CoreBankingUnavailable(CoreBankingError):
    """No usable answer (timeout, connection, 5xx): the outcome is unknown (rule 2)."""


@dataclass(frozen=True)
class BankAccount:
    account: str
    holder_name: str  # personal data: masked before it leaves the gateway
    currency: str
    status: str  # 'open' | 'closed'
    phone_matches: bool


@dataclass(frozen=True)
class Posting:
    posting_id: str
    state: str  # 'posted' | 'refused' | 'cancelled'
    code: str | None
    kind: str
    amount: int
    currency: str
    reversed_by: str | None
    time_ms: int

    @property
    def moved(self) -> bool:
        """The bank's side moved money under this id (it may have been reversed since)."""
        return self.state == "posted"


class CoreBanking(Protocol):
    async def lookup(self, account: str, phone: str) -> BankAccount: ...

    async def credit(self, posting_id: str, account: str, amount: int, currency: str,
                     reference: str) -> Posting: ...  # fmt: skip

    async def debit(self, posting_id: str, account: str, amount: int, currency: str,
                    reference: str) -> Posting: ...  # fmt: skip

    async def posting(self, posting_id: str) -> Posting | None: ...

    async def reverse(self, posting_id: str) -> Posting: ...

    async def journal(self, day: str) -> list[dict[str, Any]]: ...


def _posting(body: dict[str, Any]) -> Posting:
    return Posting(
        str(body["posting_id"]), str(body["state"]), body.get("code"), str(body["kind"]),
        int(body["amount"]), str(body["currency"]), body.get("reversed_by"), int(body["time_ms"]),
    )  # fmt: skip


class HttpCoreBanking:
    """`CoreBanking` over the sample core bank's JSON API (`bakong.corebank.app`)."""

    def __init__(self, url: str, secret: bytes, *, timeout_s: float,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._headers = {"authorization": f"Bearer {secret.hex()}"}
        self._transport = transport

    async def _call(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        # A client per call: calls are few, and each event loop (a test's, the app's) owns its.
        async with httpx.AsyncClient(timeout=self.timeout_s, transport=self._transport) as http:
            try:
                answer = await http.request(
                    method, self.url + path, headers=self._headers, params=params,
                    content=None if body is None else msgspec.json.encode(body),
                )  # fmt: skip
            except httpx.HTTPError as error:
                failure = type(error).__name__
                raise CoreBankingUnavailable(
                    "core_banking_unavailable", f"the core bank gave no answer ({failure})"
                ) from None
        if answer.status_code >= 500 or answer.status_code == 429:
            raise CoreBankingUnavailable(
                "core_banking_unavailable", f"the core bank answered HTTP {answer.status_code}"
            )
        if len(answer.content) > limits.corebank_journal_page_max * 1024:  # a page of entries
            raise CoreBankingUnavailable("core_banking_unavailable", "the answer is too large")
        try:
            decoded = msgspec.json.decode(answer.content)
        except msgspec.DecodeError:
            raise CoreBankingUnavailable(
                "core_banking_unavailable", "the core bank's answer is not JSON"
            ) from None
        if not isinstance(decoded, dict):
            raise CoreBankingUnavailable("core_banking_unavailable", "an unexpected answer")
        return answer.status_code, decoded

    @staticmethod
    def _refused(status: int, body: dict[str, Any]) -> CoreBankingError:
        error = body.get("error") or {}
        code = str(error.get("code") or f"http_{status}")
        return CoreBankingError(code, f"the core bank refused the request ({code})")

    async def lookup(self, account: str, phone: str) -> BankAccount:
        status, body = await self._call("POST", "/v1/accounts/lookup",
                                        {"account": account, "phone": phone})  # fmt: skip
        if status == 404:
            raise CoreBankingError("bank_account_not_found", "the bank knows no such account")
        if status != 200:
            raise self._refused(status, body)
        return BankAccount(str(body["account"]), str(body["holder_name"]), str(body["currency"]),
                           str(body["status"]), bool(body["phone_matches"]))  # fmt: skip

    async def _post(self, kind: str, posting_id: str, account: str, amount: int, currency: str,
                    reference: str) -> Posting:  # fmt: skip
        request = {"posting_id": posting_id, "kind": kind, "account": account, "amount": amount,
                   "currency": currency, "reference": reference}  # fmt: skip
        status, body = await self._call("POST", "/v1/postings", request)
        if status not in (200, 201):
            raise self._refused(status, body)
        return _posting(body)

    async def credit(self, posting_id: str, account: str, amount: int, currency: str,
                     reference: str) -> Posting:  # fmt: skip
        return await self._post("credit", posting_id, account, amount, currency, reference)

    async def debit(self, posting_id: str, account: str, amount: int, currency: str,
                    reference: str) -> Posting:  # fmt: skip
        return await self._post("debit", posting_id, account, amount, currency, reference)

    async def posting(self, posting_id: str) -> Posting | None:
        status, body = await self._call("GET", f"/v1/postings/{posting_id}")
        if status == 404 and (body.get("error") or {}).get("code") == "posting_not_found":
            return None
        if status != 200:
            raise self._refused(status, body)
        return _posting(body)

    async def reverse(self, posting_id: str) -> Posting:
        status, body = await self._call("POST", f"/v1/postings/{posting_id}/reverse")
        if status != 200:
            raise self._refused(status, body)
        return _posting(body)

    async def journal(self, day: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        after = 0
        while len(entries) < limits.reconcile_entries_max:
            status, body = await self._call("GET", "/v1/journal",
                                            params={"day": day, "after": str(after)})  # fmt: skip
            if status != 200:
                raise self._refused(status, body)
            entries.extend(body["entries"])
            if body.get("next_after") is None:
                break
            after = int(body["next_after"])
        return entries


def core_banking_from_home(config: CoreBankingConfig, home: Path) -> HttpCoreBanking | None:
    """The adapter `[core_banking]` configures for the gateway in `home`, or None."""
    if not config.configured:
        return None
    try:
        secret = read_secret(home / config.secret_file)
    except (KeyFileError, OSError) as error:
        raise ConfigError(f"[core_banking] secret_file: {error}") from None
    return HttpCoreBanking(config.url, secret, timeout_s=config.timeout_s)
