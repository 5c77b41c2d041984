"""The link's own transactions: its corridor accounts, and the posts, voids and payouts it
signs from them.

A corridor's account (`<corridor>@<participant>`, kind `link`) has the participant's admin
key as its one signatory, so the link signs for it with that key. `ensure_accounts` creates
the accounts a config names and the ledger lacks, at start-up (the participant itself signs:
its admin key). A step is signed once and its bytes stored before they are sent (`sign`);
`resubmit` sends stored bytes again, which is harmless: the ledger dedupes by hash.
"""

from __future__ import annotations

import logging

import httpx

from bakong.client import ApiError, NotFound, TransactionBuilder, create_account
from bakong.crossborder.service import LinkServices
from bakong.ledger.commands import Command
from bakong.ledger.records import AccountKind, KycTier
from bakong.ledger.transaction import Transaction

__all__ = ["ensure_accounts", "resubmit", "sign"]

log = logging.getLogger(__name__)


def sign(services: LinkServices, creator: str, command: Command) -> Transaction:
    builder = TransactionBuilder(chain_id=services.chain_id, creator=creator,
                                 created_ms=services.clock_ms(), nonce=services.nonces())
    return builder.add(command).sign(services.admin_key)


async def resubmit(services: LinkServices, raw: bytes) -> None:
    """Send stored bytes; a failure is logged and left for the next round."""
    try:
        result = (await services.core.submit([raw]))[0]
    except (ApiError, httpx.TransportError) as error:
        log.warning("the core did not take a transaction", extra={"error": type(error).__name__})
        return
    if result.status == "rejected":
        log.warning("the core rejected a transaction", extra={"code": result.code})


async def ensure_accounts(services: LinkServices) -> list[str]:
    """Create each corridor's account the ledger lacks; the accounts created."""
    created = []
    for corridor in services.config.corridors:
        account = services.account(corridor)
        try:
            await services.core.account(account)
            continue
        except NotFound:
            pass
        command = create_account(account, [services.admin_key.public_key],
                                 kind=AccountKind.link, tier=KycTier.institutional)  # fmt: skip
        committed = await services.core.submit_and_wait(
            sign(services, services.participant, command))
        if not committed.ok:
            log.error("a corridor account could not be created", extra={"code": committed.result})
            continue
        created.append(account)
    return created
