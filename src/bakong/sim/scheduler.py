"""The event queue on the simulated clock, and the trace hash of a run.

Events are kept in a heap ordered by (time in ms, sequence number): two events at the same
millisecond run in the order they were scheduled, so a run is a pure function of its seed.
Every event the run processes is described by one line of text, and the trace hash is SHA-256
over those lines in order: two runs of one seed must print the same hash.
"""

from __future__ import annotations

import hashlib
import heapq
from typing import Generic, TypeVar

__all__ = ["Scheduler"]

E = TypeVar("E")


class Scheduler(Generic[E]):
    """A min-heap of (at_ms, sequence, event), a clock that only moves forward, and a trace."""

    def __init__(self, events_max: int) -> None:
        assert events_max > 0
        self.now_ms = 0
        self.events = 0
        self.events_max = events_max
        self._queue: list[tuple[int, int, E]] = []
        self._sequence = 0
        self._trace = hashlib.sha256()
        self.lines: list[str] | None = None  # set to a list to keep the trace's text (debugging)

    def after(self, delay_ms: int, event: E) -> None:
        """Schedule `event` `delay_ms` from now."""
        assert delay_ms >= 0, delay_ms
        self._sequence += 1
        heapq.heappush(self._queue, (self.now_ms + delay_ms, self._sequence, event))

    def pop(self) -> E | None:
        """The next event, with the clock moved to its time; None when nothing is left."""
        if not self._queue:
            return None
        at_ms, _, event = heapq.heappop(self._queue)
        assert at_ms >= self.now_ms, "the simulated clock never goes back"
        self.now_ms = at_ms
        self.events += 1
        return event

    def __len__(self) -> int:
        return len(self._queue)

    def record(self, line: str) -> None:
        """Add one line to the trace, stamped with the current time."""
        stamped = b"%d %s\n" % (self.now_ms, line.encode())
        self._trace.update(stamped)
        if self.lines is not None:
            self.lines.append(stamped.decode())

    def trace_hash(self) -> str:
        return self._trace.hexdigest()
