"""The SDK's transaction builders against the real ledger and the conformance vectors.

Every one of the 20 commands is built with `bakong.client`, signed with real keys and executed
by the real ledger (a `Sandbox` chain); each must come back `ok`. The vectors in
`tests/vectors/wire.json` must come out of the builders byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakong import client
from bakong.client import (
    Asset,
    KycTier,
    TransactionBuilder,
    add_signatory,
    add_validator,
    alias_hash,
    cosign,
    create_account,
    hold,
    hold_id_for,
    issue,
    post,
    redeem,
    register_alias,
    register_participant,
    remove_alias,
    remove_signatory,
    remove_validator,
    replace_signatories,
    set_account_status,
    set_kyc_tier,
    set_limits,
    set_participant_endpoint,
    set_quorum,
    sign,
    transfer,
    update_participant,
    void,
)
from bakong.errors import LocalError
from bakong.ledger.commands import COMMAND_TYPES, Command
from bakong.ledger.policy import DEFAULT_POLICY
from bakong.ledger.records import AccountStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.transaction import (
    Transaction,
    decode_transaction,
    signing_message,
    transaction_hash,
)
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire.codec import encode
from bakong.wire.keys import SigningKey, verify

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "wire.json"
ALIAS_KEY = b"shared alias key, out of band"
PHONE = "+85512345678"


class Bank:
    """A Sandbox chain driven only through the SDK's builders."""

    def __init__(self) -> None:
        self.chain = Sandbox()
        self.nonce = 0
        self.used: set[type[Command]] = set()

    def tx(self, creator: str, *commands: Command) -> TransactionBuilder:
        self.nonce += 1
        self.used.update(type(command) for command in commands)
        builder = TransactionBuilder(
            chain_id=self.chain.chain_id,
            creator=creator,
            created_ms=self.chain.time_ms,
            nonce=self.nonce,
        )
        return builder.add(*commands)

    def run(self, *transactions: Transaction) -> list[ResultCode]:
        outcome = self.chain.commit(list(transactions))
        return [ResultCode(result.code) for result in outcome.results]


def key(name: str) -> SigningKey:
    return sandbox_key(name)


def test_every_command_built_by_the_sdk_is_accepted_by_the_ledger() -> None:
    bank = Bank()
    nbc, aclb, wing = key("nbc/admin"), key("aclb/admin"), key("wing/admin")
    sokha, sokha_2, shop, dara = key("sokha@aclb"), key("sokha-2"), key("shop@aclb"), key("dara")
    phone = alias_hash(ALIAS_KEY, PHONE)
    now = bank.chain.time_ms
    order, refund = hold_id_for("sokha@aclb", "order-1"), hold_id_for("sokha@aclb", "order-2")

    # One transaction per participant touched (`participants_mixed` otherwise).
    governance = [
        bank.tx(
            "nbc",
            issue("settlement@aclb", Asset.KHR, 10_000_000, "reserve-1"),
            issue("settlement@aclb", "USD", 500_00, "reserve-2"),
        ),
        bank.tx(
            "nbc",
            register_participant("newb", "New Bank", [key("newb/admin")], gateway_keys=[key("gw")]),
        ),
        bank.tx(
            "nbc",
            add_validator("validator-2", key("validator-2"), power=2),
            set_limits(DEFAULT_POLICY),
        ),
        bank.tx("nbc", set_participant_endpoint("newb", "https://gateway.newb.example:8443")),
    ]
    assert bank.run(*(tx.sign(nbc) for tx in governance)) == [ResultCode.ok] * 4
    rotation = [
        bank.tx(
            "nbc",
            update_participant("newb", "New Bank Plc", [key("newb/admin-2")], status="active"),
        ),
        bank.tx("nbc", remove_validator(key("validator-2").public_key)),
        bank.tx("nbc", redeem("settlement@aclb", Asset.KHR, 1_000, "reserve-3")),
    ]
    assert bank.run(*(tx.sign(nbc) for tx in rotation)) == [ResultCode.ok] * 3

    onboarding = bank.tx(
        "aclb",
        create_account("sokha@aclb", [sokha], tier=KycTier.full),
        create_account("shop@aclb", [shop.public_key], kind="merchant", tier=2),
        register_alias(phone, "sokha@aclb"),
        set_kyc_tier("shop@aclb", KycTier.partial),
    )
    funding = bank.tx(
        "settlement@aclb", transfer("settlement@aclb", "sokha@aclb", "KHR", 1_000_000)
    )
    other_bank = bank.tx("wing", create_account("dara@wing", [dara]))
    assert (
        bank.run(onboarding.sign(aclb), funding.sign(aclb), other_bank.sign(wing))
        == [ResultCode.ok] * 3
    )

    multisig = bank.tx(
        "sokha@aclb",
        add_signatory("sokha@aclb", sokha_2),
        set_quorum("sokha@aclb", 2),
        hold(
            order,
            "sokha@aclb",
            "shop@aclb",
            "KHR",
            50_000,
            expires_ms=now + 3_600_000,
            poster="shop@aclb",
            reference="order-1",
        ),
        hold(refund, "sokha@aclb", "shop@aclb", Asset.KHR, 20_000, expires_ms=now + 3_600_000),
    )
    assert bank.run(multisig.sign(sokha)) == [ResultCode.ok]

    posting = bank.tx("shop@aclb", post(order, 40_000))
    payment = bank.tx(
        "sokha@aclb",
        transfer("sokha@aclb", "dara@wing", "KHR", 7_000, memo="noodles", external_ref="x-1"),
    )
    cleanup = bank.tx(
        "sokha@aclb",
        void(refund),
        set_quorum("sokha@aclb", 1),
        remove_signatory("sokha@aclb", sokha_2),
    )
    half_signed = payment.sign(sokha)
    assert bank.run(half_signed) == [ResultCode.signature_quorum_not_met]
    assert (
        bank.run(posting.sign(shop), cosign(half_signed, sokha_2), cleanup.sign(sokha, sokha_2))
        == [ResultCode.ok] * 3
    )

    recovery = bank.tx(
        "aclb",
        replace_signatories("sokha@aclb", [key("sokha-new-phone")]),
        set_account_status("shop@aclb", AccountStatus.frozen),
        remove_alias(phone),
    )
    assert bank.run(recovery.sign(aclb)) == [ResultCode.ok]

    assert bank.used == set(COMMAND_TYPES)
    account = bank.chain.account("sokha@aclb")
    assert account is not None
    # 1,000,000 in; 40,000 posted to the shop (10,000 of the hold returned); 7,000 to dara.
    assert account.balances == (1_000_000 - 40_000 - 7_000, 0)
    assert account.signatories == (key("sokha-new-phone").public_key,)


def test_builder_is_immutable_and_hash_is_the_payload_hash() -> None:
    empty = TransactionBuilder(chain_id="bakong-sandbox", creator="nbc", created_ms=5, nonce=7)
    one = empty.add(issue("settlement@aclb", "KHR", 1, "r"))
    two = one.add(issue("settlement@aclb", "USD", 1, "r"))
    assert (len(empty.commands), len(one.commands), len(two.commands)) == (0, 1, 2)
    signed = two.sign(key("nbc/admin"))
    assert transaction_hash(signed.payload) == two.tx_hash()
    assert decode_transaction(client.transaction_bytes(signed)) == signed


def test_cosign_adds_sorted_signatures_over_the_same_hash() -> None:
    keys = [key(f"signer-{i}") for i in range(3)]
    builder = TransactionBuilder(chain_id="bakong-test", creator="a@aclb", created_ms=1, nonce=1)
    payload = builder.add(transfer("a@aclb", "b@aclb", "USD", 1)).payload()
    first = sign(payload, keys[2])
    both = cosign(first, keys[0], keys[2])  # keys[2] already signed: kept once
    assert [entry.public_key for entry in both.signatures] == sorted(
        k.public_key for k in (keys[0], keys[2])
    )
    assert both == sign(payload, keys[0], keys[2])
    message = signing_message("bakong-test", transaction_hash(payload))
    assert all(verify(e.public_key, message, e.signature) for e in both.signatures)


@pytest.mark.parametrize(
    "make",
    [
        lambda: transfer("a@aclb", "b@aclb", "KHR", 1.5),  # type: ignore[arg-type]
        lambda: transfer("a@aclb", "b@aclb", "KHR", True),
        lambda: transfer("a@aclb", "b@aclb", "EUR", 1),
        lambda: add_signatory("a@aclb", b"short"),
        lambda: post(b"not sixteen", 1),
        lambda: register_alias(b"x" * 31, "a@aclb"),
        lambda: alias_hash(ALIAS_KEY, "012 345 678"),
        lambda: TransactionBuilder(chain_id="c", creator="nbc", created_ms=1, nonce=1).payload(),
        lambda: (
            TransactionBuilder(chain_id="C!", creator="nbc", created_ms=1, nonce=1)
            .add(void(b"h" * 16))
            .payload()
        ),
        lambda: (
            TransactionBuilder(chain_id="c", creator="nbc", created_ms=1, nonce=-1)
            .add(void(b"h" * 16))
            .payload()
        ),
        lambda: (
            TransactionBuilder(chain_id="c", creator="nbc", created_ms=1, nonce=1)
            .add(*[void(b"h" * 16)] * 33)
            .payload()
        ),
        lambda: (
            TransactionBuilder(chain_id="c", creator="x" * 33, created_ms=1, nonce=1)
            .add(void(b"h" * 16))
            .payload()
        ),
        lambda: sign(
            TransactionBuilder(chain_id="c", creator="nbc", created_ms=1, nonce=1)
            .add(void(b"h" * 16))
            .payload(),
            key("a"),
            key("a"),
        ),
    ],
)
def test_local_mistakes_are_refused_before_anything_is_sent(make: object) -> None:
    with pytest.raises(LocalError):
        make()  # type: ignore[operator]


def _vector_builders(vectors: dict[str, object]) -> dict[str, TransactionBuilder]:
    by_name = {v["name"]: v for v in vectors["transactions"]}  # type: ignore[attr-defined]
    batch = decode_transaction(bytes.fromhex(by_name["participant_batch"]["transaction"]))
    account_key = batch.payload.commands[0].signatories[0]  # type: ignore[union-attr]
    alias = batch.payload.commands[1].alias  # type: ignore[union-attr]
    latte = transfer(
        "sokha_chan@aclb",
        "coffee_klaing@abaa",
        "USD",
        450,
        memo="iced latte ☕ ការទូទាត់",
        reference="5d41402abc4b2a76b9719d911017c592",
    )

    def tx(creator: str, created_ms: int, nonce: int, *commands: Command) -> TransactionBuilder:
        return TransactionBuilder(
            chain_id="bakong-vectors", creator=creator, created_ms=created_ms, nonce=nonce
        ).add(*commands)

    return {
        "transfer": tx("sokha_chan@aclb", 1767225600000, 1, latte),
        "transfer_multisig": tx("sokha_chan@aclb", 1767225600001, 2**63 - 1, latte),
        "issue_by_central_bank": tx(
            "nbc",
            1767225600002,
            3,
            issue("settlement@aclb", "KHR", 200_000_000_000, "NBC-2026-0001"),
        ),
        "participant_batch": tx(
            "aclb",
            1767225600003,
            4,
            create_account("dara@aclb", [account_key]),
            register_alias(alias, "dara@aclb"),
        ),
        "hold": tx(
            "sokha_chan@aclb",
            1767225600004,
            5,
            hold(
                bytes(range(16)),
                "sokha_chan@aclb",
                "link@lapnet",
                "KHR",
                -1,
                expires_ms=1767226200000,
                poster="link@lapnet",
            ),
        ),
    }


def test_builders_reproduce_the_conformance_vectors() -> None:
    vectors = json.loads(VECTORS.read_text())
    builders = _vector_builders(vectors)
    assert sorted(builders) == sorted(v["name"] for v in vectors["transactions"])
    for vector in vectors["transactions"]:
        builder = builders[vector["name"]]
        assert encode(builder.payload()).hex() == vector["payload"], vector["name"]
        assert builder.tx_hash().hex() == vector["tx_hash"]
        keys = [SigningKey(bytes.fromhex(seed)) for seed in vector["signer_seeds"]]
        assert client.transaction_bytes(builder.sign(*keys)).hex() == vector["transaction"]
