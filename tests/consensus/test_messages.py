"""Signed proposals and votes: signing, domain separation, canonical decoding."""

from __future__ import annotations

import msgspec
import pytest

from bakong.consensus.messages import (
    Proposal,
    ProposalBody,
    Vote,
    VoteBody,
    VoteType,
    decode_proposal,
    decode_vote,
    proposal_sign_bytes,
    verify_proposal,
    verify_vote,
    vote_sign_bytes,
)
from bakong.errors import DecodeError, RemoteError
from bakong.wire.codec import encode
from bakong.wire.hashing import Domain, prefix

from .helpers import CHAIN, keys, precommit, prevote, proposal, value

KEY = keys(1)[0]
V = value("a")


def test_vote_round_trip() -> None:
    for vote in (prevote(KEY, 5, 2, V), precommit(KEY, 5, 2, None)):
        assert verify_vote(CHAIN, vote)
        assert decode_vote(CHAIN, encode(vote)) == vote


def test_proposal_round_trip() -> None:
    signed = proposal(KEY, 5, 3, V, pol_round=1)
    assert verify_proposal(CHAIN, signed)
    assert decode_proposal(CHAIN, encode(signed)) == signed


def test_signatures_are_domain_separated() -> None:
    body = VoteBody(VoteType.PRECOMMIT, 1, 0, V.id)
    assert vote_sign_bytes(CHAIN, body).startswith(prefix(Domain.VOTE, CHAIN))
    assert vote_sign_bytes(CHAIN, body).endswith(encode(body))
    proposal_body = ProposalBody(1, 0, V.id, -1)
    assert proposal_sign_bytes(CHAIN, proposal_body).startswith(prefix(Domain.PROPOSAL, CHAIN))
    # A vote signed for one chain does not verify on another.
    assert not verify_vote("bakong-other", prevote(KEY, 1, 0, V))
    with pytest.raises(RemoteError) as raised:
        decode_vote("bakong-other", encode(prevote(KEY, 1, 0, V)))
    assert raised.value.code == "signature_invalid"


@pytest.mark.parametrize(
    "field, changed",
    [("type", VoteType.PRECOMMIT), ("height", 6), ("round", 1), ("value_id", None)],
)
def test_every_vote_field_is_signed(field: str, changed: object) -> None:
    vote = prevote(KEY, 5, 0, V)
    forged = msgspec.structs.replace(vote, **{field: changed})
    assert not verify_vote(CHAIN, forged)
    with pytest.raises(RemoteError):
        decode_vote(CHAIN, encode(forged))


@pytest.mark.parametrize(
    "field, changed", [("height", 6), ("round", 4), ("value_id", value("b").id), ("pol_round", 0)]
)
def test_every_proposal_field_is_signed(field: str, changed: object) -> None:
    signed = proposal(KEY, 5, 3, V, pol_round=1)
    forged = msgspec.structs.replace(signed, **{field: changed})
    assert not verify_proposal(CHAIN, forged)
    with pytest.raises(RemoteError):
        decode_proposal(CHAIN, encode(forged))


def test_malformed_votes_are_refused() -> None:
    good = prevote(KEY, 5, 0, V)
    cases = [
        msgspec.structs.replace(good, value_id=b"short"),
        msgspec.structs.replace(good, round=-1),
        msgspec.structs.replace(good, validator=b"\x01" * 31),
        msgspec.structs.replace(good, signature=b"\x01" * 63),
    ]
    for bad in cases:
        assert not verify_vote(CHAIN, bad)
        with pytest.raises(DecodeError):
            decode_vote(CHAIN, encode(bad))


def test_proposal_pol_round_is_below_its_round() -> None:
    good = proposal(KEY, 5, 3, V, pol_round=2)
    for pol_round in (3, 4, -2):
        bad = msgspec.structs.replace(good, pol_round=pol_round)
        assert not verify_proposal(CHAIN, bad)
        with pytest.raises(DecodeError) as raised:
            decode_proposal(CHAIN, encode(bad))
        assert raised.value.code == "proposal_malformed"


def test_non_canonical_and_oversized_bytes_are_refused() -> None:
    data = encode(prevote(KEY, 5, 0, V))
    with pytest.raises(DecodeError) as raised:
        decode_vote(CHAIN, data + b"\x00")
    assert raised.value.code == "malformed"
    with pytest.raises(DecodeError) as raised:
        decode_vote(CHAIN, b"\x00" * 1000)
    assert raised.value.code == "oversized"
    # The same vote with its height written as a 64-bit integer decodes but is not canonical.
    fields = msgspec.msgpack.decode(data)
    assert fields[1] == 5
    wider = b"\x96" + msgspec.msgpack.encode(fields[0]) + b"\xcf" + (5).to_bytes(8, "big")
    wider += b"".join(msgspec.msgpack.encode(field) for field in fields[2:])
    assert msgspec.msgpack.decode(wider, type=Vote) == msgspec.msgpack.decode(data, type=Vote)
    with pytest.raises(DecodeError) as raised:
        decode_vote(CHAIN, wider)
    assert raised.value.code == "non_canonical"


def test_a_proposal_decodes_with_a_large_value() -> None:
    big = b"x" * 100_000
    signed = proposal(KEY, 1, 0, msgspec.structs.replace(V, data=big))
    assert isinstance(decode_proposal(CHAIN, encode(signed)), Proposal)
