"""The events of a simulated run, each with the one line it adds to the trace.

Node events carry the node's `epoch`: a crash starts a new epoch, so timers and block builds
scheduled before it are dropped when they come due (the process that set them is gone).
"""

from __future__ import annotations

from dataclasses import dataclass

from bakong.consensus.driver import TimeoutElapsed, ValueReady
from bakong.sim.network import Packet

__all__ = [
    "Deliver",
    "Event",
    "FaultTick",
    "Heal",
    "Restart",
    "Submit",
    "Tick",
    "Timer",
    "ValueBuilt",
    "WorkloadTick",
    "describe",
]


@dataclass(frozen=True, slots=True)
class Deliver:
    packet: Packet


@dataclass(frozen=True, slots=True)
class Timer:
    node: int
    epoch: int
    timeout: TimeoutElapsed


@dataclass(frozen=True, slots=True)
class ValueBuilt:
    node: int
    epoch: int
    ready: ValueReady


@dataclass(frozen=True, slots=True)
class Tick:
    """A node's periodic chores: announce its height, sync its disk."""

    node: int


@dataclass(frozen=True, slots=True)
class WorkloadTick:
    pass


@dataclass(frozen=True, slots=True)
class Submit:
    """A gateway's transaction reaching a node's API."""

    node: int
    tx_hash: bytes
    data: bytes


@dataclass(frozen=True, slots=True)
class FaultTick:
    pass


@dataclass(frozen=True, slots=True)
class Heal:
    partition: int  # heals this partition only (a later one has its own Heal)


@dataclass(frozen=True, slots=True)
class Restart:
    node: int


Event = Deliver | Timer | ValueBuilt | Tick | WorkloadTick | Submit | FaultTick | Heal | Restart


def describe(event: Event) -> str:
    """The event's line in the trace (deterministic: integers, hex and fixed names only)."""
    match event:
        case Deliver(packet=packet):
            return f"deliver {packet.source}>{packet.target} {packet.digest}"
        case Timer(node=node, epoch=epoch, timeout=timeout):
            kind = int(timeout.kind)
            return f"timer {node}/{epoch} {kind} {timeout.height}/{timeout.round}"
        case ValueBuilt(node=node, epoch=epoch, ready=ready):
            return f"value {node}/{epoch} {ready.height}/{ready.round} {ready.value.id.hex()}"
        case Tick(node=node):
            return f"tick {node}"
        case WorkloadTick():
            return "workload"
        case Submit(node=node, tx_hash=tx_hash):
            return f"submit {node} {tx_hash.hex()}"
        case FaultTick():
            return "faults"
        case Heal(partition=partition):
            return f"heal {partition}"
        case Restart(node=node):
            return f"restart {node}"
