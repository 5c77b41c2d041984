"""The packet simulator: every message between validators passes through here.

A packet from one node to another is, at send time: dropped if the two are on different sides
of a partition, dropped with probability `loss`, otherwise delivered after a delay drawn
uniformly from [delay_ms_min, delay_ms_max], plus, with probability `spike`, an extra delay up
to `spike_ms_max` (so later packets overtake it: reordering); with probability `duplicate` a
second copy travels with its own delay. At delivery the run drops it again if a partition now
separates the two nodes or the target is down. A node never sends to itself through here: it
feeds its own messages straight back (the host's contract).

`calm()` is the end of the fault period: partitions heal, nothing is lost or duplicated, and
delays stay within the plan's normal range (partial synchrony, after GST).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bakong.node.envelope import MessageKind

__all__ = ["LinkFaults", "Network", "Packet"]


@dataclass(frozen=True, slots=True)
class Packet:
    """One message on one link. `digest` names it in the trace."""

    source: int
    target: int
    kind: MessageKind
    data: bytes
    digest: str


@dataclass(frozen=True, slots=True)
class LinkFaults:
    delay_ms_min: int
    delay_ms_max: int
    loss: float  # probability a packet is dropped, at most 0.3
    duplicate: float  # probability a packet is delivered twice
    spike: float  # probability of an extra delay (reordering)
    spike_ms_max: int

    def __post_init__(self) -> None:
        assert 0 < self.delay_ms_min <= self.delay_ms_max
        assert 0.0 <= self.loss <= 0.3
        assert 0.0 <= self.duplicate <= 0.5
        assert 0.0 <= self.spike <= 1.0
        assert self.spike_ms_max >= 0


class Network:
    """Links between `size` nodes with the faults of `faults`, driven by the run's PRNG."""

    def __init__(
        self,
        size: int,
        faults: LinkFaults,
        rng: random.Random,
        deliver_after: Callable[[int, Packet], None],
    ) -> None:
        assert size >= 1
        self.size = size
        self.faults = faults
        self.rng = rng
        self._deliver_after = deliver_after  # schedules a delivery on the run's clock
        self.groups: list[int] | None = None  # partition: the side of each node
        self.sent = 0
        self.dropped = 0
        self.duplicated = 0

    def connected(self, source: int, target: int) -> bool:
        return self.groups is None or self.groups[source] == self.groups[target]

    def partition(self, groups: Sequence[int]) -> None:
        assert len(groups) == self.size
        assert len(set(groups)) >= 2, "a partition has at least two sides"
        self.groups = list(groups)

    def heal(self) -> None:
        self.groups = None

    def calm(self) -> None:
        """The faults stop: no loss, duplication or spikes; partitions heal."""
        faults = self.faults
        self.faults = LinkFaults(faults.delay_ms_min, faults.delay_ms_max, 0.0, 0.0, 0.0, 0)
        self.heal()

    def send(
        self, source: int, target: int, kind: MessageKind, data: bytes, digest: str = ""
    ) -> None:
        """Put one packet on the link from `source` to `target` (module rules)."""
        assert source != target, "a node feeds its own messages back itself"
        assert 0 <= target < self.size
        self.sent += 1
        faults, rng = self.faults, self.rng
        if not self.connected(source, target) or rng.random() < faults.loss:
            self.dropped += 1
            return
        packet = Packet(source, target, kind, data, digest or packet_digest(kind, data))
        copies = 2 if rng.random() < faults.duplicate else 1
        self.duplicated += copies - 1
        for _ in range(copies):
            delay = rng.randint(faults.delay_ms_min, faults.delay_ms_max)
            if faults.spike and rng.random() < faults.spike:
                delay += rng.randint(0, faults.spike_ms_max)
            self._deliver_after(delay, packet)

    def broadcast(
        self, source: int, kind: MessageKind, data: bytes, targets: Sequence[int] | None = None
    ) -> None:
        """Send one message to every other node (or to `targets`), in index order."""
        digest = packet_digest(kind, data)
        chosen = range(self.size) if targets is None else sorted(targets)
        for target in chosen:
            if target != source:
                self.send(source, target, kind, data, digest)


def packet_digest(kind: MessageKind, data: bytes) -> str:
    """A short name for a message in the trace: its kind and the start of its SHA-256."""
    return kind + ":" + hashlib.sha256(data).hexdigest()[:16]
