"""Party lookup between gateways: the payee's masked display name, before the payer confirms.

Rules:
- Only the masked display name crosses to another bank ("Sokha C.": the first name and the
  last name's initial, `display_name`); never the phone, the full name or the birth
  date.
- The lookup routes answer other gateways only. A request is signed as a core API request is
  (`bakong.wire.request`), addressed to THIS gateway's key instead of a node's, by a key that
  the core lists as an active participant's gateway key; replays are refused by a window in
  memory. A gateway learns the other's key from its unsigned `GET /v1/parties/key` and uses it
  only if the core lists it for that participant, and that participant is active.
- Who holds which gateway key, and where each bank's gateway is, come from the core's
  participant records (`Client.participants`: the gateway URL the central bank published with
  `set_participant_endpoint`), read at most every `limits.participant_directory_cache_ms`
  per core client (`ParticipantDirectory`), so a key added or removed by
  `update_participant`, or a new URL, is seen within that time. The config's `[directory]`
  table gives a bank's URL only when the core publishes none for it. Keys never come from
  the config or the genesis: with the core unreachable no key is trusted (the lookup routes
  answer 503 `directory_unavailable`), since a key the central bank removed must stop working.
- With no URL, or when the other gateway cannot be reached within
  `limits.party_lookup_timeout_s`, the name is unknown (None): the payer still sees the
  account ID, and the payment is not held up by another bank's outage. A bank that answers
  "no such customer" makes it `recipient_not_found`.
- Paths carry account IDs and alias hashes, never a phone number.
"""

from __future__ import annotations

import weakref
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import ApiError, Client, NotFound, ParticipantInfo, ParticipantStatus
from bakong.errors import LocalError
from bakong.gateway import db
from bakong.gateway.problems import GatewayProblem, json_response
from bakong.gateway.service import GatewayServices
from bakong.ledger.identifiers import is_account_id, participant_of
from bakong.wire.request import SeenRequests, check_request, sign_request

__all__ = [
    "ParticipantDirectory",
    "directory_of",
    "display_name",
    "display_name_of",
    "local_display_name",
    "routes",
]


def display_name(name: str) -> str:
    """The masked name another party sees: the first name and the last name's initial."""
    words = name.split()
    if len(words) < 2:
        return words[0] if words else ""
    return f"{words[0]} {words[-1][0].upper()}."


class ParticipantDirectory:
    """The core's participant records as one core client reads them, kept for
    `limits.participant_directory_cache_ms` (module rules)."""

    def __init__(self, core: Client) -> None:
        self.core = core
        self._entries: dict[str, ParticipantInfo] = {}
        self._read_ms: int | None = None

    async def entries(self, now_ms: int) -> dict[str, ParticipantInfo] | None:
        """Every participant by code, or None when the core cannot be read now."""
        age_ms = None if self._read_ms is None else now_ms - self._read_ms
        if age_ms is not None and 0 <= age_ms < limits.participant_directory_cache_ms:
            return self._entries
        try:
            listing = await self.core.participants()
        except (ApiError, LocalError, httpx.TransportError):
            return None  # not cached: the next lookup asks again
        self._entries = {entry.code: entry for entry in listing}
        self._read_ms = now_ms
        return self._entries

    async def gateway_url(self, services: GatewayServices, participant: str) -> str | None:
        """The URL the core publishes for `participant`'s gateway, else the config's."""
        entries = await self.entries(services.clock_ms())
        found = None if entries is None else entries.get(participant)
        if found is not None and found.gateway_url:
            return found.gateway_url
        return services.config.directory.get(participant)

    async def trusts(self, now_ms: int, key: bytes, participant: str | None = None) -> bool | None:
        """Whether `key` is a gateway key of an active participant (of `participant`, if
        named); None when the core cannot be read."""
        entries = await self.entries(now_ms)
        if entries is None:
            return None
        candidates = entries.values() if participant is None else [entries.get(participant)]
        return any(
            entry is not None
            and entry.status is not ParticipantStatus.suspended  # send-/receive-only still are
            and key in entry.gateway_keys
            for entry in candidates
        )


# One directory per core client: a `GatewayServices` (a plain dataclass) cannot key a map.
_directories: weakref.WeakKeyDictionary[Client, ParticipantDirectory] = (
    weakref.WeakKeyDictionary()
)


def directory_of(services: GatewayServices) -> ParticipantDirectory:
    directory = _directories.get(services.core)
    if directory is None:
        directory = _directories[services.core] = ParticipantDirectory(services.core)
    return directory


def _local_name(engine: Engine, account_id: str) -> str | None:
    with engine.connect() as connection:
        name = connection.execute(
            sa.select(db.customers.c.name).where(db.customers.c.account_id == account_id)
        ).scalar_one_or_none()
    return None if name is None else display_name(name)


async def local_display_name(services: GatewayServices, account_id: str) -> str | None:
    """The masked name of one of this bank's customers, or None if there is none."""
    return await services.db(_local_name, services.engine, account_id)


async def display_name_of(services: GatewayServices, account_id: str) -> str | None:
    """The payee's masked name as its bank returns it; None when it cannot be asked."""
    participant = participant_of(account_id)
    if participant == services.participant:
        name = await local_display_name(services, account_id)
        if name is None:
            raise GatewayProblem(404, "recipient_not_found", "no wallet has this account ID")
        return name
    base = await directory_of(services).gateway_url(services, participant)
    if base is None:
        return None
    try:
        async with httpx.AsyncClient(base_url=base, timeout=limits.party_lookup_timeout_s) as http:
            return await _ask(services, http, participant, account_id)
    except (httpx.TransportError, ValueError, KeyError, TypeError):
        return None


async def _ask(
    services: GatewayServices, http: httpx.AsyncClient, participant: str, account_id: str
) -> str | None:
    announced = (await http.get("/v1/parties/key")).json()
    their_key = bytes.fromhex(announced["gateway_key"])
    trusted = await directory_of(services).trusts(services.clock_ms(), their_key, participant)
    if not trusted:
        return None  # not a key the core lists for that bank: do not trust what it says
    target = f"/v1/parties/{account_id}"
    headers = sign_request(
        services.chain_id, their_key, services.gateway_key, "GET", target, b"", services.clock_ms()
    )
    answer = await http.get(target, headers=headers)
    if answer.status_code == 404:
        raise GatewayProblem(404, "recipient_not_found", "the payee's bank has no such wallet")
    if answer.status_code != 200:
        return None
    name = answer.json()["display_name"]
    return name if isinstance(name, str) else None


class _Server:
    """The lookup routes of this gateway, with their replay window."""

    def __init__(self, services: GatewayServices) -> None:
        self.services = services
        self.seen = SeenRequests()
        self.own_key = bytes(services.gateway_key.public_key)

    async def _check(self, request: Request) -> None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {name.lower(): value for name, value in request.headers.items()}
        verdict = check_request(
            self.services.chain_id, self.own_key, request.method, target, b"", headers,
            self.services.clock_ms(), self.seen,
        )  # fmt: skip
        if not isinstance(verdict, bytes):
            raise GatewayProblem(verdict.status, verdict.code, verdict.message)
        trusted = await directory_of(self.services).trusts(self.services.clock_ms(), verdict)
        if trusted is None:
            raise GatewayProblem(
                503, "directory_unavailable", "the core's participant list cannot be read"
            )
        if not trusted:
            raise GatewayProblem(403, "forbidden", "only participants' gateways may look up")

    async def key(self, request: Request) -> Response:
        """This gateway's key, which other gateways address their signed lookups to."""
        answer = {"participant": self.services.participant, "gateway_key": self.own_key.hex()}
        return json_response(answer)

    async def by_account(self, request: Request) -> Response:
        """A customer's masked display name, for another bank's gateway (signed request)."""
        await self._check(request)
        account_id = request.path_params["account_id"]
        return await self._answer(account_id)

    async def by_alias(self, request: Request) -> Response:
        """The masked name behind a phone alias hash, for another bank's gateway."""
        await self._check(request)
        try:
            alias = bytes.fromhex(request.path_params["alias"])
            found = await self.services.core.alias(alias)
        except (ValueError, NotFound):
            raise GatewayProblem(404, "recipient_not_found", "no wallet has this alias") from None
        return await self._answer(found.account_id)

    async def _answer(self, account_id: str) -> Response:
        local = (
            is_account_id(account_id) and participant_of(account_id) == self.services.participant
        )
        name = await local_display_name(self.services, account_id) if local else None
        if name is None:
            raise GatewayProblem(404, "recipient_not_found", "no wallet here has this account")
        return json_response({"account_id": account_id, "display_name": name})


def routes(services: GatewayServices) -> list[BaseRoute]:
    server = _Server(services)
    found: list[tuple[str, Any]] = [
        ("/v1/parties/key", server.key),
        ("/v1/parties/by-alias/{alias}", server.by_alias),
        ("/v1/parties/{account_id}", server.by_account),
    ]
    return [Route(path, endpoint, methods=["GET"]) for path, endpoint in found]
