"""What validators send each other: a message kind and the message, framed for the wire.

Rules:
1. A peer payload is one kind byte followed by the message (`frame`). The bytes are the wire
   format (`MessageKind.code`): a kind is never renumbered, only added.
2. A kind's value is its name in the consensus log, which keeps a validator's own proposals
   and votes (`bakong.node.host` rule 1); the log on disk spells kinds that way.
3. `unframe` answers None for a payload without a known kind byte: the caller scores the peer.
"""

from __future__ import annotations

import enum

__all__ = ["MessageKind", "frame", "unframe"]


class MessageKind(enum.StrEnum):
    PROPOSAL = "proposal"  # a signed `consensus.messages.Proposal`
    VOTE = "vote"  # a signed `consensus.messages.Vote`
    TX = "tx"  # one canonical transaction
    SYNC = "sync"  # a catch-up message (`bakong.node.catchup`)
    TXS = "txs"  # a msgpack array of transactions: how the runtime gossips them
    PROPOSAL_COMPACT = "proposal_compact"  # a `node.compact.CompactProposal`: hashes, no txs
    FETCH_TXS = "fetch_txs"  # a `node.compact.FetchTxs`: transactions a follower lacks
    FETCHED_TXS = "fetched_txs"  # a `node.compact.FetchedTxs`: the answer, their bytes

    @property
    def code(self) -> int:
        """The kind's byte on the wire (rule 1)."""
        return _codes[self]


_codes = {
    MessageKind.PROPOSAL: 1,
    MessageKind.VOTE: 2,
    MessageKind.TX: 3,
    MessageKind.SYNC: 4,
    MessageKind.TXS: 5,
    MessageKind.PROPOSAL_COMPACT: 6,
    MessageKind.FETCH_TXS: 7,
    MessageKind.FETCHED_TXS: 8,
}
_kinds_by_code = {code: kind for kind, code in _codes.items()}
assert len(_kinds_by_code) == len(_codes) == len(MessageKind)


def frame(kind: MessageKind, data: bytes) -> bytes:
    return bytes([kind.code]) + data


def unframe(payload: bytes) -> tuple[MessageKind, bytes] | None:
    """The kind and the message of a peer payload (rule 3)."""
    kind = _kinds_by_code.get(payload[0]) if payload else None
    return None if kind is None else (kind, payload[1:])
