"""The committed conformance vectors still come out of the code byte for byte, and each one
verifies on its own terms (signatures verify, proofs prove, decoding round-trips)."""

from __future__ import annotations

import json
from pathlib import Path

from bakong.ledger.transaction import decode_transaction, transaction_hash
from bakong.wire import merkle
from bakong.wire.keys import SigningKey, verify
from tests.vectors import wire_vectors

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "wire.json"


def test_vectors_are_reproduced_exactly() -> None:
    assert json.loads(VECTORS.read_text()) == wire_vectors.build()


def test_vectors_verify_independently() -> None:
    vectors = json.loads(VECTORS.read_text())
    for key in vectors["keys"]:
        assert SigningKey(bytes.fromhex(key["seed"])).public_key.hex() == key["public_key"]
    for vector in vectors["transactions"]:
        transaction = decode_transaction(bytes.fromhex(vector["transaction"]))
        assert transaction_hash(transaction.payload).hex() == vector["tx_hash"]
        message = bytes.fromhex(vector["signing_message"])
        for entry in vector["signatures"]:
            public_key, signature = (bytes.fromhex(entry[k]) for k in ("public_key", "signature"))
            assert verify(public_key, message, signature)
    for tree in vectors["merkle"]:
        leaves = [bytes.fromhex(leaf) for leaf in tree["leaves"]]
        root = bytes.fromhex(tree["root"])
        for proof in tree["proofs"]:
            path = [bytes.fromhex(node) for node in proof["path"]]
            assert merkle.verify_inclusion(
                leaves[proof["index"]], proof["index"], len(leaves), path, root
            )
