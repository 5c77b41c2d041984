"""The compiled transfer lane is an optimisation, never a second set of rules: blocks of
lane-shaped transactions, mutated to fail at every rung the lane has (`_lane.RESULT_CODES`),
give the same results, write sets and app hashes with the lane as through the general path
(`execute_transaction`) alone, and a field added to a record is carried through both.

`balance_overflow` cannot be reached from a conserved state: a target's balance plus held plus
any amount a source holds is at most the supply, which `issue` keeps within `amount_max`. The
rung guards a state that is not conserved, so the test plants one balance near `amount_max`
directly in the store.

Direction: `sndo` is send-only and `rcvo` receive-only once set up, and the central bank turns
`sndo` active and send-only again by turns in the middle of blocks, so the participants' status
memo the lane shares with Python is cleared between transactions the lane runs."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import msgspec
import pytest
from msgspec.structs import replace

from bakong import limits
from bakong.errors import LocalError
from bakong.ledger import block as block_module
from bakong.ledger import state as state_module
from bakong.ledger.assets import Asset
from bakong.ledger.block import LedgerState, execute_block
from bakong.ledger.commands import CreateAccount, SetAccountStatus, SetLimits, UpdateParticipant
from bakong.ledger.policy import DEFAULT_POLICY
from bakong.ledger.records import Account, AccountKind, AccountStatus, KycTier, ParticipantStatus
from bakong.ledger.result import ResultCode
from bakong.ledger.state import DecodedRecords, MemoryStore, account_key, decode_value
from bakong.ledger.transaction import (
    SignatureEntry,
    Transaction,
    TransactionPayload,
    sign_transaction,
    transaction_hash,
)
from bakong.sandbox import Sandbox, sandbox_key
from bakong.wire.codec import encode

# prak is suspended once set up, sndo send-only and rcvo receive-only.
PARTICIPANTS = ("aclb", "wing", "abaa", "prak", "sndo", "rcvo")
TIERS = (KycTier.basic, KycTier.partial, KycTier.full)
USERS = tuple(f"user{i}@{PARTICIPANTS[i % 3]}" for i in range(9))
FROZEN = "frozen@wing"
MULTISIG = "pair@aclb"
SUSPENDED = "user@prak"
SEND_ONLY = "user@sndo"
RECEIVE_ONLY = "user@rcvo"
SETTLEMENTS = tuple(f"settlement@{code}" for code in PARTICIPANTS[:3])
WHALE = "whale@abaa"  # planted near amount_max: a credit of more than its headroom overflows
WHALE_HEADROOM = 1_000_000


def _set_up() -> Sandbox:
    chain = Sandbox(participants=PARTICIPANTS)
    issues = [
        chain.transaction(
            "nbc", [chain.issue(code, asset, 10**12, f"r-{code}-{asset.value}") for asset in Asset]
        )
        for code in PARTICIPANTS
    ]
    chain.commit(issues)
    opens = [
        chain.transaction(user.split("@")[1], [chain.open_account(user, tier=TIERS[i % 3])])
        for i, user in enumerate(USERS)
    ]
    opens.append(chain.transaction("wing", [chain.open_account(FROZEN)]))
    opens.append(chain.transaction("prak", [chain.open_account(SUSPENDED)]))
    opens.append(chain.transaction("sndo", [chain.open_account(SEND_ONLY)]))
    opens.append(chain.transaction("rcvo", [chain.open_account(RECEIVE_ONLY)]))
    opens.append(chain.transaction("abaa", [chain.open_account(WHALE, tier=KycTier.full)]))
    pair = CreateAccount(
        account=MULTISIG,
        kind=AccountKind.personal,
        tier=KycTier.full,
        signatories=tuple(
            sorted(sandbox_key(name).public_key for name in (MULTISIG, "pair-2@aclb"))
        ),
        quorum=2,
    )
    opens.append(chain.transaction("aclb", [pair]))
    chain.commit(opens)
    funding = [
        chain.transaction(
            f"settlement@{user.split('@')[1]}",
            [
                chain.transfer(f"settlement@{user.split('@')[1]}", user, Asset.KHR, 3_000_000),
                chain.transfer(f"settlement@{user.split('@')[1]}", user, Asset.USD, 80_000),
            ],
        )
        for user in (*USERS, FROZEN, SUSPENDED, SEND_ONLY, RECEIVE_ONLY)
    ]
    chain.commit(funding)
    statuses = [
        _status_change(chain, code, status)
        for code, status in (
            ("prak", ParticipantStatus.suspended),
            ("sndo", ParticipantStatus.send_only),
            ("rcvo", ParticipantStatus.receive_only),
        )
    ]
    freeze = SetAccountStatus(account=FROZEN, status=AccountStatus.frozen)
    outcome = chain.commit([*statuses, chain.transaction("wing", [freeze])])
    assert all(result.code == ResultCode.ok for result in outcome.results)
    whale = chain.store.record(account_key(WHALE))
    planted = (limits.amount_max - WHALE_HEADROOM,) * 2
    chain.store.apply(((account_key(WHALE), encode(replace(whale, balances=planted))),))
    return chain


def _status_change(
    chain: Sandbox, code: str, status: ParticipantStatus, created_ms: int | None = None
) -> Transaction:
    """The central bank giving participant `code` the status `status`, keeping the rest."""
    participant = chain.store.record(b"p/" + code.encode())
    update = UpdateParticipant(
        code=code,
        name=participant.name,
        status=status,
        admin_keys=participant.admin_keys,
        admin_quorum=participant.admin_quorum,
        gateway_keys=participant.gateway_keys,
    )
    if created_ms is None:
        return chain.transaction("nbc", [update])
    payload = TransactionPayload(
        chain_id=chain.chain_id,
        creator="nbc",
        created_ms=created_ms,
        nonce=created_ms,
        commands=(update,),
    )
    return sign_transaction(payload, [sandbox_key(Sandbox.key_name("nbc"))])


class _Generator:
    """Lane-shaped transactions, each mutated (or not) to fail at one chosen rung."""

    def __init__(self, chain: Sandbox, seed: int) -> None:
        self.chain = chain
        self.rng = random.Random(seed)
        self.sent: list[Transaction] = []

    def transaction(self, time_ms: int) -> Transaction:
        rng = self.rng
        source = rng.choice(
            (*USERS, *USERS, *SETTLEMENTS, FROZEN, MULTISIG, SUSPENDED, SEND_ONLY, RECEIVE_ONLY)
        )
        target = rng.choice(
            (*USERS, *SETTLEMENTS, FROZEN, SUSPENDED, WHALE, "ghost@wing", source)
            + (SEND_ONLY, RECEIVE_ONLY)
        )
        asset = rng.choice((Asset.KHR, Asset.USD))
        # Some amounts are exactly a limit or a starting balance: at the boundary, not over it.
        amount = rng.choice(
            (1, 500, 250_000, 1_500_000, 5_000_000, 300_000_000, 0, -5)
            + (2_000_000, 50_000, 300_000, 5_000, 4_000_000, 1_000_000, 3_000_000, 80_000)
        )
        creator, created_ms, chain_id, signer = source, time_ms - 1_000, self.chain.chain_id, None
        mutation = rng.randrange(14)
        if mutation == 0 and self.sent:
            return rng.choice(self.sent)  # a replay: duplicate_transaction
        if mutation == 1:
            chain_id = "another-chain"
        elif mutation == 2:
            created_ms = time_ms + 10 * 60_000
        elif mutation == 3:
            created_ms = time_ms - 25 * 3_600_000
        elif mutation == 4:
            creator = rng.choice(("Upper@aclb", "ghost@aclb", "aclb", "x@@y"))
        elif mutation == 5:
            creator = rng.choice(USERS)  # permission_denied unless it is the source
        elif mutation == 6:
            signer = rng.choice(USERS)  # signature_key_not_signatory, mostly
        payload = TransactionPayload(
            chain_id=chain_id,
            creator=creator,
            created_ms=created_ms,
            nonce=rng.randrange(2**40),
            commands=(self.chain.transfer(source, target, asset, amount),),
        )
        name = signer or (Sandbox.key_name(creator) if creator.count("@") == 1 else "x@aclb")
        transaction = sign_transaction(payload, [sandbox_key(name)])
        if mutation == 7:  # signature_invalid
            entry = transaction.signatures[0]
            forged = bytes([entry.signature[0] ^ 1]) + entry.signature[1:]
            transaction = replace(
                transaction, signatures=(SignatureEntry(entry.public_key, forged),)
            )
        self.sent.append(transaction)
        return transaction

    def policy_change(self, time_ms: int, height: int) -> Transaction:
        """The central bank setting tight limits, or the defaults back, by turns."""
        policy = DEFAULT_POLICY
        if height % 2:
            policy = replace(
                DEFAULT_POLICY,
                per_day_by_tier=((300_000, 5_000), (1_000_000, 20_000), (4_000_000, 80_000)),
                institutional_per_transfer=(1_000_000, 40_000),
                basic_balance_max=(3_200_000, 85_000),
            )
        payload = TransactionPayload(
            chain_id=self.chain.chain_id,
            creator="nbc",
            created_ms=time_ms - 1_000,
            nonce=height,
            commands=(SetLimits(policy=policy),),
        )
        return sign_transaction(payload, [sandbox_key(Sandbox.key_name("nbc"))])

    def direction_change(self, time_ms: int, height: int) -> Transaction:
        """The central bank making `sndo` active or send-only again, by turns."""
        status = ParticipantStatus.active if height % 2 else ParticipantStatus.send_only
        return _status_change(self.chain, "sndo", status, created_ms=time_ms - 2_000)


_native = block_module.native_execute_transactions
needs_lane = pytest.mark.skipif(
    _native is None,
    reason="the compiled lane is not built (no C compiler): the general path is the only path",
)


def _lane_codes() -> set[ResultCode]:
    from bakong.ledger import _lane

    return {ResultCode[name] for name in _lane.RESULT_CODES}


def _run_blocks(
    chain: Sandbox, blocks: list[list[Transaction]], monkeypatch: pytest.MonkeyPatch
) -> Counter[int]:
    """Each block through the lane on `chain` and through the general path alone on a copy;
    they must agree. The codes the lane's blocks gave, counted."""
    general_store = MemoryStore(dict(chain.store.items()))
    lane = chain.state
    general = LedgerState(general_store, chain.state.app_hash)
    height, time_ms = len(chain.blocks), chain.time_ms
    codes: Counter[int] = Counter()
    taken_elsewhere: list[Transaction] = []

    def counted_general(context: Any, transaction: Transaction, tx_hash: bytes) -> Any:
        taken_elsewhere.append(transaction)
        return execute_general(context, transaction, tx_hash)

    execute_general = block_module._execute_general
    for block in blocks:
        height += 1
        time_ms += 6 * 3_600_000  # four blocks a day: daily limits fill up and reset
        admitted = [transaction_hash(transaction.payload) for transaction in block]
        taken_elsewhere.clear()
        with monkeypatch.context() as patch:
            patch.setattr(block_module, "_execute_general", counted_general)
            with_lane = execute_block(
                lane, height=height, time_ms=time_ms, transactions=block, tx_hashes=admitted
            )
        # The lane took every transaction of its shape: the others have a participant creator.
        assert taken_elsewhere == [t for t in block if "@" not in t.payload.creator]
        with monkeypatch.context() as patch:
            patch.setattr(block_module, "native_execute_transactions", None)
            without = execute_block(general, height=height, time_ms=time_ms, transactions=block)
        assert with_lane.results == without.results
        assert with_lane.write_set == without.write_set
        assert with_lane.app_hash == without.app_hash
        chain.store.apply(with_lane.write_set, with_lane.written)
        general_store.apply(without.write_set)
        lane = LedgerState(chain.store, with_lane.app_hash)
        general = LedgerState(general_store, without.app_hash)
        codes.update(result.code for result in with_lane.results)
    return codes


@needs_lane
@pytest.mark.parametrize("seed", range(3))
def test_lane_and_general_path_agree(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    chain = _set_up()
    generator = _Generator(chain, seed)
    height, time_ms = len(chain.blocks), chain.time_ms
    blocks = []
    for _ in range(12):
        height += 1
        time_ms += 6 * 3_600_000
        block = [generator.transaction(time_ms) for _ in range(150)]
        # A policy change mid-block: the transactions after it meet the new limits.
        block.insert(generator.rng.randrange(150), generator.policy_change(time_ms, height))
        # A participant's direction changing mid-block: the same for the transactions after it.
        block.insert(generator.rng.randrange(151), generator.direction_change(time_ms, height))
        blocks.append(block)
    codes = _run_blocks(chain, blocks, monkeypatch)
    exercised = {ResultCode(code) for code in codes}
    assert _lane_codes() <= exercised, _lane_codes() - exercised


class _TaggedAccount(Account, frozen=True):
    """An account record with one field more than the lane was written for."""

    tag: str = ""


@needs_lane
def test_a_field_added_to_a_record_is_carried_through_the_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = _set_up()
    account_byte = ord("a")
    for key, value in list(chain.store.items()):
        if key[0] == account_byte:
            account = decode_value(key, value)
            tagged = _TaggedAccount(*(getattr(account, f) for f in Account.__struct_fields__))
            chain.store.apply(((key, encode(replace(tagged, tag="kept"))),))
    decoder = msgspec.msgpack.Decoder(_TaggedAccount).decode
    monkeypatch.setitem(state_module._decoder_by_first_byte, account_byte, decoder)
    monkeypatch.setitem(state_module._type_by_first_byte, account_byte, _TaggedAccount)
    block = [
        chain.transaction(user, [chain.transfer(user, USERS[(i + 1) % 9], Asset.KHR, 1_000 + i)])
        for i, user in enumerate(USERS)
    ]
    codes = _run_blocks(chain, [block], monkeypatch)
    assert codes == {ResultCode.ok: len(USERS)}
    for user in USERS:
        record = chain.store.record(account_key(user))
        assert type(record) is _TaggedAccount and record.tag == "kept"


def test_admission_hashes_must_match_the_transactions_count() -> None:
    chain = _set_up()
    transaction = chain.transaction(USERS[0], [chain.transfer(USERS[0], USERS[1], Asset.KHR, 7)])
    height, time_ms = len(chain.blocks) + 1, chain.time_ms + 500
    with pytest.raises(LocalError, match="2 hashes for 1 transactions"):
        execute_block(
            chain.state,
            height=height,
            time_ms=time_ms,
            transactions=[transaction],
            tx_hashes=[transaction_hash(transaction.payload)] * 2,
        )


def test_decoded_records_follow_the_store() -> None:
    """The store's decoded records are the committed state after every block, bounded, and
    keep no replay-protection entries."""
    chain = _set_up()
    store = chain.store
    key = b"a/" + USERS[0].encode()
    before = store.record(key)
    outcome = chain.commit(
        [chain.transaction(USERS[0], [chain.transfer(USERS[0], USERS[1], Asset.KHR, 7)])]
    )
    assert outcome.results[0].code == ResultCode.ok
    after = store.record(key)
    assert after is not before and after.balances[0] == before.balances[0] - 7
    seen = [key for key, _ in outcome.written if key.startswith(b"s/")]
    assert seen and all(key not in store._decoded._records for key in seen)
    store.apply(((key, None),))  # a deletion without records is forgotten, not served stale
    assert store.record(key) is None
    small = MemoryStore(dict(store.items()))
    small._decoded = DecodedRecords(entries_max=2)
    for user in USERS[1:5]:
        assert small.record(b"a/" + user.encode()).account_id == user
    assert len(small._decoded) == 2
