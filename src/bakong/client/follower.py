"""Following the commit stream, verifying every block before anything of it is used.

A node streams one message per committed block, in height order, over `WS /v1/stream`
(a signed GET). A participant's stream carries only the transactions that touch its own
accounts, each with Merkle proofs; the central bank's carries all. The follower trusts the node
for nothing: `verify_message`, a pure function, checks each message against a `TrustState`
(chain id, last verified height and header hash, trusted validator set) and returns the next
state. The checks, in order; the first failure raises `VerificationError` with its code, and
nothing from that message is yielded:

1. `malformed`: the JSON message, hex or the canonical header/commit/transaction bytes.
2. `height`: the message and header are for the next height; `chain_id`: the header's chain.
3. `previous_hash`: the header links to the previous verified header (or the genesis hash).
4. `validators`, `validators_hash`: the announced set is well formed and hashes to the
   header's `validators_hash`.
5. `commit_<status>`: the commit is for this height and block hash and verifies under the
   announced set: signers hold more than 2/3 of its power (`consensus.commit.verify_commit`).
6. `validator_set_untrusted`: if the announced set differs from the trusted one, validators of
   the *trusted* set holding more than 1/3 of the trusted power signed this same commit
   (the Tendermint light client's skipping rule: with at most 1/3 faulty, at least one honest
   validator we trusted vouches for the new set). Only then is the new set trusted.
7. `transactions`, `tx_proof`, `result_proof`: transactions come in increasing index order
   within `tx_count`; each decodes canonically; its hash is proven at its index in the
   header's `tx_root`, and the leaf of its result (which names the transaction's hash) in the
   header's `result_root`.
8. `incomplete`: a follower created with `complete=True` (the central bank's full stream)
   requires every message to carry all `tx_count` transactions. The header has no count of
   its own; an RFC 9162 proof is checked against (index, tree size), and proofs for every
   index 0..n-1 verify only when n is the real size, so a message cannot pass off part of a
   block as all of it.

`Follower` is the I/O around it: it connects (websockets), signs the opening request for
the node's key (given, or learned through `Client.follow` from the node's status), decodes,
verifies, yields, and reconnects from the next unverified height when the connection drops,
the node is busy, or it closed the stream for being slow (4408). A
`VerificationError` is never retried: it means the node lied or is broken. Nor is a close
with another 4xxx code (4000 + HTTP status: 4401 bad signature, 4404 no such block): that is
raised as `ApiError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Protocol
from urllib.parse import urlsplit

import httpx
import msgspec
import websockets.asyncio.client
from msgspec import Meta
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bakong import limits
from bakong.client.errors import ApiError, Busy, NotFound, VerificationError
from bakong.consensus.commit import CommitStatus, verify_commit
from bakong.consensus.vote_keeper import is_above_one_third
from bakong.errors import DecodeError, LocalError
from bakong.ledger.block import BlockHeader, TxResult, block_hash, result_leaf
from bakong.ledger.commit import Commit
from bakong.ledger.genesis import GenesisFile, genesis_hash, genesis_validators
from bakong.ledger.transaction import Transaction, decode_transaction, transaction_hash
from bakong.ledger.validators import Validator, ValidatorSet, validator_set_hash
from bakong.wire import merkle
from bakong.wire.codec import decode_canonical
from bakong.wire.keys import SigningKey, public_key_size
from bakong.wire.request import sign_request

__all__ = [
    "Connect",
    "Follower",
    "MessageSource",
    "NodeKey",
    "StreamItem",
    "StreamMessage",
    "StreamResult",
    "StreamTransaction",
    "StreamValidator",
    "TrustState",
    "VerifiedBlock",
    "decode_stream_message",
    "verify_message",
]

_hex_chars = Annotated[str, Meta(max_length=2 * limits.tx_bytes_max)]
_proof = Annotated[
    tuple[Annotated[str, Meta(max_length=64)], ...], Meta(max_length=limits.merkle_proof_hashes_max)
]
_int64 = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]


# -- the message, as the node sends it (JSON, bytes as hex) ---------------------------------


class StreamValidator(msgspec.Struct, frozen=True):
    name: Annotated[str, Meta(max_length=limits.validator_name_chars_max)]
    public_key: Annotated[str, Meta(max_length=2 * public_key_size)]
    power: _int64


class StreamResult(msgspec.Struct, frozen=True):
    code: _int64
    command_index: _int64
    result: str = ""  # the code's name; informative only, the code is what is proven


class StreamTransaction(msgspec.Struct, frozen=True):
    index: _int64
    tx: _hex_chars
    tx_proof: _proof
    result: StreamResult
    result_proof: _proof


class StreamMessage(msgspec.Struct, frozen=True):
    height: _int64
    header: Annotated[str, Meta(max_length=2 * limits.client_header_bytes_max)]
    commit: Annotated[str, Meta(max_length=2 * limits.client_commit_bytes_max)]
    tx_count: _int64
    validators: Annotated[tuple[StreamValidator, ...], Meta(max_length=limits.validators_max)]
    transactions: Annotated[
        tuple[StreamTransaction, ...], Meta(max_length=limits.block_txs_max)
    ] = ()


_message_decoder = msgspec.json.Decoder(StreamMessage)


def decode_stream_message(data: str | bytes, height: int) -> StreamMessage:
    """Parse one stream message expected at `height`; `VerificationError` if malformed."""
    if len(data) > limits.client_stream_message_bytes_max:
        raise VerificationError(height, "malformed", "the message is larger than any block")
    try:
        return _message_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise VerificationError(height, "malformed", f"stream message: {error}") from None


# -- what the follower trusts and what it yields --------------------------------------------


class TrustState(msgspec.Struct, frozen=True):
    """What the follower believes: everything up to `height` is verified."""

    chain_id: str
    height: int  # the last verified height; 0 before block 1
    validators: tuple[Validator, ...]  # trusted, sorted by public key
    previous_hash: bytes | None  # hash of the header at `height` (genesis hash at 0); None: unknown

    @classmethod
    def from_genesis(cls, genesis: GenesisFile) -> TrustState:
        """Trust rooted in the genesis file: its validators, and its hash as block 0's."""
        return cls(genesis.chain_id, 0, genesis_validators(genesis), genesis_hash(genesis))


class StreamItem(msgspec.Struct, frozen=True):
    """One verified transaction of a committed block, with its proven result."""

    height: int
    index: int
    header: BlockHeader
    tx_hash: bytes
    transaction: Transaction
    result: TxResult


class VerifiedBlock(msgspec.Struct, frozen=True):
    height: int
    header: BlockHeader
    block_hash: bytes
    commit: Commit
    validators: tuple[Validator, ...]
    tx_count: int
    items: tuple[StreamItem, ...]  # the transactions the stream carried (a filtered stream: some)


# -- verification (pure) --------------------------------------------------------------------


def _hex(text: str, height: int, what: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = None
    if value is None or text != text.lower():
        raise VerificationError(height, "malformed", f"{what} is not lower-case hex")
    return value


def _header(trust: TrustState, message: StreamMessage, height: int) -> BlockHeader:
    if message.height != height:
        raise VerificationError(height, "height", f"the node sent height {message.height}")
    try:
        raw = _hex(message.header, height, "header")
        header = decode_canonical(raw, BlockHeader, bytes_max=limits.client_header_bytes_max)
    except DecodeError as error:
        raise VerificationError(height, "malformed", f"header: {error}") from None
    if header.chain_id != trust.chain_id:
        raise VerificationError(height, "chain_id", f"the header is for {header.chain_id!r}")
    if header.height != height:
        raise VerificationError(height, "height", f"the header is for height {header.height}")
    if trust.previous_hash is not None and header.previous_hash != trust.previous_hash:
        raise VerificationError(
            height, "previous_hash", f"the header does not link to block {trust.height}"
        )
    return header


def _announced_validators(
    message: StreamMessage, header: BlockHeader, height: int
) -> tuple[Validator, ...]:
    validators = tuple(
        Validator(v.name, _hex(v.public_key, height, "a validator key"), v.power)
        for v in message.validators
    )
    keys = [validator.public_key for validator in validators]
    well_formed = (
        0 < len(validators) <= limits.validators_max
        and all(len(key) == public_key_size for key in keys)
        and all(a < b for a, b in zip(keys, keys[1:], strict=False))
        and all(0 < v.power <= limits.validator_power_max for v in validators)
    )
    if not well_formed:
        raise VerificationError(
            height, "validators", "validators must be sorted, distinct, with valid powers"
        )
    if validator_set_hash(header.chain_id, validators) != header.validators_hash:
        raise VerificationError(
            height, "validators_hash", "the announced validators are not the header's"
        )
    return validators


def _commit(
    trust: TrustState,
    message: StreamMessage,
    header: BlockHeader,
    validators: tuple[Validator, ...],
    height: int,
) -> tuple[Commit, bytes]:
    try:
        raw = _hex(message.commit, height, "commit")
        commit = decode_canonical(raw, Commit, bytes_max=limits.client_commit_bytes_max)
    except DecodeError as error:
        raise VerificationError(height, "malformed", f"commit: {error}") from None
    header_hash = block_hash(header)
    status = verify_commit(
        header.chain_id, commit, ValidatorSet(validators), height=height, block_hash=header_hash
    )
    if status is not CommitStatus.OK:
        raise VerificationError(height, f"commit_{status.value}", "the commit does not verify")
    if validators != trust.validators:
        trusted = ValidatorSet(trust.validators)
        vouching = sum(trusted.power_of(signature.validator) for signature in commit.signatures)
        if not is_above_one_third(vouching, trusted.total_power):
            raise VerificationError(
                height,
                "validator_set_untrusted",
                f"trusted validators with {vouching} of {trusted.total_power} power signed; "
                "more than a third is needed to trust a new set",
            )
    return commit, header_hash


def _transaction(
    entry: StreamTransaction, header: BlockHeader, tx_count: int, height: int
) -> StreamItem:
    where = f"transaction {entry.index}"
    try:
        transaction = decode_transaction(_hex(entry.tx, height, where))
    except DecodeError as error:
        raise VerificationError(height, "malformed", f"{where}: {error}") from None
    tx_hash = transaction_hash(transaction.payload)
    proof = [_hex(sibling, height, f"{where} proof") for sibling in entry.tx_proof]
    if not merkle.verify_inclusion(tx_hash, entry.index, tx_count, proof, header.tx_root):
        raise VerificationError(height, "tx_proof", f"{where} is not proven in tx_root")
    result = TxResult(tx_hash, entry.result.code, entry.result.command_index)
    leaf = result_leaf(header.chain_id, result)
    proof = [_hex(sibling, height, f"{where} result proof") for sibling in entry.result_proof]
    if not merkle.verify_inclusion(leaf, entry.index, tx_count, proof, header.result_root):
        raise VerificationError(height, "result_proof", f"{where}'s result is not proven")
    return StreamItem(height, entry.index, header, tx_hash, transaction, result)


def _transactions(
    message: StreamMessage, header: BlockHeader, height: int, complete: bool
) -> tuple[StreamItem, ...]:
    tx_count = message.tx_count
    if not 0 <= tx_count <= limits.block_txs_max or len(message.transactions) > tx_count:
        raise VerificationError(height, "transactions", f"tx_count {tx_count} is impossible")
    if tx_count == 0 and (header.tx_root, header.result_root) != (merkle.empty_root,) * 2:
        # No proof pins a count of zero; the empty roots do.
        raise VerificationError(height, "transactions", "tx_count 0 but the block has some")
    if complete and len(message.transactions) != tx_count:
        raise VerificationError(height, "incomplete", "a complete stream carries every transaction")
    indexes = [entry.index for entry in message.transactions]
    if any(a >= b for a, b in zip(indexes, indexes[1:], strict=False)):
        raise VerificationError(height, "transactions", "indexes must increase")
    return tuple(_transaction(entry, header, tx_count, height) for entry in message.transactions)


def verify_message(
    trust: TrustState, message: StreamMessage, *, complete: bool = False
) -> tuple[TrustState, VerifiedBlock]:
    """Verify the message for height `trust.height + 1` (module docstring); the new trust.

    `complete`: the stream must carry every transaction of every block (the central bank's).
    """
    height = trust.height + 1
    header = _header(trust, message, height)
    validators = _announced_validators(message, header, height)
    commit, header_hash = _commit(trust, message, header, validators, height)
    items = _transactions(message, header, height, complete)
    block = VerifiedBlock(height, header, header_hash, commit, validators, message.tx_count, items)
    return TrustState(trust.chain_id, height, validators, header_hash), block


# -- the connection (I/O) -------------------------------------------------------------------


class MessageSource(Protocol):
    async def recv(self) -> str | bytes: ...


#: Opens the stream: (ws URL, signed headers) -> an async context manager of a message source.
Connect = Callable[[str, Mapping[str, str]], AbstractAsyncContextManager[MessageSource]]
Sleep = Callable[[float], Awaitable[None]]
#: The node's public key, or how to learn it (`Client.resolve_node_key`).
NodeKey = bytes | Callable[[], Awaitable[bytes]]


class _WebSocketSource:
    def __init__(self, connection: websockets.asyncio.client.ClientConnection) -> None:
        self._connection = connection

    async def recv(self) -> str | bytes:
        return await self._connection.recv()


@asynccontextmanager
async def websocket_connect(url: str, headers: Mapping[str, str]) -> AsyncIterator[MessageSource]:
    """The default `Connect`: a websockets client; a refused handshake becomes an `ApiError`."""
    try:
        connection = await websockets.asyncio.client.connect(
            url, additional_headers=dict(headers), max_size=limits.client_stream_message_bytes_max
        )
    except InvalidStatus as error:
        status = error.response.status_code
        body = error.response.body.decode(errors="replace")[:200] if error.response.body else ""
        kind = Busy if status == 503 else ApiError
        raise kind(status, "busy" if status == 503 else f"http_{status}", body) from None
    async with connection:
        yield _WebSocketSource(connection)


_websocket_schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
# A dropped connection, a refused TCP connect, a busy node: come back from the next height.
_transient = (ConnectionClosed, OSError, TimeoutError, Busy, httpx.TransportError)
# The node closes a stream with 4000 + an HTTP status. A slow consumer or a rate limit may
# succeed on a new connection; any other 4xx (a bad signature, an unknown caller, a pruned
# height) will not, and is raised instead of retried forever.
_close_codes_retried = frozenset({4408, 4429})


def _refusal(error: BaseException) -> ApiError | None:
    """The `ApiError` a close frame stands for, or None when reconnecting may help."""
    frame = error.rcvd if isinstance(error, ConnectionClosed) else None
    if frame is None or not 4400 <= frame.code <= 4499 or frame.code in _close_codes_retried:
        return None
    status = frame.code - 4000
    kind = NotFound if status == 404 else ApiError
    return kind(status, frame.reason or f"http_{status}", "the node closed the stream")


class Follower:
    """Async iterator of verified `StreamItem`s (`blocks()` for whole `VerifiedBlock`s)."""

    def __init__(
        self,
        base_url: str,
        key: SigningKey,
        trust: TrustState,
        *,
        node_key: NodeKey,
        clock_ms: Callable[[], int] | None = None,
        reconnects_max: int | None = None,
        connect: Connect | None = None,
        sleep: Sleep = asyncio.sleep,
        complete: bool = False,
    ) -> None:
        self._complete = complete
        parts = urlsplit(base_url)
        scheme = _websocket_schemes.get(parts.scheme)
        if scheme is None:
            raise LocalError(f"a node URL is http(s):// or ws(s)://, not {base_url!r}")
        self._origin = f"{scheme}://{parts.netloc}"
        self._path = parts.path.rstrip("/")
        self._key = key
        self._node_key = node_key
        self._trust = trust
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._reconnects_max = reconnects_max
        self._connect = connect or websocket_connect
        self._sleep = sleep

    @property
    def trust(self) -> TrustState:
        """Everything verified so far; save it to resume later with `Follower(..., trust)`."""
        return self._trust

    async def _open(self) -> AbstractAsyncContextManager[MessageSource]:
        target = f"{self._path}/v1/stream?from_height={self._trust.height + 1}"
        given = self._node_key
        node_key = given if isinstance(given, bytes) else await given()
        chain_id = self._trust.chain_id
        headers = sign_request(chain_id, node_key, self._key, "GET", target, b"", self._clock_ms())
        return self._connect(self._origin + target, headers)

    async def blocks(self) -> AsyncIterator[VerifiedBlock]:
        failures = 0
        delay = limits.client_reconnect_delay_s_min
        while True:
            try:
                async with await self._open() as source:
                    while True:
                        data = await source.recv()
                        height = self._trust.height + 1
                        message = decode_stream_message(data, height)
                        self._trust, block = verify_message(
                            self._trust, message, complete=self._complete
                        )
                        failures, delay = 0, limits.client_reconnect_delay_s_min
                        yield block
            except _transient as error:
                refusal = _refusal(error)
                if refusal is not None:
                    raise refusal from None
                failures += 1
                if self._reconnects_max is not None and failures > self._reconnects_max:
                    raise
            await self._sleep(delay)
            delay = min(2 * delay, limits.client_reconnect_delay_s_max)

    async def transactions(self) -> AsyncIterator[StreamItem]:
        async for block in self.blocks():
            for item in block.items:
                yield item

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        return self.transactions()
