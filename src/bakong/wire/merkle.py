"""Merkle trees over 32-byte leaves, with RFC 6962 (Certificate Transparency) hashing.

    leaf hash  = SHA-256(0x00 || leaf)
    node hash  = SHA-256(0x01 || left || right)
    empty tree = SHA-256("")

A tree of n > 1 leaves splits at k, the largest power of two smaller than n (RFC 6962 2.1).
Inclusion proofs and their verification follow RFC 9162 section 2.1.3. The leaves are already
domain-separated hashes (transaction hashes, result hashes), so the tree needs no prefix of its
own beyond the 0x00/0x01 that keep leaves and nodes apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from bakong import limits
from bakong.types import Hash

__all__ = [
    "empty_root",
    "inclusion_proof",
    "leaf_hash",
    "levels",
    "node_hash",
    "root",
    "verify_inclusion",
]

empty_root = Hash(hashlib.sha256(b"").digest())


def leaf_hash(leaf: bytes) -> Hash:
    return Hash(hashlib.sha256(b"\x00" + leaf).digest())


def node_hash(left: bytes, right: bytes) -> Hash:
    return Hash(hashlib.sha256(b"\x01" + left + right).digest())


def levels(leaves: Sequence[bytes]) -> list[list[Hash]]:
    """Every level of the tree, leaf hashes first and the root alone last.

    Pairing left to right and promoting an odd last node gives the same tree as RFC 6962's
    recursive split at the largest power of two, because every left subtree is complete.
    """
    assert leaves, "an empty tree has no levels; its root is empty_root"
    level: list[Hash] = [leaf_hash(leaf) for leaf in leaves]
    result = [level]
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2 == 1:
            paired.append(level[-1])
        level = paired
        result.append(level)
    return result


def root(leaves: Sequence[bytes]) -> Hash:
    """The Merkle tree hash of `leaves`."""
    if not leaves:
        return empty_root
    return levels(leaves)[-1][0]


def inclusion_proof(tree: Sequence[Sequence[Hash]], index: int) -> list[Hash]:
    """The audit path of leaf `index` in a tree given by `levels()`, innermost sibling first.

    A node promoted unpaired has no sibling at its level, so it adds nothing to the path.
    """
    assert 0 <= index < len(tree[0])
    path: list[Hash] = []
    for level in tree[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index >>= 1
    assert len(path) <= limits.merkle_proof_hashes_max
    return path


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `proof` show `leaf` at `index` in a tree of `tree_size`?"""
    if not (0 <= index < tree_size) or len(proof) > limits.merkle_proof_hashes_max:
        return False
    if any(len(sibling) != 32 for sibling in proof):
        return False
    fn, sn = index, tree_size - 1
    running = leaf_hash(leaf)
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            running = node_hash(sibling, running)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            running = node_hash(running, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and running == expected_root
