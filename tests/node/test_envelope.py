"""The peer envelope: the kind byte of each message kind is the wire format the runtime has
always sent (rule 1), and the log spelling of each kind is what the store has always kept."""

from __future__ import annotations

import pytest

from bakong.node.envelope import MessageKind, frame, unframe
from bakong.wire.codec import encode

WIRE = {
    MessageKind.PROPOSAL: b"\x01",
    MessageKind.VOTE: b"\x02",
    MessageKind.TX: b"\x03",
    MessageKind.SYNC: b"\x04",
    MessageKind.TXS: b"\x05",
    MessageKind.PROPOSAL_COMPACT: b"\x06",
    MessageKind.FETCH_TXS: b"\x07",
    MessageKind.FETCHED_TXS: b"\x08",
}


@pytest.mark.parametrize("kind", list(MessageKind))
def test_each_kind_frames_to_its_fixed_byte_and_back(kind: MessageKind) -> None:
    payload = frame(kind, b"message")
    assert payload == WIRE[kind] + b"message"
    assert unframe(payload) == (kind, b"message")
    assert unframe(frame(kind, b"")) == (kind, b"")


def test_a_payload_without_a_known_kind_byte_unframes_to_none() -> None:
    for payload in (b"", b"\x00", b"\x09message", b"\xffmessage"):
        assert unframe(payload) is None


def test_the_log_spells_kinds_as_it_always_did() -> None:
    assert [kind.value for kind in MessageKind] == [
        "proposal",
        "vote",
        "tx",
        "sync",
        "txs",
        "proposal_compact",
        "fetch_txs",
        "fetched_txs",
    ]
    assert encode([MessageKind.VOTE, b"m"]) == encode(["vote", b"m"])
