"""The envelope rungs of the validation ladder, each on its own, in order (ladder.py)."""

from __future__ import annotations

import pytest

from bakong.ledger.assets import Asset
from bakong.ledger.commands import SetAccountStatus
from bakong.ledger.records import AccountStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import (
    SignatureEntry,
    Transaction,
    TransactionPayload,
    sign_transaction,
)
from bakong.sandbox import Sandbox, sandbox_key


@pytest.fixture
def chain() -> Sandbox:
    chain = Sandbox()
    chain.commit([chain.transaction("nbc", [chain.issue("aclb", Asset.KHR, 10**9, "r")])])
    chain.commit(
        [
            chain.transaction("aclb", [chain.open_account("sokha@aclb")]),
            chain.transaction("wing", [chain.open_account("dara@wing")]),
            chain.transaction(
                "settlement@aclb",
                [chain.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 1_000_000)],
            ),
        ]
    )
    return chain


def _payload(chain: Sandbox, **changes: object) -> TransactionPayload:
    fields: dict[str, object] = {
        "chain_id": chain.chain_id,
        "creator": "sokha@aclb",
        "created_ms": chain.time_ms,
        "nonce": 99,
        "commands": (chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, 100),),
    }
    fields.update(changes)
    return TransactionPayload(**fields)  # type: ignore[arg-type]


def _code(chain: Sandbox, transaction: Transaction) -> ResultCode:
    return ResultCode(chain.commit([transaction]).results[0].code)


def _signed(chain: Sandbox, *names: str, **changes: object) -> Transaction:
    return sign_transaction(_payload(chain, **changes), [sandbox_key(n) for n in names])


def test_ok(chain: Sandbox) -> None:
    assert _code(chain, _signed(chain, "sokha@aclb")) is ResultCode.ok


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"chain_id": "other-chain"}, ResultCode.chain_id_mismatch),
        ({"created_ms": 10**13}, ResultCode.created_in_future),
        ({"created_ms": 1}, ResultCode.expired),
        ({"creator": "Not An Id"}, ResultCode.creator_invalid),
        ({"creator": "ghost@aclb"}, ResultCode.creator_not_found),
        ({"creator": "zzzz"}, ResultCode.creator_not_found),
    ],
)
def test_envelope_rungs(chain: Sandbox, changes: dict[str, object], expected: ResultCode) -> None:
    assert _code(chain, _signed(chain, "sokha@aclb", **changes)) is expected


def test_future_and_past_edges(chain: Sandbox) -> None:
    block_time = chain.time_ms + chain.block_interval_ms
    edge_future = _signed(chain, "sokha@aclb", created_ms=block_time + 5 * 60_000)
    assert _code(chain, edge_future) is ResultCode.ok
    block_time = chain.time_ms + chain.block_interval_ms
    beyond = _signed(chain, "sokha@aclb", created_ms=block_time + 5 * 60_000 + 1, nonce=2)
    assert _code(chain, beyond) is ResultCode.created_in_future


def test_duplicate_never_applies_twice(chain: Sandbox) -> None:
    transaction = _signed(chain, "sokha@aclb")
    outcome = chain.commit([transaction, transaction])
    assert [ResultCode(r.code) for r in outcome.results] == [
        ResultCode.ok,
        ResultCode.duplicate_transaction,
    ]
    assert _code(chain, transaction) is ResultCode.duplicate_transaction
    account = chain.account("dara@wing")
    assert account is not None and account.balances[0] == 100


def test_resigned_copy_is_still_a_duplicate(chain: Sandbox) -> None:
    """The hash covers the payload, not the signatures: re-signing cannot replay."""
    transaction = _signed(chain, "sokha@aclb")
    assert _code(chain, transaction) is ResultCode.ok
    resigned = sign_transaction(transaction.payload, [sandbox_key("sokha@aclb"), sandbox_key("x")])
    assert _code(chain, resigned) is ResultCode.duplicate_transaction


def test_forged_copy_does_not_block_the_real_one(chain: Sandbox) -> None:
    real = _signed(chain, "sokha@aclb")
    forged = Transaction(
        payload=real.payload,
        signatures=(
            SignatureEntry(public_key=real.signatures[0].public_key, signature=b"\1" * 64),
        ),
    )
    assert _code(chain, forged) is ResultCode.signature_invalid
    assert _code(chain, real) is ResultCode.ok


def test_signature_rungs(chain: Sandbox) -> None:
    assert _code(chain, _signed(chain, "dara@wing")) is ResultCode.signature_key_not_signatory
    unsigned = Transaction(payload=_payload(chain, nonce=5), signatures=())
    assert _code(chain, unsigned) is ResultCode.signature_quorum_not_met
    one = _signed(chain, "sokha@aclb", nonce=6)
    doubled = Transaction(payload=one.payload, signatures=(one.signatures[0], one.signatures[0]))
    assert _code(chain, doubled) is ResultCode.signature_duplicate_key


def test_creator_not_active(chain: Sandbox) -> None:
    freeze = SetAccountStatus(account="sokha@aclb", status=AccountStatus.frozen)
    chain.commit([chain.transaction("nbc", [freeze])])
    assert _code(chain, _signed(chain, "sokha@aclb")) is ResultCode.creator_not_active


def test_rejected_transaction_changes_nothing_but_is_recorded(chain: Sandbox) -> None:
    too_much = chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, 10**12)
    fine = chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, 5)
    before = chain.account("sokha@aclb")
    outcome = chain.commit([chain.transaction("sokha@aclb", [fine, too_much])])
    result = outcome.results[0]
    assert ResultCode(result.code) is ResultCode.daily_limit_exceeded
    assert result.command_index == 1
    assert chain.account("sokha@aclb") == before
    assert not [key for key, _ in outcome.write_set if key.startswith(b"a/")]


def test_bad_transaction_bytes_get_typed_decode_errors(chain: Sandbox) -> None:
    from bakong import limits
    from bakong.errors import DecodeError
    from bakong.ledger.transaction import decode_transaction
    from bakong.wire.codec import encode

    data = encode(_signed(chain, "sokha@aclb"))
    assert decode_transaction(data).payload.creator == "sokha@aclb"
    long_memo = chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, 1, memo="m" * 65)
    cases = {
        "oversized": b"\x92" + bytes(limits.tx_bytes_max),
        "non_canonical": data[:-66] + b"\xc5\x00\x40" + data[-64:],  # bin16, not bin8
        "malformed": data[:-1],
    }
    for code, bad in cases.items():
        with pytest.raises(DecodeError) as error:
            decode_transaction(bad)
        assert error.value.code == code
    with pytest.raises(DecodeError):
        decode_transaction(encode(_signed(chain, "sokha@aclb", commands=(long_memo,))))
