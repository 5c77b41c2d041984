"""The console's monitor: a background task that, when the follower has stored new blocks,
evaluates the monitoring rules over their movements (`aml.evaluate_new`) and compares the
settlement accounts with their low-balance thresholds (`liquidity.check_thresholds`).

It polls the store (`limits.console_monitor_interval_s`) rather than hooking the follower, so a
slow rule never holds up the stream, and it keeps its own progress in the store: a console
restarted resumes where the monitor stopped. Thresholds are compared on every pass, so one
set above the balance alerts without waiting for a block. The default rule set is written at
its start when the store has no active set.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from bakong import limits
from bakong.console import aml, liquidity
from bakong.console.home import ConsoleServices
from bakong.errors import DecodeError

__all__ = ["monitor_once", "run_monitor"]

log = logging.getLogger(__name__)


def monitor_once(services: ConsoleServices) -> tuple[int, int]:
    """One pass: (AML alerts raised, low-balance alerts raised)."""
    now_ms = services.clock_ms()
    return (
        aml.evaluate_new(services.engine, now_ms),
        liquidity.check_thresholds(services.engine, now_ms),
    )


async def run_monitor(services: ConsoleServices) -> None:
    """Monitor for ever (module docstring). Cancel the task to stop it."""
    await services.db(aml.ensure_default_rules, services.engine, services.clock_ms())
    while True:
        try:
            await services.db(monitor_once, services)
        except (sa.exc.SQLAlchemyError, DecodeError) as error:
            log.error("the monitor failed; retrying", extra={"error": type(error).__name__})
        await asyncio.sleep(limits.console_monitor_interval_s)
