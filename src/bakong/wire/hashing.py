"""SHA-256 with a domain-separation prefix per record kind and chain (design section 8, rule 5).

Every digest in the system is `SHA-256(prefix || data)` with
`prefix = "bakong/" kind "/" chain_id "\\x00"`. Kinds and chain ids are drawn from
`[a-z0-9-]`, so no prefix is a prefix of another: a transaction hash can never be replayed as a
vote, and a record from a test chain never verifies on the production chain.
"""

from __future__ import annotations

import enum
import hashlib
import re

from bakong import limits
from bakong.types import Hash

__all__ = ["Domain", "chain_id_is_valid", "digest", "prefix"]

_chain_id_pattern = re.compile(r"[a-z0-9][a-z0-9-]*")


class Domain(enum.Enum):
    """Every kind of record that is hashed or signed. Values are frozen: they are on the wire."""

    TRANSACTION = "tx"
    TRANSACTION_SIGNATURE = "tx-sig"
    BLOCK_HEADER = "header"
    RESULT = "result"
    WRITE_SET = "write-set"
    APP_HASH = "app-hash"
    VALIDATOR_SET = "validator-set"
    VOTE = "vote"
    PROPOSAL = "proposal"
    API_REQUEST = "api-request"
    GENESIS = "genesis"
    SNAPSHOT = "snapshot"
    SNAPSHOT_CHUNK = "snapshot-chunk"


def chain_id_is_valid(chain_id: str) -> bool:
    return (
        0 < len(chain_id) <= limits.chain_id_chars_max
        and _chain_id_pattern.fullmatch(chain_id) is not None
    )


# Keyed by the domain's value: hashing an Enum member runs Python code, a str does not.
_prefix_cache: dict[tuple[str, str], bytes] = {}


def prefix(domain: Domain, chain_id: str) -> bytes:
    """The domain-separation prefix for `domain` on `chain_id`."""
    key = (domain._value_, chain_id)
    cached = _prefix_cache.get(key)
    if cached is not None:
        return cached
    assert chain_id_is_valid(chain_id), chain_id
    value = b"bakong/" + domain.value.encode() + b"/" + chain_id.encode() + b"\x00"
    if len(_prefix_cache) < 1024:
        _prefix_cache[key] = value
    return value


def digest(domain: Domain, chain_id: str, data: bytes) -> Hash:
    """SHA-256 of `data` under the domain-separation prefix."""
    return Hash(hashlib.sha256(prefix(domain, chain_id) + data).digest())
