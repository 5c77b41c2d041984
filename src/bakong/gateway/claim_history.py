"""A payer's claims in the payer's history (`wallets`, `GET /v1/wallet/history`; `claims`).

The ledger records one transfer for a claim, when it is claimed: the hold's post, payer ->
the claims escrow, reference `claim:<id>`. While the money waits, and once it has come back,
the ledger moved only the payer's held balance, which no history entry shows. So a page of
history is merged here with the payer's claims:
- the post's entry gains `claim`: the claim as its payer sees it (`Claim.payer_view`);
- a claim still waiting (`pending_claim`, `claiming`, `returning`) or `returned` is an entry of
  its own: `id` null (it is no cursor), `direction` out, the masked phone as counterparty,
  its hold's transaction hash, the time it was made, `result` "ok" while the money is held
  and "returned" once it is back, and `claim`;
- a claim's own entry goes on the page whose time window holds its time: after the previous
  page's last entry, at or after this page's last (the last page takes every older one), so
  each shows exactly once however the pages fall. The page's filters apply to it too.
"""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bakong.gateway import db
from bakong.gateway.claim_records import (
    REFERENCE_PREFIX,
    RETURNED,
    claim_from_row,
    mask_phone,
)

__all__ = ["HistoryFilter", "merged"]

_SHOWN = ("pending_claim", "claiming", "returning", RETURNED)
_REFERENCE = REFERENCE_PREFIX


class HistoryFilter(Protocol):
    """The filters of a history page (`wallets.HistoryQuery`)."""

    @property
    def cursor(self) -> int | None: ...
    @property
    def direction(self) -> str | None: ...
    @property
    def asset(self) -> str | None: ...
    @property
    def since_ms(self) -> int | None: ...
    @property
    def until_ms(self) -> int | None: ...
    @property
    def tx_hash(self) -> str | None: ...


def _window(connection: Connection, query: HistoryFilter, entries: list[dict[str, Any]],
            more: bool) -> tuple[int | None, int | None]:  # fmt: skip
    """(newest, oldest) times of claims this page shows: None is no bound."""
    newest = None
    if query.cursor is not None:
        newest = connection.execute(
            sa.select(db.history.c.time_ms).where(db.history.c.id == query.cursor)
        ).scalar_one_or_none()
    oldest = int(entries[-1]["time_ms"]) if more and entries else None
    return newest, oldest


def _own_entries(
    connection: Connection, account_id: str, query: HistoryFilter, window: tuple[Any, Any]
) -> list[dict[str, Any]]:
    claims, submissions = db.claims, db.submissions
    select = (
        sa.select(claims, submissions.c.tx_hash)
        .join(submissions, (submissions.c.customer_id == claims.c.payer_id)
              & (submissions.c.idempotency_key == claims.c.idempotency_key))
        .where(claims.c.payer_account == account_id, claims.c.state.in_(_SHOWN))
    )  # fmt: skip
    newest, oldest = window
    if newest is not None:
        select = select.where(claims.c.created_ms <= newest)
    if oldest is not None:
        select = select.where(claims.c.created_ms >= oldest)
    if query.asset is not None:
        select = select.where(claims.c.asset == query.asset)
    if query.since_ms is not None:
        select = select.where(claims.c.created_ms >= query.since_ms)
    if query.until_ms is not None:
        select = select.where(claims.c.created_ms < query.until_ms)
    if query.tx_hash is not None:
        select = select.where(submissions.c.tx_hash == bytes.fromhex(query.tx_hash))
    return [
        {
            "id": None, "height": None, "tx_hash": bytes(row.tx_hash).hex(), "direction": "out",
            "counterparty": mask_phone(row.phone), "asset": row.asset, "amount": row.amount,
            "memo": row.memo, "reference": _REFERENCE + row.claim_id,
            "result": "returned" if row.state == RETURNED else "ok", "time_ms": row.created_ms,
            "claim": claim_from_row(row).payer_view(),
        }
        for row in connection.execute(select).all()
    ]  # fmt: skip


def _annotated(
    connection: Connection, account_id: str, entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The posts of this payer's claims, each with its claim."""
    ids = {
        str(entry["reference"]).removeprefix(_REFERENCE)
        for entry in entries
        if entry["direction"] == "out" and str(entry["reference"]).startswith(_REFERENCE)
    }
    if not ids:
        return entries
    claims = db.claims
    rows = connection.execute(
        sa.select(claims).where(claims.c.claim_id.in_(ids), claims.c.payer_account == account_id)
    ).all()
    found = {row.claim_id: claim_from_row(row).payer_view() for row in rows}
    annotated = []
    for entry in entries:
        claim = found.get(str(entry["reference"]).removeprefix(_REFERENCE))
        is_post = entry["direction"] == "out" and claim is not None
        annotated.append({**entry, "claim": claim} if is_post else entry)
    return annotated


def merged(
    connection: Connection, account_id: str, query: HistoryFilter, entries: list[dict[str, Any]],
    more: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    """A history page (newest first) with the payer's claims in it (module docstring)."""
    page = _annotated(connection, account_id, entries)
    if query.direction == "in":
        return page
    own = _own_entries(connection, account_id, query, _window(connection, query, entries, more))
    if not own:
        return page
    return sorted(page + own, key=lambda entry: -int(entry["time_ms"]))
