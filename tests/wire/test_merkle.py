"""Merkle trees: RFC 6962 roots (checked against the recursive definition) and proofs."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from bakong.wire import merkle


def _rfc6962_root(leaves: list[bytes]) -> bytes:
    """The recursive definition of RFC 6962 section 2.1, as written there."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    left, right = _rfc6962_root(leaves[:k]), _rfc6962_root(leaves[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(n)]


def test_roots_match_the_rfc_definition() -> None:
    for n in range(0, 70):
        assert merkle.root(_leaves(n)) == _rfc6962_root(_leaves(n))


def test_every_proof_verifies_and_tampering_fails() -> None:
    for n in range(1, 40):
        leaves = _leaves(n)
        tree = merkle.levels(leaves)
        root = merkle.root(leaves)
        for index in range(n):
            proof = merkle.inclusion_proof(tree, index)
            assert merkle.verify_inclusion(leaves[index], index, n, proof, root)
            assert not merkle.verify_inclusion(b"\x00" * 32, index, n, proof, root)
            if n > 1:
                other = (index + 1) % n
                assert not merkle.verify_inclusion(leaves[index], other, n, proof, root)
            if proof:
                broken = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
                assert not merkle.verify_inclusion(leaves[index], index, n, broken, root)


@given(st.integers(min_value=1, max_value=300), st.data())
def test_proofs_verify_for_any_size(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = merkle.inclusion_proof(merkle.levels(leaves), index)
    assert merkle.verify_inclusion(leaves[index], index, n, proof, merkle.root(leaves))


def test_malformed_proofs_are_refused() -> None:
    leaves = _leaves(4)
    root = merkle.root(leaves)
    proof = merkle.inclusion_proof(merkle.levels(leaves), 1)
    assert not merkle.verify_inclusion(leaves[1], 1, 4, [*proof, proof[0]], root)
    assert not merkle.verify_inclusion(leaves[1], 1, 4, [b"short"], root)
    assert not merkle.verify_inclusion(leaves[1], 4, 4, proof, root)
    assert not merkle.verify_inclusion(leaves[1], -1, 4, proof, root)
