"""A wallet's payments to foreign merchants in its history (`GET /v1/wallet/history`).

The ledger records a foreign payment as the post of the wallet's hold toward the link's
account, whose reference is the payment's end-to-end id: to the wallet's history it is a
payment out to the link's account. `annotated` gives each such entry `foreign`, the quote it
paid as the payer saw it (`foreign_payments`: the merchant, its city and country, the foreign
amount and currency, the KHR total and the rate), so pages and the receipt show the merchant
abroad rather than the link's account. Only the wallet's own payments are looked up (its
account and the entries' references); an entry of anything else is left as it was.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bakong.crossborder.messages import MINOR_UNITS
from bakong.gateway import db

__all__ = ["annotated", "foreign_of"]


def foreign_of(connection: Connection, account_id: str,
               references: set[str]) -> dict[str, dict[str, Any]]:  # fmt: skip
    """The wallet's foreign payments whose end-to-end ids are in `references`, by that id."""
    if not references:
        return {}
    table = db.foreign_payments
    rows = connection.execute(
        sa.select(table.c.end_to_end_id, table.c.payment_id, table.c.scheme,
                  table.c.merchant_name, table.c.city, table.c.country,
                  table.c.foreign_currency, table.c.foreign_amount, table.c.khr_amount,
                  table.c.rate_text, table.c.state)
        .where(table.c.wallet_account == account_id,
               table.c.end_to_end_id.in_(sorted(references)))
    ).all()  # fmt: skip
    return {
        row.end_to_end_id: {
            "payment_id": row.payment_id, "scheme": row.scheme,
            "merchant_name": row.merchant_name, "city": row.city, "country": row.country,
            "foreign_currency": row.foreign_currency,
            "foreign_amount": int(row.foreign_amount),
            "foreign_exponent": MINOR_UNITS.get(row.foreign_currency, 2),
            "khr_amount": int(row.khr_amount), "rate_text": row.rate_text, "state": row.state,
        }
        for row in rows
    }  # fmt: skip


def annotated(connection: Connection, account_id: str,
              entries: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """`entries` (a history page), each payment out to a foreign merchant with `foreign`."""
    references = {str(entry["reference"]) for entry in entries
                  if entry["direction"] == "out" and entry.get("reference")}  # fmt: skip
    found = foreign_of(connection, account_id, references)
    if not found:
        return entries
    return [
        {**entry, "foreign": found[str(entry["reference"])]}
        if entry["direction"] == "out" and str(entry.get("reference")) in found else entry
        for entry in entries
    ]
