"""The genesis file format: round trip, refusal of bad files, and the state it produces."""

from __future__ import annotations

import msgspec
import pytest

from bakong.errors import ConfigError
from bakong.ledger.genesis import decode_genesis, encode_genesis, genesis_hash, genesis_state
from bakong.ledger.invariants import check_store
from bakong.ledger.records import Account, AccountKind
from bakong.ledger.state import account_key, decode_value
from bakong.sandbox import Sandbox


def test_round_trip_and_state() -> None:
    genesis = Sandbox().genesis
    data = encode_genesis(genesis)
    assert decode_genesis(data) == genesis
    state, store = genesis_state(genesis)
    check_store(store.items())
    treasury = decode_value(
        account_key("treasury@nbc"), store.get(account_key("treasury@nbc")) or b""
    )
    assert isinstance(treasury, Account) and treasury.kind is AccountKind.treasury
    for code in ("nbc", "aclb", "wing", "abaa"):
        assert store.get(account_key(f"settlement@{code}")) is not None
    assert genesis_state(genesis)[0].app_hash == state.app_hash
    other = msgspec.structs.replace(genesis, chain_id="other-chain")
    assert genesis_state(other)[0].app_hash != state.app_hash
    assert genesis_hash(other) != genesis_hash(genesis)


def _edited(**changes: object) -> bytes:
    document = msgspec.json.decode(encode_genesis(Sandbox().genesis))
    document.update(changes)
    return msgspec.json.encode(document)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b"{" * 10,
        _edited(chain_id="Bad Chain"),
        _edited(validators=[]),
        _edited(unknown_field=1),
        _edited(
            participants=[
                {
                    "code": "nbc",
                    "name": "dup",
                    "admin_keys": ["00" * 32],
                    "admin_quorum": 1,
                    "gateway_keys": [],
                }
            ]
        ),
        _edited(
            participants=[
                {
                    "code": "x1",
                    "name": "bad",
                    "admin_keys": ["00" * 32],
                    "admin_quorum": 1,
                    "gateway_keys": [],
                }
            ]
        ),
        _edited(
            participants=[
                {
                    "code": "good",
                    "name": "q",
                    "admin_keys": ["00" * 32],
                    "admin_quorum": 2,
                    "gateway_keys": [],
                }
            ]
        ),
        _edited(
            participants=[
                {
                    "code": "good",
                    "name": "k",
                    "admin_keys": ["zz"],
                    "admin_quorum": 1,
                    "gateway_keys": [],
                }
            ]
        ),
        _edited(validators=[{"name": "v", "public_key": "00" * 32, "power": 0}]),
        b" " * (5 * 1024 * 1024),
    ],
)
def test_bad_genesis_files_are_refused(data: bytes) -> None:
    with pytest.raises(ConfigError):
        decode_genesis(data)
