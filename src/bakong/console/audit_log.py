"""The console's audit log: every sign-in, proposal, approval, rejection and result, for ever.

Rules:
- `record` appends one entry in the caller's database transaction, so an act and its entry
  commit together or not at all. An entry names the staff member (id and login name; none for
  what the console itself did, such as finishing an approved command when its block arrives),
  the action, the proposal it concerns, a detail without personal data (`issue 1,000.00 USD to
  settlement@aclb`) and the time.
- The table is append-only: triggers refuse UPDATE and DELETE on SQLite and PostgreSQL
  (migration 0001), so not even the console's own code can rewrite it.
- Auditors, supervisors and operators read it (`entries`), newest first, a page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bakong.console import store

__all__ = ["CONSOLE", "Entry", "entries", "record"]

CONSOLE = "console"  # the name of entries no person made


@dataclass(frozen=True)
class Entry:
    id: int
    staff_name: str
    action: str
    proposal_id: int | None
    detail: str
    time_ms: int


def record(
    connection: Connection,
    staff: tuple[int, str] | None,
    action: str,
    detail: str,
    *,
    now_ms: int,
    proposal_id: int | None = None,
) -> None:
    """Append one entry (`staff` is (id, login name), None for the console itself)."""
    staff_id, name = staff if staff is not None else (None, CONSOLE)
    connection.execute(
        store.audit_log.insert().values(
            staff_id=staff_id, staff_name=name, action=action, proposal_id=proposal_id,
            detail=detail, time_ms=now_ms,
        )
    )  # fmt: skip


def entries(engine: Engine, limit: int, before: int | None = None) -> list[Entry]:
    """Up to `limit` entries older than id `before` (all when None), newest first."""
    log = store.audit_log
    query = sa.select(log).order_by(log.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(log.c.id < before)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        Entry(row.id, row.staff_name, row.action, row.proposal_id, row.detail, row.time_ms)
        for row in rows
    ]
