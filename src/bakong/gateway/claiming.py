"""Claiming money that waits at a bank for a phone (issue 17): the claimant's side, and the
signed route between gateways that carries a claim to the bank holding it (`claims`).

    POST /v1/wallet/claims            a customer claims into their own wallet: {bank, code}
    POST /v1/interbank/claims/redeem  the holding bank's route, for other banks' gateways
                                      (signed; `claims.Redeem`), answered by `claims.redeem`

Rules:
- The payee's text names the bank holding the money (its participant code) and the code; the
  new wallet names both. The claimant's bank finds that bank's gateway as the party lookup
  does (`parties`): the URL the central bank published on the ledger, the key that gateway
  announces used only if the core lists it for that bank. When the bank holding the money is
  this one, the claim is redeemed by a local call: no request leaves the process.
- A wallet's claim carries the alias of the wallet's own phone (`HMAC(alias_key, phone)`,
  proved by a code when the wallet was opened) and its account; an agent's (`agents`) the
  alias of the phone the recipient shows, the payer's secret and the agent's account. The
  phone itself never leaves the bank, and no URL carries a phone, a code or a secret.
- The route between gateways is signed as a core API request is (`bakong.wire.request`),
  body included, addressed to the holding gateway's key by a key the core lists as an active
  participant's gateway key; replays are refused by a window in memory. A bank may claim only
  into its own accounts (`claims.redeem` checks the account's participant is the caller).
- The holding bank's refusals reach the claimant as they were given (their codes and
  messages carry no personal data); an unreachable bank is 502 `bank_unreachable`, and the
  same claim may simply be sent again: it is idempotent on the claim at the holding bank.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import alias_hash
from bakong.gateway import claims, sessions
from bakong.gateway.parties import directory_of
from bakong.gateway.problems import GatewayProblem, json_response, read_body, read_json
from bakong.gateway.service import GatewayServices
from bakong.gateway.wallets import bind, customer_by_id
from bakong.ledger.identifiers import is_participant_code
from bakong.wire.request import SeenRequests, check_request, sign_request

__all__ = ["REDEEM_PATH", "ClaimCode", "BankCode", "redeem_at", "routes"]

REDEEM_PATH = "/v1/interbank/claims/redeem"
BankCode = Annotated[
    str,
    Meta(
        pattern=r"^[a-z]+$",
        min_length=limits.participant_code_chars_min,
        max_length=limits.participant_code_chars_max,
    ),
]
ClaimCode = Annotated[str, Meta(pattern=rf"^[0-9]{{{limits.claim_code_digits}}}$")]


# -- the claimant's side: to whichever bank holds the money ------------------------------------


def _refusal(status: int, answer: Any) -> GatewayProblem:
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        details = {
            name: value for name, value in error.items()
            if name in ("attempts_left", "state") and isinstance(value, int | str)
        }  # fmt: skip
        return GatewayProblem(status, error["code"], str(error.get("message", "")), details)
    return GatewayProblem(502, "bank_unreachable", "the bank holding the money did not answer")


async def _remote(services: GatewayServices, bank: str, body: bytes) -> tuple[int, Any]:
    directory = directory_of(services)
    base = await directory.gateway_url(services, bank)
    if base is None:
        raise GatewayProblem(502, "bank_unreachable", "that bank publishes no gateway")
    async with httpx.AsyncClient(base_url=base, timeout=limits.claim_request_timeout_s) as http:
        announced = (await http.get("/v1/parties/key")).json()
        their_key = bytes.fromhex(announced["gateway_key"])
        if not await directory.trusts(services.clock_ms(), their_key, bank):
            raise GatewayProblem(502, "bank_unreachable", "that bank's gateway key is not listed")
        headers = sign_request(
            services.chain_id, their_key, services.gateway_key, "POST", REDEEM_PATH, body,
            services.clock_ms(),
        )  # fmt: skip
        headers["content-type"] = "application/json"
        answer = await http.post(REDEEM_PATH, content=body, headers=headers)
    return answer.status_code, answer.json()


async def redeem_at(
    services: GatewayServices, bank: str, redeem: claims.Redeem
) -> tuple[int, dict[str, Any]]:
    """Bring `redeem` to `bank`, the bank holding the money: (status, answer) of a claim paid
    (200) or on its way (202); refusals raised as that bank gave them."""
    if bank == services.participant:
        return await claims.redeem(services, services.participant, redeem)
    body = msgspec.json.encode(redeem)
    try:
        status, answer = await _remote(services, bank, body)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        message = "the bank holding it cannot be reached"
        raise GatewayProblem(502, "bank_unreachable", message) from None
    if status in (200, 202) and isinstance(answer, dict):
        return status, answer
    raise _refusal(status, answer)


class WalletClaim(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    bank: BankCode  # the participant code the text named
    code: ClaimCode


async def claim_into_wallet(services: GatewayServices, request: Request) -> Response:
    """Claim money sent to this wallet's phone before it had a wallet: the bank and the code
    from the text message."""
    session = await sessions.authenticate(services, request, "customer")
    body = await read_json(request, WalletClaim, limits.claim_body_bytes_max)
    if not is_participant_code(body.bank):
        raise GatewayProblem(400, "bank_invalid", "the bank is a participant code")

    def customer() -> Any:
        with services.engine.connect() as connection:
            return customer_by_id(connection, session.customer_id)

    row = await services.db(customer)
    if row.phone is None or row.kind != "personal":
        raise GatewayProblem(409, "no_phone", "only a personal wallet with a phone can claim")
    redeem = claims.Redeem(
        alias=alias_hash(services.alias_key, row.phone).hex(), code=body.code,
        account=row.account_id, kind=claims.WALLET,
    )  # fmt: skip
    status, answer = await redeem_at(services, body.bank, redeem)
    return json_response(answer, status)


# -- the holding bank's side: the signed route -------------------------------------------------


class _Server:
    def __init__(self, services: GatewayServices) -> None:
        self.services = services
        self.seen = SeenRequests()
        self.own_key = bytes(services.gateway_key.public_key)

    async def _caller(self, request: Request, body: bytes) -> str:
        """The participant whose gateway signed the request (refusals raised)."""
        services = self.services
        headers = {name.lower(): value for name, value in request.headers.items()}
        verdict = check_request(
            services.chain_id, self.own_key, request.method, request.url.path, body, headers,
            services.clock_ms(), self.seen,
        )  # fmt: skip
        if not isinstance(verdict, bytes):
            raise GatewayProblem(verdict.status, verdict.code, verdict.message)
        entries = await directory_of(services).entries(services.clock_ms())
        if entries is None:
            message = "the core's participant list cannot be read"
            raise GatewayProblem(503, "directory_unavailable", message)
        for code in entries:
            if await directory_of(services).trusts(services.clock_ms(), verdict, code):
                return code
        raise GatewayProblem(403, "forbidden", "only participants' gateways may claim")

    async def redeem(self, request: Request) -> Response:
        """Redeem a claim this bank holds, for the claimant's bank (signed request)."""
        body = await read_body(request, limits.claim_body_bytes_max)
        caller = await self._caller(request, body)
        try:
            redeem = msgspec.json.decode(body, type=claims.Redeem, strict=True)
        except msgspec.ValidationError as error:
            raise GatewayProblem(400, "bad_request", str(error)) from None
        except msgspec.DecodeError:
            raise GatewayProblem(400, "bad_request", "the body is not valid JSON") from None
        status, answer = await claims.redeem(self.services, caller, redeem)
        return json_response(answer, status)


def routes(services: GatewayServices) -> list[BaseRoute]:
    server = _Server(services)
    return [
        Route(REDEEM_PATH, server.redeem, methods=["POST"]),
        Route(
            "/v1/wallet/claims", bind(services, claim_into_wallet, WalletClaim), methods=["POST"]
        ),
    ]
