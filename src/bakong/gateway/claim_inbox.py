"""Money this bank holds for the signed-in wallet's phone: what the wallet's home shows as
"money waiting for you" (issue 17), before its owner claims it with the texted code
(`claiming`, `POST /v1/wallet/claims`).

    GET /v1/wallet/claims/waiting   {"claims": [{bank, bank_name, from, asset, amount,
                                                 expires_ms, state, locked}]}

Rules:
- Only this bank's own claims are known here. Money another bank holds for the phone is told
  by that bank's text alone: the ledger carries no phone, and banks do not tell each other
  whom they hold money for. So the page always offers the code form as well.
- A claim is shown to the wallet opened with the phone it was sent to: its alias is the HMAC
  of the wallet's own phone, which the wallet proved with a code when it was opened. Shown is
  what the text said already: the payer's masked name ("Sokha C."), the amount, the bank and
  the last moment to claim; never the code, the payer's phone or account, or the memo.
- Listed: claims waiting (`pending_claim`) or on their way into a wallet (`claiming`) while
  a claim would still be taken (more than `limits.claim_redeem_margin_ms` before expiry), at
  most `limits.claims_page_max`, the soonest to expire first; one locked by wrong codes says
  so (it can no longer be claimed and returns to the payer at expiry).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bakong import limits
from bakong.client import alias_hash
from bakong.gateway import db, sessions
from bakong.gateway.claim_records import CLAIMING, PENDING, escrow_account
from bakong.gateway.merchants import bank_name
from bakong.gateway.parties import display_name
from bakong.gateway.problems import json_response
from bakong.gateway.service import GatewayServices
from bakong.gateway.wallets import bind, customer_by_id

__all__ = ["WAITING_PATH", "routes", "waiting_for"]

WAITING_PATH = "/v1/wallet/claims/waiting"


def waiting_for(services: GatewayServices, customer_id: int, now_ms: int) -> list[dict[str, Any]]:
    """The claims this bank holds for `customer_id`'s phone (module rules)."""
    claims, customers = db.claims, db.customers
    with services.engine.connect() as connection:
        customer = customer_by_id(connection, customer_id)
        if customer.phone is None or customer.kind != "personal":
            return []
        rows = connection.execute(
            sa.select(claims, customers.c.name.label("payer_name"))
            .join(customers, customers.c.id == claims.c.payer_id)
            .where(
                claims.c.alias == alias_hash(services.alias_key, customer.phone),
                claims.c.state.in_((PENDING, CLAIMING)),
                claims.c.expires_ms > now_ms + limits.claim_redeem_margin_ms,
            )
            .order_by(claims.c.expires_ms, claims.c.id)
            .limit(limits.claims_page_max)
        ).all()
    bank = bank_name(services, escrow_account(services.participant))
    return [
        {
            "bank": services.participant, "bank_name": bank,
            "from": display_name(row.payer_name), "asset": row.asset, "amount": row.amount,
            "expires_ms": row.expires_ms, "state": row.state,
            "locked": row.state == PENDING and row.attempts >= limits.claim_attempts_max,
        }
        for row in rows
    ]  # fmt: skip


async def waiting(services: GatewayServices, request: Request) -> Response:
    """Money this bank holds for the signed-in wallet's phone, waiting for its claim."""
    session = await sessions.authenticate(services, request, "customer")
    found = await services.db(waiting_for, services, session.customer_id, services.clock_ms())
    return json_response({"claims": found})


def routes(services: GatewayServices) -> list[BaseRoute]:
    return [Route(WAITING_PATH, bind(services, waiting), methods=["GET"])]
