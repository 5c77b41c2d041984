"""The supervision figures of the last hour, read from the store: the rate of payments per
minute, the approval rate, and the declines by result code per participant.

A payment is a `transfer` command or a `post` of a hold (the money of a two-phase payment
moves then): a `movements` row of kind `transfer` or `hold_posted`, ok or not (a failed
transaction's rows keep its result code). It is counted for the participant whose account
pays (`source_participant`); the approval rate is its ok payments over all of them.
The window is `limits.console_supervision_window_ms`, in whole minutes of block time, ending
at the minute of `now_ms`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.console import store
from bakong.console.movements import MovementKind

__all__ = ["MS_PER_MINUTE", "ParticipantFigures", "Supervision", "supervision"]

MS_PER_MINUTE = 60_000
PAYMENT_KINDS = (MovementKind.transfer.value, MovementKind.hold_posted.value)


@dataclass(frozen=True)
class ParticipantFigures:
    participant: str
    payments: int
    approved: int
    declines: dict[str, int]  # result code -> count

    @property
    def approval_percent(self) -> float | None:
        return None if not self.payments else 100 * self.approved / self.payments


@dataclass(frozen=True)
class Supervision:
    since_ms: int
    per_minute: list[tuple[int, int, int]]  # minute start (ms), approved, declined; oldest first
    participants: list[ParticipantFigures]  # by code

    @property
    def payments(self) -> int:
        return sum(row.payments for row in self.participants)

    @property
    def approved(self) -> int:
        return sum(row.approved for row in self.participants)

    @property
    def approval_percent(self) -> float | None:
        return None if not self.payments else 100 * self.approved / self.payments

    @property
    def peak(self) -> int:
        return max((ok + declined for _, ok, declined in self.per_minute), default=0)


def supervision(engine: Engine, now_ms: int) -> Supervision:
    """The figures of the window ending at `now_ms` (module rules)."""
    minutes = limits.console_supervision_window_ms // MS_PER_MINUTE
    until_ms = now_ms - now_ms % MS_PER_MINUTE + MS_PER_MINUTE
    since_ms = until_ms - minutes * MS_PER_MINUTE
    moves = store.movements
    minute = (moves.c.time_ms - moves.c.time_ms % MS_PER_MINUTE).label("minute")
    ok = (moves.c.result == "ok").label("ok")
    window = sa.and_(
        moves.c.kind.in_(PAYMENT_KINDS), moves.c.time_ms >= since_ms, moves.c.time_ms < until_ms
    )
    with engine.connect() as connection:
        by_minute = connection.execute(
            sa.select(minute, ok, sa.func.count()).where(window).group_by(minute, ok)
        ).all()
        by_result = connection.execute(
            sa.select(moves.c.source_participant, moves.c.result, sa.func.count())
            .where(window)
            .group_by(moves.c.source_participant, moves.c.result)
        ).all()
    counts: dict[int, list[int]] = {since_ms + i * MS_PER_MINUTE: [0, 0] for i in range(minutes)}
    for start, approved, count in by_minute:
        counts[int(start)][0 if approved else 1] += int(count)
    figures: dict[str, tuple[int, int, dict[str, int]]] = {}
    for participant, result, count in by_result:
        payments, approved_count, declines = figures.get(participant, (0, 0, {}))
        if result == "ok":
            approved_count += int(count)
        else:
            declines[result] = int(count)
        figures[participant] = (payments + int(count), approved_count, declines)
    return Supervision(
        since_ms,
        [(start, ok_count, declined) for start, (ok_count, declined) in counts.items()],
        [ParticipantFigures(code, *figures[code]) for code in sorted(figures)],
    )
