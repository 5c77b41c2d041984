"""The node's signature-check counter, which `bakong bench network` reads from `/metrics` to
split a validator's CPU per transfer into signature checks and the rest.

Every Ed25519 check counts once, where it runs: in this process (`keys.signature_checks`),
or in the verifier pool's worker processes (`VerifierPool.signature_checks` adds theirs).
A check the cache answers, or an input refused before any check, does not count.
"""

from __future__ import annotations

import asyncio

from bakong.node.verifier import SignatureCheck, VerifierPool
from bakong.wire import keys
from bakong.wire.keys import SigningKey, VerifiedSignatures

KEY = SigningKey(bytes(range(32)))


def _checks(count: int) -> list[SignatureCheck]:
    messages = [b"transfer %d" % n for n in range(count)]
    return [(KEY.public_key, message, KEY.sign(message)) for message in messages]


def test_each_check_counts_once_and_a_refused_input_not_at_all() -> None:
    (public_key, message, signature), = _checks(1)  # fmt: skip
    before = keys.signature_checks()
    assert keys.verify(public_key, message, signature)
    assert not keys.verify(public_key, b"another message", signature)  # a failed check counts
    assert not keys.verify(public_key[:31], message, signature)  # refused before any check
    assert keys.signature_checks() == before + 2


def test_the_cache_counts_only_its_misses() -> None:
    cache = VerifiedSignatures(entries_max=4)
    checks = _checks(2)
    before = keys.signature_checks()
    for _ in range(3):
        assert all(cache.verify(*check) for check in checks)
    assert keys.signature_checks() == before + 2
    cache.remember(*_checks(3)[2])  # verified elsewhere: nothing runs here
    assert keys.signature_checks() == before + 2


def test_the_pool_counts_inline_checks_and_its_workers_checks() -> None:
    inline = VerifierPool(0)
    before = inline.signature_checks()
    assert asyncio.run(inline.verify(_checks(3))) == [True] * 3
    assert inline.signature_checks() == before + 3

    pooled = VerifierPool(1)
    try:
        own_before = keys.signature_checks()
        before = pooled.signature_checks()
        forged = [(KEY.public_key, b"forged", KEY.sign(b"other"))]
        assert asyncio.run(pooled.verify(_checks(4) + forged)) == [True] * 4 + [False]
        assert pooled.signature_checks() == before + 5
        assert keys.signature_checks() == own_before  # they ran in the worker
    finally:
        pooled.close()
