"""The verifying stream follower, against real blocks with real commits.

A four-validator chain is run on the real ledger (`build_block`), each block's commit is
signed by deterministic validator keys (`sign_vote` + `build_commit`), and stream messages are
made exactly as the node makes them (hex canonical bytes, RFC 6962 proofs). The follower must
accept the genuine stream, including a validator-set change with enough overlap, and refuse
every tampering with the check that catches it, yielding nothing from the bad message.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import NamedTuple

import msgspec
import pytest
import websockets.asyncio.server
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close

from bakong.client import (
    ApiError,
    Asset,
    Client,
    Follower,
    StreamMessage,
    TransactionBuilder,
    TrustState,
    VerificationError,
    add_validator,
    create_account,
    decode_stream_message,
    issue,
    remove_validator,
    transfer,
    verify_message,
)
from bakong.client.follower import MessageSource, StreamResult, StreamTransaction, StreamValidator
from bakong.consensus.commit import build_commit
from bakong.consensus.messages import VoteBody, VoteType, sign_vote
from bakong.errors import LocalError
from bakong.ledger.block import (
    Block,
    BlockHeader,
    LedgerState,
    TxResult,
    block_hash,
    build_block,
    result_leaf,
)
from bakong.ledger.commands import Command
from bakong.ledger.commit import Commit
from bakong.ledger.genesis import (
    GenesisFile,
    GenesisParticipant,
    GenesisValidator,
    genesis_hash,
    genesis_state,
)
from bakong.ledger.records import ValidatorSchedule
from bakong.ledger.result import ResultCode
from bakong.ledger.state import VALIDATORS_KEY, decode_value
from bakong.ledger.transaction import Transaction
from bakong.ledger.validators import Validator, validator_set_hash
from bakong.sandbox import sandbox_key
from bakong.wire import merkle
from bakong.wire.codec import encode
from bakong.wire.keys import SigningKey
from bakong.wire.request import SeenRequests, check_request

CHAIN = "bakong-follow"
GENESIS_MS = 1_767_225_600_000
NODE = sandbox_key("validator-1").public_key  # the node the stream requests are signed for


def validator_key(name: str) -> SigningKey:
    return SigningKey(hashlib.sha256(b"follower-test/" + name.encode()).digest())


def _participant(code: str) -> GenesisParticipant:
    return GenesisParticipant(
        code=code,
        name=code.upper(),
        admin_keys=[sandbox_key(f"{code}/admin").public_key.hex()],
        admin_quorum=1,
        gateway_keys=[sandbox_key(f"{code}/gateway").public_key.hex()],
    )


def sign_commit(header: BlockHeader, keys: Sequence[SigningKey]) -> Commit:
    header_hash = block_hash(header)
    body = VoteBody(VoteType.PRECOMMIT, header.height, 0, header_hash)
    votes = [sign_vote(header.chain_id, key, body) for key in keys]
    return build_commit(header.height, 0, header_hash, votes)


def make_message(
    header: BlockHeader,
    commit: Commit,
    validators: Sequence[Validator],
    transactions: Sequence[Transaction],
    results: Sequence[TxResult],
    only: Sequence[int] | None = None,
) -> StreamMessage:
    """A stream message the way the node builds one (docs/api.md)."""
    entries = []
    if results:
        tx_tree = merkle.levels([result.tx_hash for result in results])
        result_tree = merkle.levels([result_leaf(header.chain_id, r) for r in results])
        for index in range(len(results)) if only is None else only:
            result = results[index]
            entries.append(
                StreamTransaction(
                    index=index,
                    tx=encode(transactions[index]).hex(),
                    tx_proof=tuple(h.hex() for h in merkle.inclusion_proof(tx_tree, index)),
                    result=StreamResult(
                        result.code, result.command_index, ResultCode(result.code).name
                    ),
                    result_proof=tuple(h.hex() for h in merkle.inclusion_proof(result_tree, index)),
                )
            )
    return StreamMessage(
        height=header.height,
        header=encode(header).hex(),
        commit=encode(commit).hex(),
        tx_count=len(results),
        validators=tuple(StreamValidator(v.name, v.public_key.hex(), v.power) for v in validators),
        transactions=tuple(entries),
    )


class Made(NamedTuple):
    block: Block
    results: Sequence[TxResult]
    validators: tuple[Validator, ...]
    commit: Commit


class Chain:
    """A real ledger chain decided by named validators, producing stream messages."""

    def __init__(self, validators: Sequence[str] = ("v0", "v1", "v2", "v3")) -> None:
        self.genesis = GenesisFile(
            chain_id=CHAIN,
            genesis_time_ms=GENESIS_MS,
            central_bank=_participant("nbc"),
            participants=[_participant("aclb"), _participant("wing")],
            validators=[
                GenesisValidator(name=n, public_key=validator_key(n).public_key.hex(), power=1)
                for n in validators
            ],
        )
        self.state, self.store = genesis_state(self.genesis)
        self.time_ms = GENESIS_MS
        self.previous_hash = genesis_hash(self.genesis)
        self.last_commit: Commit | None = None
        self.nonce = 0
        self.keys: dict[bytes, SigningKey] = {}
        self.blocks: list[Made] = []
        self.messages: list[StreamMessage] = []

    def tx(self, creator: str, *commands: Command) -> Transaction:
        self.nonce += 1
        builder = TransactionBuilder(
            chain_id=CHAIN, creator=creator, created_ms=self.time_ms, nonce=self.nonce
        )
        signer = f"{creator}/admin" if "@" not in creator else creator
        if creator.startswith("settlement@"):
            signer = creator.split("@")[1] + "/admin"
        return builder.add(*commands).sign(sandbox_key(signer))

    def deciding(self) -> tuple[Validator, ...]:
        raw = self.store.get(VALIDATORS_KEY)
        assert raw is not None
        schedule = decode_value(VALIDATORS_KEY, raw)
        assert isinstance(schedule, ValidatorSchedule)
        return schedule.current

    def key_of(self, validator: Validator) -> SigningKey:
        key = validator_key(validator.name)
        assert key.public_key == validator.public_key
        return key

    def block(self, *transactions: Transaction) -> StreamMessage:
        validators = self.deciding()
        self.time_ms += 1_000
        block, outcome = build_block(
            self.state,
            time_ms=self.time_ms,
            proposer=validators[0].public_key,
            previous_hash=self.previous_hash,
            last_commit=self.last_commit,
            transactions=transactions,
        )
        self.store.apply(outcome.write_set)
        self.state = LedgerState(store=self.store, app_hash=outcome.app_hash)
        commit = sign_commit(block.header, [self.key_of(v) for v in validators])
        self.previous_hash, self.last_commit = block_hash(block.header), commit
        self.blocks.append(Made(block, outcome.results, validators, commit))
        message = make_message(block.header, commit, validators, transactions, outcome.results)
        self.messages.append(message)
        return message

    def trust_before(self, height: int) -> TrustState:
        """The follower's state after verifying the genuine blocks below `height`."""
        trust = TrustState.from_genesis(self.genesis)
        for message in self.messages[: height - 1]:
            trust, _ = verify_message(trust, message)
        return trust


def payments_chain() -> Chain:
    """Block 1 funds and opens accounts; block 2 has three payments, one failing; 3 is empty."""
    chain = Chain()
    chain.block(
        chain.tx("nbc", issue("settlement@aclb", Asset.KHR, 5_000_000, "reserve-1")),
        chain.tx("aclb", create_account("sokha@aclb", [sandbox_key("sokha@aclb")], tier=2)),
        chain.tx("wing", create_account("dara@wing", [sandbox_key("dara@wing")], tier=2)),
    )
    chain.block(
        chain.tx("settlement@aclb", transfer("settlement@aclb", "sokha@aclb", "KHR", 90_000)),
        chain.tx("sokha@aclb", transfer("sokha@aclb", "dara@wing", "KHR", 7_000, memo="noodles")),
        chain.tx("dara@wing", transfer("dara@wing", "sokha@aclb", "USD", 1)),  # no dollars
    )
    chain.block()
    return chain


def expect_failure(
    trust: TrustState, message: StreamMessage, code: str, *, complete: bool = False
) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_message(trust, message, complete=complete)
    assert caught.value.code == code, caught.value


def resign(chain: Chain, height: int, **changes: object) -> StreamMessage:
    """The block at `height` with a changed header, committed by its genuine validators, as a
    Byzantine supermajority could: checks beyond the commit must still catch it."""
    block, results, validators, _ = chain.blocks[height - 1]
    header = msgspec.structs.replace(block.header, **changes)
    commit = sign_commit(header, [chain.key_of(v) for v in validators])
    return make_message(header, commit, validators, block.transactions, results)


# -- the genuine stream ---------------------------------------------------------------------


def test_genuine_stream_is_accepted_with_proven_results() -> None:
    chain = payments_chain()
    trust = TrustState.from_genesis(chain.genesis)
    seen: list[tuple[int, int, ResultCode]] = []
    for made, message in zip(chain.blocks, chain.messages, strict=True):
        trust, block = verify_message(trust, message, complete=True)
        assert block.block_hash == block_hash(made.block.header)
        assert [item.transaction for item in block.items] == list(made.block.transactions)
        seen += [(i.height, i.index, ResultCode(i.result.code)) for i in block.items]
    assert trust.height == 3 and trust.previous_hash == chain.previous_hash
    assert seen == [
        (1, 0, ResultCode.ok),
        (1, 1, ResultCode.ok),
        (1, 2, ResultCode.ok),
        (2, 0, ResultCode.ok),
        (2, 1, ResultCode.ok),
        (2, 2, ResultCode.insufficient_funds),
    ]


def test_a_filtered_stream_proves_the_transactions_it_carries() -> None:
    chain = payments_chain()
    block, results, validators, commit = chain.blocks[1]
    message = make_message(block.header, commit, validators, block.transactions, results, only=[1])
    _, verified = verify_message(chain.trust_before(2), message)
    assert [item.index for item in verified.items] == [1]
    assert verified.items[0].transaction == block.transactions[1]
    assert verified.tx_count == 3
    expect_failure(chain.trust_before(2), message, "incomplete", complete=True)


def test_part_of_a_block_cannot_pass_for_all_of_it() -> None:
    chain = payments_chain()
    block, results, validators, commit = chain.blocks[1]
    for only in ([0], [0, 1], [1, 2]):
        part = make_message(block.header, commit, validators, block.transactions, results, only)
        renumbered = tuple(
            msgspec.structs.replace(entry, index=i) for i, entry in enumerate(part.transactions)
        )
        claim = msgspec.structs.replace(part, tx_count=len(only), transactions=renumbered)
        expect_failure(chain.trust_before(2), claim, "tx_proof", complete=True)
    nothing = msgspec.structs.replace(chain.messages[1], tx_count=0, transactions=())
    expect_failure(chain.trust_before(2), nothing, "transactions", complete=True)


# -- tampering ------------------------------------------------------------------------------


def _with_entry(message: StreamMessage, position: int, **changes: object) -> StreamMessage:
    entries = list(message.transactions)
    entries[position] = msgspec.structs.replace(entries[position], **changes)
    return msgspec.structs.replace(message, transactions=tuple(entries))


def test_flipped_transaction_byte_is_caught_by_the_tx_proof() -> None:
    chain = payments_chain()
    message = chain.messages[1]
    tx = bytes.fromhex(message.transactions[1].tx)
    assert tx.count(b"noodles") == 1
    forged = _with_entry(message, 1, tx=tx.replace(b"noodles", b"noodlez").hex())
    expect_failure(chain.trust_before(2), forged, "tx_proof")


def test_wrong_proof_and_wrong_index_are_caught() -> None:
    chain = payments_chain()
    trust, message = chain.trust_before(2), chain.messages[1]
    entry = message.transactions[0]
    wrong_sibling = (hashlib.sha256(b"not a sibling").hexdigest(), *entry.tx_proof[1:])
    expect_failure(trust, _with_entry(message, 0, tx_proof=wrong_sibling), "tx_proof")
    expect_failure(trust, _with_entry(message, 0, tx_proof=entry.tx_proof[:-1]), "tx_proof")
    moved = msgspec.structs.replace(message, transactions=(message.transactions[1],))
    relabelled = msgspec.structs.replace(moved.transactions[0], index=2)
    expect_failure(trust, msgspec.structs.replace(moved, transactions=(relabelled,)), "tx_proof")
    expect_failure(trust, msgspec.structs.replace(message, tx_count=4), "tx_proof")


def test_a_changed_result_is_caught_by_the_result_proof() -> None:
    chain = payments_chain()
    message = chain.messages[1]
    failed = message.transactions[2]
    claimed_ok = msgspec.structs.replace(failed.result, code=0, result="ok")
    expect_failure(
        chain.trust_before(2), _with_entry(message, 2, result=claimed_ok), "result_proof"
    )


def test_transactions_must_be_in_order_and_within_the_count() -> None:
    chain = payments_chain()
    trust, message = chain.trust_before(2), chain.messages[1]
    swapped = msgspec.structs.replace(message, transactions=message.transactions[::-1])
    expect_failure(trust, swapped, "transactions")
    doubled = msgspec.structs.replace(message, transactions=message.transactions[:1] * 2)
    expect_failure(trust, doubled, "transactions")
    expect_failure(trust, msgspec.structs.replace(message, tx_count=2), "transactions")
    empty_claim = msgspec.structs.replace(message, tx_count=0, transactions=())
    expect_failure(trust, empty_claim, "transactions")


def test_a_commit_short_of_two_thirds_is_refused() -> None:
    chain = payments_chain()
    block, _, validators, _ = chain.blocks[0]
    short = sign_commit(block.header, [chain.key_of(v) for v in validators[:2]])
    message = msgspec.structs.replace(chain.messages[0], commit=encode(short).hex())
    expect_failure(chain.trust_before(1), message, "commit_insufficient_power")


def test_a_commit_with_unknown_signers_or_another_block_is_refused() -> None:
    chain = payments_chain()
    block, _, validators, _ = chain.blocks[0]
    keys = [chain.key_of(v) for v in validators[:3]] + [validator_key("stranger")]
    stranger = msgspec.structs.replace(
        chain.messages[0], commit=encode(sign_commit(block.header, keys)).hex()
    )
    expect_failure(chain.trust_before(1), stranger, "commit_unknown_validator")
    other = msgspec.structs.replace(chain.messages[1], commit=chain.messages[0].commit)
    expect_failure(chain.trust_before(2), other, "commit_height_mismatch")
    same_height = resign(chain, 1, time_ms=chain.blocks[0][0].header.time_ms + 1)
    replayed = msgspec.structs.replace(same_height, commit=chain.messages[0].commit)
    expect_failure(chain.trust_before(1), replayed, "commit_block_hash_mismatch")
    bad_signature = bytearray(bytes.fromhex(chain.messages[0].commit))
    bad_signature[-1] ^= 1
    flipped = msgspec.structs.replace(chain.messages[0], commit=bad_signature.hex())
    expect_failure(chain.trust_before(1), flipped, "commit_signature_invalid")


def test_a_header_must_link_to_the_previous_one_and_be_the_next_height() -> None:
    chain = payments_chain()
    unlinked = resign(chain, 2, previous_hash=hashlib.sha256(b"elsewhere").digest())
    expect_failure(chain.trust_before(2), unlinked, "previous_hash")
    expect_failure(chain.trust_before(2), chain.messages[2], "height")
    expect_failure(chain.trust_before(1), resign(chain, 1, chain_id="bakong-other"), "chain_id")
    relabelled = msgspec.structs.replace(chain.messages[1], height=1)
    expect_failure(chain.trust_before(1), relabelled, "height")
    # Starting mid-chain with no known previous hash skips only the link check.
    midway = msgspec.structs.replace(chain.trust_before(2), previous_hash=None)
    assert verify_message(midway, unlinked)[0].height == 2


def test_announced_validators_must_be_the_headers() -> None:
    chain = payments_chain()
    trust, message = chain.trust_before(1), chain.messages[0]
    heavier = (msgspec.structs.replace(message.validators[0], power=5), *message.validators[1:])
    expect_failure(trust, msgspec.structs.replace(message, validators=heavier), "validators_hash")
    unsorted = message.validators[::-1]
    expect_failure(trust, msgspec.structs.replace(message, validators=unsorted), "validators")


def test_a_forged_validator_set_is_not_trusted() -> None:
    chain = payments_chain()
    block = chain.blocks[0][0]
    impostors = sorted(
        (validator_key(f"impostor-{i}") for i in range(4)), key=lambda k: k.public_key
    )
    forged_set = tuple(Validator(f"impostor-{i}", k.public_key, 1) for i, k in enumerate(impostors))
    header = msgspec.structs.replace(
        block.header, validators_hash=validator_set_hash(CHAIN, forged_set)
    )
    message = make_message(
        header, sign_commit(header, impostors), forged_set, block.transactions, chain.blocks[0][1]
    )
    expect_failure(chain.trust_before(1), message, "validator_set_untrusted")


def test_malformed_messages_are_refused() -> None:
    chain = payments_chain()
    trust, message = chain.trust_before(1), chain.messages[0]
    for bad in (b"not json", b'{"height": 1}', b"[]"):
        with pytest.raises(VerificationError) as caught:
            decode_stream_message(bad, 1)
        assert caught.value.code == "malformed"
    expect_failure(trust, msgspec.structs.replace(message, header="zz"), "malformed")
    expect_failure(
        trust, msgspec.structs.replace(message, header=message.header.upper()), "malformed"
    )
    expect_failure(
        trust, msgspec.structs.replace(message, header=message.header + "00"), "malformed"
    )
    expect_failure(trust, msgspec.structs.replace(message, commit="c0"), "malformed")
    expect_failure(trust, _with_entry(message, 0, tx="c0"), "malformed")
    roundtrip = decode_stream_message(msgspec.json.encode(message), 1)
    assert roundtrip == message


# -- validator-set changes ------------------------------------------------------------------


def _rotated_chain(keep: int, add: int) -> Chain:
    """Genesis set v0..v3; block 1 removes all but `keep` of them and adds `add` new ones,
    which decide from height 3 on (changes take effect at height + 2)."""
    chain = Chain()
    new = [f"n{i}" for i in range(add)]
    changes: list[Command] = [add_validator(n, validator_key(n), 1) for n in new]
    changes += [remove_validator(validator_key(f"v{i}")) for i in range(keep, 4)]
    chain.block(chain.tx("nbc", *changes))
    chain.block()
    chain.block()
    chain.block()
    return chain


def test_a_validator_set_change_with_enough_overlap_is_followed() -> None:
    chain = _rotated_chain(keep=2, add=2)  # v0, v1 (2 of 4 trusted power) carry trust over
    trust = TrustState.from_genesis(chain.genesis)
    names = []
    for message in chain.messages:
        trust, block = verify_message(trust, message)
        names.append(sorted(v.name for v in block.validators))
    assert names[:2] == [["v0", "v1", "v2", "v3"]] * 2
    assert names[2:] == [["n0", "n1", "v0", "v1"]] * 2
    assert sorted(v.name for v in trust.validators) == ["n0", "n1", "v0", "v1"]


def test_a_validator_set_change_without_a_third_of_overlap_is_refused() -> None:
    chain = _rotated_chain(keep=1, add=3)  # only v0 (1 of 4 trusted power) stays
    trust = chain.trust_before(3)
    expect_failure(trust, chain.messages[2], "validator_set_untrusted")
    chain = _rotated_chain(keep=0, add=4)
    expect_failure(chain.trust_before(3), chain.messages[2], "validator_set_untrusted")


# -- the async follower, over fake and real connections -------------------------------------


class Script:
    """A fake `Connect`: each connection serves messages from `from_height`, then drops."""

    def __init__(self, messages: Sequence[StreamMessage], per_connection: int) -> None:
        self.data = [msgspec.json.encode(message).decode() for message in messages]
        self.per_connection = per_connection
        self.opened: list[tuple[str, dict[str, str]]] = []

    @asynccontextmanager
    async def connect(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[MessageSource]:
        self.opened.append((url, dict(headers)))
        start = int(url.rsplit("from_height=", 1)[1]) - 1
        yield _Source(self.data[start : start + self.per_connection])


class _Source:
    def __init__(self, data: list[str]) -> None:
        self.data = data

    async def recv(self) -> str:
        if not self.data:
            raise ConnectionResetError("the node went away")
        return self.data.pop(0)


async def _no_wait(_: float) -> None:
    return None


async def _collect(follower: Follower, count: int) -> list[tuple[int, int]]:
    items = []
    async for item in follower:
        items.append((item.height, item.index))
        if len(items) == count:
            break
    return items


def test_follower_reconnects_from_the_next_height_with_signed_requests() -> None:
    chain = payments_chain()
    script = Script(chain.messages, per_connection=1)
    key = sandbox_key("aclb/gateway")
    clock = iter(range(GENESIS_MS, GENESIS_MS + 1_000))
    asked: list[None] = []

    async def learn_node_key() -> bytes:  # as `Client.resolve_node_key`, asked at each connect
        asked.append(None)
        return NODE

    follower = Follower(
        "http://node.test:26657/",
        key,
        TrustState.from_genesis(chain.genesis),
        node_key=learn_node_key,
        clock_ms=lambda: next(clock),
        connect=script.connect,
        sleep=_no_wait,
    )
    items = asyncio.run(_collect(follower, 6))
    assert items == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    urls = [url for url, _ in script.opened]
    assert urls == [f"ws://node.test:26657/v1/stream?from_height={h}" for h in (1, 2)]
    assert len(asked) == 2
    seen = SeenRequests()
    for url, headers in script.opened:
        target = url.removeprefix("ws://node.test:26657")
        now = int(headers["x-bakong-time"])
        assert check_request(CHAIN, NODE, "GET", target, b"", headers, now, seen) == key.public_key
    assert follower.trust.height == 2


def test_nothing_from_a_bad_message_is_yielded_and_it_is_not_retried() -> None:
    chain = payments_chain()
    bad = _with_entry(chain.messages[1], 2, result=StreamResult(0, -1, "ok"))
    script = Script([chain.messages[0], bad, chain.messages[2]], per_connection=3)
    follower = Follower(
        "http://node.test",
        sandbox_key("nbc/gateway"),
        TrustState.from_genesis(chain.genesis),
        node_key=NODE,
        connect=script.connect,
        sleep=_no_wait,
    )
    items: list[tuple[int, int]] = []

    async def follow() -> None:
        async for item in follower:
            items.append((item.height, item.index))

    with pytest.raises(VerificationError) as caught:
        asyncio.run(follow())
    assert (caught.value.code, caught.value.height) == ("result_proof", 2)
    assert items == [(1, 0), (1, 1), (1, 2)]
    assert len(script.opened) == 1 and follower.trust.height == 1


def test_follower_gives_up_after_reconnects_max() -> None:
    attempts: list[str] = []

    @asynccontextmanager
    async def refuse(url: str, headers: Mapping[str, str]) -> AsyncIterator[MessageSource]:
        attempts.append(url)
        raise ConnectionRefusedError("nobody listens")
        yield  # pragma: no cover

    chain = Chain()
    follower = Follower(
        "https://node.test/base",
        sandbox_key("nbc/gateway"),
        TrustState.from_genesis(chain.genesis),
        node_key=NODE,
        connect=refuse,
        reconnects_max=2,
        sleep=_no_wait,
    )
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(_collect(follower, 1))
    assert attempts == ["wss://node.test/base/v1/stream?from_height=1"] * 3
    with pytest.raises(LocalError):
        trust = TrustState.from_genesis(chain.genesis)
        Follower("ftp://node.test", sandbox_key("k"), trust, node_key=NODE)


def test_follower_over_a_real_websocket() -> None:
    chain = payments_chain()
    key = sandbox_key("wing/gateway")
    seen = SeenRequests()
    refused: list[object] = []

    async def handler(connection: websockets.asyncio.server.ServerConnection) -> None:
        request = connection.request
        assert request is not None
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        now = int(headers.get("x-bakong-time", "0"))
        verdict = check_request(CHAIN, NODE, "GET", request.path, b"", headers, now, seen)
        if verdict != key.public_key:
            refused.append(verdict)
            return
        start = int(request.path.rsplit("=", 1)[1])
        for message in chain.messages[start - 1 :]:
            await connection.send(msgspec.json.encode(message).decode())
        await connection.wait_closed()

    async def run() -> list[tuple[int, int]]:
        async with websockets.asyncio.server.serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            url = f"http://127.0.0.1:{port}"
            async with Client(url, key, chain_id=CHAIN, node_key=NODE) as client:
                trust = chain.trust_before(2)
                return await _collect(client.follow(trust), 3)

    assert asyncio.run(run()) == [(2, 0), (2, 1), (2, 2)]
    assert refused == []


class _Closing:
    """A source that serves `data`, then closes the way the node does: a 4xxx close frame."""

    def __init__(self, data: list[str], code: int, reason: str) -> None:
        self.data, self.code, self.reason = data, code, reason

    async def recv(self) -> str:
        if self.data:
            return self.data.pop(0)
        raise ConnectionClosedError(Close(self.code, self.reason), None)


def _closing_follower(chain: Chain, code: int, reason: str) -> tuple[Follower, list[str]]:
    data = [msgspec.json.encode(message).decode() for message in chain.messages]
    urls: list[str] = []

    @asynccontextmanager
    async def connect(url: str, headers: Mapping[str, str]) -> AsyncIterator[MessageSource]:
        urls.append(url)
        start = int(url.rsplit("=", 1)[1]) - 1
        yield _Closing(data[start : start + 1], code, reason)

    trust = TrustState.from_genesis(chain.genesis)
    follower = Follower(
        "http://node.test",
        sandbox_key("aclb/gateway"),
        trust,
        node_key=NODE,
        connect=connect,
        sleep=_no_wait,
    )
    return follower, urls


def test_a_slow_consumer_close_is_retried_but_a_refusal_is_raised() -> None:
    chain = payments_chain()
    follower, urls = _closing_follower(chain, 4408, "slow_consumer")
    assert asyncio.run(_collect(follower, 6))[-1] == (2, 2)
    assert len(urls) == 2
    follower, urls = _closing_follower(chain, 4401, "unknown_caller")
    with pytest.raises(ApiError) as caught:
        asyncio.run(_collect(follower, 6))
    assert (caught.value.status, caught.value.code) == (401, "unknown_caller")
    assert len(urls) == 1 and follower.trust.height == 1
