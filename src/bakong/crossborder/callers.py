"""Who is calling the link: gateways (their gateway keys) and foreign switches (their keys).

- A gateway signs its request as it signs a party lookup to another gateway
  (`bakong.wire.request`), addressed to the link's gateway key (`GET /v1/link/key`); the
  key must be an active participant's gateway key as the core lists it (read through
  `ParticipantDirectory`, cached briefly); replays inside the window are refused. The
  caller is that participant: it may quote and pay only for its own customers' accounts.
- A foreign switch signs the body (a GET: `GET <path>`) with its Ed25519 key, which must be
  the `switch_key` of one of the link's corridors: the caller is that corridor.
"""

from __future__ import annotations

from starlette.requests import Request

from bakong.crossborder.messages import get_signed_bytes, verify_body
from bakong.crossborder.service import LinkServices
from bakong.gateway.problems import GatewayProblem
from bakong.wire.request import SeenRequests, check_request

__all__ = ["GatewayCallers", "corridor_of_switch"]


class GatewayCallers:
    """The check of gateways' signed requests, with its replay window."""

    def __init__(self, services: LinkServices) -> None:
        self.services = services
        self.seen = SeenRequests()
        self.own_key = bytes(services.gateway_key.public_key)

    async def participant(self, request: Request, body: bytes) -> str:
        """The participant whose gateway signed `request`, or a GatewayProblem."""
        services = self.services
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {name.lower(): value for name, value in request.headers.items()}
        verdict = check_request(services.chain_id, self.own_key, request.method, target, body,
                                headers, services.clock_ms(), self.seen)  # fmt: skip
        if not isinstance(verdict, bytes):
            raise GatewayProblem(verdict.status, verdict.code, verdict.message)
        assert services.directory is not None
        entries = await services.directory.entries(services.clock_ms())
        if entries is None:
            raise GatewayProblem(503, "directory_unavailable",
                                 "the core's participant list cannot be read")  # fmt: skip
        for code, entry in entries.items():
            if entry.status.value == "active" and verdict in entry.gateway_keys:
                return code
        raise GatewayProblem(403, "forbidden", "only participants' gateways may call the link")


def corridor_of_switch(services: LinkServices, request: Request, body: bytes) -> str:
    """The corridor whose switch signed `request` (IsoProblem 401 if none did)."""
    signed = get_signed_bytes(request.url.path) if request.method == "GET" else body
    keys = {corridor.public_key: name for name, corridor in services.config.corridors.items()}
    signer = verify_body(keys, request.headers, signed)
    return keys[signer]
