"""Domain separation: the same bytes hash differently per record kind and per chain."""

from __future__ import annotations

import hashlib

import pytest

from bakong.wire.hashing import Domain, chain_id_is_valid, digest, prefix


def test_prefix_layout() -> None:
    assert prefix(Domain.TRANSACTION, "bakong-test") == b"bakong/tx/bakong-test\x00"
    expected = hashlib.sha256(b"bakong/vote/main\x00data").digest()
    assert digest(Domain.VOTE, "main", b"data") == expected


def test_domains_and_chains_separate() -> None:
    hashes = {digest(domain, chain, b"x") for domain in Domain for chain in ("a", "b")}
    assert len(hashes) == 2 * len(Domain)
    assert len({domain.value for domain in Domain}) == len(Domain)


@pytest.mark.parametrize("chain_id", ["", "UPPER", "with space", "a/b", "-lead", "x" * 33])
def test_invalid_chain_ids(chain_id: str) -> None:
    assert not chain_id_is_valid(chain_id)
