"""Conformance vectors for signing and hashing, so an SDK in another language can prove that it
encodes, hashes and signs exactly as the ledger does.

`python -m tests.vectors.wire_vectors > tests/vectors/wire.json` regenerates the file;
`tests/wire/test_vectors.py` checks that the code still produces it byte for byte. Every input
is fixed: seeds are spelled out, times and nonces are constants.
"""

from __future__ import annotations

import json
from typing import Any

from bakong.ledger.assets import Asset
from bakong.ledger.block import BlockHeader, SnapshotRoot, block_hash
from bakong.ledger.commands import (
    CreateAccount,
    Issue,
    PlaceHold,
    RegisterAlias,
    Transfer,
)
from bakong.ledger.commit import Commit, CommitSignature
from bakong.ledger.records import AccountKind, KycTier
from bakong.ledger.transaction import (
    TransactionPayload,
    sign_transaction,
    signing_message,
    transaction_hash,
)
from bakong.wire import merkle
from bakong.wire.codec import encode
from bakong.wire.hashing import Domain, digest, prefix
from bakong.wire.keys import SigningKey

CHAIN_ID = "bakong-vectors"
SEEDS = [
    bytes(32),
    bytes(range(32)),
    bytes([0xFF] * 32),
    bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
]


def _key(index: int) -> SigningKey:
    return SigningKey(SEEDS[index])


def _payloads() -> list[tuple[str, TransactionPayload, list[int]]]:
    transfer = Transfer(
        source="sokha_chan@aclb",
        target="coffee_klaing@abaa",
        asset=Asset.USD,
        amount=450,
        memo="iced latte ☕ ការទូទាត់",
        reference="5d41402abc4b2a76b9719d911017c592",
        external_ref="",
    )
    return [
        (
            "transfer",
            TransactionPayload(
                chain_id=CHAIN_ID,
                creator="sokha_chan@aclb",
                created_ms=1_767_225_600_000,
                nonce=1,
                commands=(transfer,),
            ),
            [0],
        ),
        (
            "transfer_multisig",
            TransactionPayload(
                chain_id=CHAIN_ID,
                creator="sokha_chan@aclb",
                created_ms=1_767_225_600_001,
                nonce=2**63 - 1,
                commands=(transfer,),
            ),
            [1, 2],
        ),
        (
            "issue_by_central_bank",
            TransactionPayload(
                chain_id=CHAIN_ID,
                creator="nbc",
                created_ms=1_767_225_600_002,
                nonce=3,
                commands=(
                    Issue(
                        account="settlement@aclb",
                        asset=Asset.KHR,
                        amount=200_000_000_000,
                        reserve_ref="NBC-2026-0001",
                    ),
                ),
            ),
            [3],
        ),
        (
            "participant_batch",
            TransactionPayload(
                chain_id=CHAIN_ID,
                creator="aclb",
                created_ms=1_767_225_600_003,
                nonce=4,
                commands=(
                    CreateAccount(
                        account="dara@aclb",
                        kind=AccountKind.personal,
                        tier=KycTier.basic,
                        signatories=(_key(0).public_key,),
                        quorum=1,
                    ),
                    RegisterAlias(
                        alias=digest(Domain.TRANSACTION, CHAIN_ID, b"+85512345678"),
                        account="dara@aclb",
                    ),
                ),
            ),
            [1],
        ),
        (
            "hold",
            TransactionPayload(
                chain_id=CHAIN_ID,
                creator="sokha_chan@aclb",
                created_ms=1_767_225_600_004,
                nonce=5,
                commands=(
                    PlaceHold(
                        hold_id=bytes(range(16)),
                        source="sokha_chan@aclb",
                        target="link@lapnet",
                        poster="link@lapnet",
                        asset=Asset.KHR,
                        amount=-1,
                        expires_ms=1_767_226_200_000,
                        memo="",
                        reference="",
                    ),
                ),
            ),
            [0],
        ),
    ]


def _transactions() -> list[dict[str, Any]]:
    vectors = []
    for name, payload, signers in _payloads():
        tx_hash = transaction_hash(payload)
        signed = sign_transaction(payload, [_key(i) for i in signers])
        vectors.append(
            {
                "name": name,
                "signer_seeds": [SEEDS[i].hex() for i in signers],
                "payload": encode(payload).hex(),
                "tx_hash": tx_hash.hex(),
                "signing_message": signing_message(CHAIN_ID, tx_hash).hex(),
                "signatures": [
                    {"public_key": e.public_key.hex(), "signature": e.signature.hex()}
                    for e in signed.signatures
                ],
                "transaction": encode(signed).hex(),
            }
        )
    return vectors


def _header() -> dict[str, Any]:
    commit = Commit(
        height=6,
        round=1,
        block_hash=bytes([7] * 32),
        signatures=(CommitSignature(validator=_key(0).public_key, signature=bytes([9] * 64)),),
    )
    header = BlockHeader(
        chain_id=CHAIN_ID,
        height=7,
        time_ms=1_767_225_607_000,
        proposer=_key(1).public_key,
        previous_hash=bytes([1] * 32),
        tx_root=bytes([2] * 32),
        result_root=bytes([3] * 32),
        app_hash=bytes([4] * 32),
        validators_hash=bytes([5] * 32),
        snapshot=SnapshotRoot(height=5, root=bytes([6] * 32)),
        last_commit=commit,
    )
    return {"header": encode(header).hex(), "block_hash": block_hash(header).hex()}


def _merkle() -> list[dict[str, Any]]:
    vectors = []
    for size in (0, 1, 2, 3, 4, 5, 7, 8, 13):
        leaves = [digest(Domain.TRANSACTION, CHAIN_ID, bytes([i])) for i in range(size)]
        entry: dict[str, Any] = {
            "leaves": [leaf.hex() for leaf in leaves],
            "root": merkle.root(leaves).hex(),
            "proofs": [],
        }
        if leaves:
            tree = merkle.levels(leaves)
            for index in sorted({0, size // 2, size - 1}):
                proof = merkle.inclusion_proof(tree, index)
                entry["proofs"].append({"index": index, "path": [node.hex() for node in proof]})
        vectors.append(entry)
    return vectors


def build() -> dict[str, Any]:
    return {
        "description": (
            "bakong wire conformance vectors: canonical msgpack, domain-separated SHA-256, "
            "Ed25519, RFC 6962 Merkle trees. See docs/wire.md."
        ),
        "chain_id": CHAIN_ID,
        "keys": [
            {"seed": seed.hex(), "public_key": SigningKey(seed).public_key.hex()} for seed in SEEDS
        ],
        "domain_prefixes": {domain.value: prefix(domain, CHAIN_ID).hex() for domain in Domain},
        "transactions": _transactions(),
        "block_header": _header(),
        "merkle": _merkle(),
    }


if __name__ == "__main__":
    print(json.dumps(build(), indent=2, ensure_ascii=False))
