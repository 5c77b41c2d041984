"""Issue 14, item 1, through the real API: a bank sees only its own customers' payments.

The probe of the issue (`probe1@aclb` pays `probew@wing` and `probea@abaa` in one transaction)
and the central bank issuing to two banks in one transaction are submitted through
`POST /v1/transactions`, committed by `MemoryService`, and read back by each bank through
`GET /v1/blocks/{h}`, the commit stream and `GET /v1/transactions/{hash}`. Then a hypothesis
property over random blocks of random transactions (payments, holds with post and void,
issues, several commands each): no participant's view holds a transaction with a command
that does not touch it unless the participant wrote it, every `ok` transaction reaches every
participant it touches, and everything shown verifies against the header. Last, alias lookups:
rate limit, per-participant metrics, and the central bank's audit trail.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakong.client import ApiError, Busy, Client
from bakong.ledger.assets import Asset
from bakong.ledger.block import decode_block
from bakong.ledger.commands import Command, PlaceHold, PostHold, VoidHold
from bakong.ledger.result import ResultCode
from bakong.ledger.touches import command_touches, creator_participant
from bakong.ledger.transaction import Transaction, transaction_hash
from bakong.node.alias_lookups import LookupLimiter
from bakong.node.auth import Caller
from bakong.node.stream import BlockReader
from bakong.sandbox import Sandbox
from bakong.wire.codec import encode
from tests.node.memory_service import (
    ALIAS,
    NOW_MS,
    MemoryService,
    gateway_key,
    payments_service,
    verify_message,
)
from tests.node.test_api import Api

with warnings.catch_warnings():  # as in test_stream: the httpx deprecation only
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

CHAIN = "bakong-sandbox"
KHR = Asset.KHR
BANKS = ("aclb", "wing", "abaa")


def _probe_service() -> MemoryService:
    service = MemoryService()
    sb = service.sandbox
    service.commit([sb.transaction("nbc", [sb.issue("aclb", KHR, 10**9, "r")])])
    service.commit(
        [
            sb.transaction("aclb", [sb.open_account("probe1@aclb")]),
            sb.transaction("wing", [sb.open_account("probew@wing")]),
            sb.transaction("abaa", [sb.open_account("probea@abaa")]),
        ]
    )
    fund = sb.transfer("settlement@aclb", "probe1@aclb", KHR, 1_000_000)
    service.commit([sb.transaction("settlement@aclb", [fund])])
    return service


def _submit(api: Api, transaction: Transaction, who: str) -> bytes:
    response = api.submit([encode(transaction)], who=who)
    assert response.status_code == 202, response.text
    return transaction_hash(transaction.payload)


def _shown(api: Api, who: str, height: int) -> list[bytes]:
    """The hashes `who` is shown at `height`, each verified as a gateway would."""
    body = api.call("GET", f"/v1/blocks/{height}", who=who).json()
    return [transaction_hash(tx.payload) for tx in verify_message(CHAIN, body)]


def _streamed(api: Api, who: str, height: int) -> list[bytes]:
    target = f"/v1/stream?from_height={height}"
    with TestClient(api.app) as client:
        headers = api.signer(who).headers("GET", target)
        with client.websocket_connect(target, headers=headers) as socket:
            message: dict[str, Any] = msgspec.json.decode(socket.receive_text())
    assert message["height"] == height
    return [transaction_hash(tx.payload) for tx in verify_message(CHAIN, message)]


def _status(api: Api, who: str, tx_hash: bytes) -> tuple[int, Any]:
    response = api.call("GET", f"/v1/transactions/{tx_hash.hex()}", who=who)
    return response.status_code, response.json()


def _unknown_body(api: Api, tx_hash: bytes) -> Any:
    """What the API answers for a hash it has never seen, with `tx_hash` in it."""
    never = bytes(32)
    status, body = _status(api, "nbc", never)
    assert status == 404
    return {**body, "tx_hash": tx_hash.hex()}


def test_the_multi_bank_probe_shows_wing_nothing_of_the_abaa_payment() -> None:
    api = Api(_probe_service())
    service, sb = api.service, api.service.sandbox
    mixed = sb.transaction(
        "probe1@aclb",
        [
            sb.transfer("probe1@aclb", "probew@wing", KHR, 1_000, memo="for wing"),
            sb.transfer("probe1@aclb", "probea@abaa", KHR, 2_000, memo="for abaa"),
        ],
    )
    mixed_hash = _submit(api, mixed, "aclb")
    single = sb.transaction("probe1@aclb", [sb.transfer("probe1@aclb", "probew@wing", KHR, 3)])
    single_hash = _submit(api, single, "aclb")
    stored = service.commit_pending()
    height = stored.height
    codes = {result.tx_hash: result.code for result in stored.results}
    assert codes == {mixed_hash: ResultCode.participants_mixed, single_hash: ResultCode.ok}
    # The central bank sees both; aclb (the creator's bank) both; wing only its payment.
    assert set(_streamed(api, "nbc", height)) == {mixed_hash, single_hash}
    assert set(_shown(api, "aclb", height)) == {mixed_hash, single_hash}
    for read in (_shown, _streamed):
        assert read(api, "wing", height) == [single_hash]
        assert read(api, "abaa", height) == []
    # The status: to the submitter and the central bank; to wing the unknown hash's 404.
    assert _status(api, "aclb", mixed_hash)[1]["result"] == "participants_mixed"
    assert _status(api, "nbc", mixed_hash)[0] == 200
    for bank in ("wing", "abaa"):
        assert _status(api, bank, mixed_hash) == (404, _unknown_body(api, mixed_hash))
    # A payment wing's customer received: wing learns its status without having submitted it.
    assert _status(api, "wing", single_hash)[1]["state"] == "committed"
    assert _status(api, "abaa", single_hash) == (404, _unknown_body(api, single_hash))


def test_the_central_bank_issuing_to_two_banks_shows_neither_the_other() -> None:
    api = Api(_probe_service())
    sb = api.service.sandbox
    both = sb.transaction(
        "nbc", [sb.issue("aclb", KHR, 5, "r-aclb"), sb.issue("wing", KHR, 7, "r-wing")]
    )
    tx_hash = _submit(api, both, "nbc")
    height = api.service.commit_pending().height
    assert _status(api, "nbc", tx_hash)[1]["result"] == "participants_mixed"
    for bank in ("aclb", "wing"):
        assert _shown(api, bank, height) == [] and _streamed(api, bank, height) == []
        assert _status(api, bank, tx_hash) == (404, _unknown_body(api, tx_hash))


def test_a_pending_status_is_told_only_to_its_submitter() -> None:
    api = Api(_probe_service())
    sb = api.service.sandbox
    payment = sb.transaction("probe1@aclb", [sb.transfer("probe1@aclb", "probew@wing", KHR, 9)])
    tx_hash = _submit(api, payment, "aclb")
    assert _status(api, "aclb", tx_hash)[1]["state"] == "pending"
    assert _status(api, "nbc", tx_hash)[1]["state"] == "pending"
    assert _status(api, "wing", tx_hash) == (404, _unknown_body(api, tx_hash))
    api.service.commit_pending()
    assert _status(api, "wing", tx_hash)[1]["state"] == "committed"


# The property: random blocks of random transactions.

ACCOUNTS = tuple(f"u{i}@{BANKS[i % 3]}" for i in range(6))


def _funded_service() -> MemoryService:
    service = MemoryService()
    sb = service.sandbox
    service.commit([sb.transaction("nbc", [sb.issue(b, KHR, 10**9, "r")]) for b in BANKS])
    service.commit([sb.transaction(a.split("@")[1], [sb.open_account(a)]) for a in ACCOUNTS])
    service.commit(
        [
            sb.transaction(
                f"settlement@{a.split('@')[1]}",
                [sb.transfer(f"settlement@{a.split('@')[1]}", a, KHR, 100_000)],
            )
            for a in ACCOUNTS
        ]
    )
    return service


_account = st.sampled_from(ACCOUNTS)
# (kind, source, target, poster, hold number, amount); kinds: 0 transfer, 1 hold, 2 post,
# 3 void, 4 issue by the central bank.
_command = st.tuples(
    st.integers(0, 4), _account, _account, _account, st.integers(0, 7), st.integers(1, 500)
)
_transaction = st.lists(_command, min_size=1, max_size=3)


class _Model:
    """Builds the drawn transactions and remembers, independently of the node, who each hold
    it placed names."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self.holds: dict[bytes, tuple[str, str, str]] = {}

    def hold_parties(self, hold_id: bytes) -> tuple[str, ...]:
        return self.holds.get(hold_id, ())

    def command(self, drawn: tuple[int, str, str, str, int, int]) -> tuple[str, Command]:
        kind, source, target, poster, number, amount = drawn
        hold_id = number.to_bytes(16, "big")
        if kind == 0:
            return source, self.sb.transfer(source, target, KHR, amount)
        if kind == 1:
            hold_id = (len(self.holds) + 100).to_bytes(16, "big")
            self.holds[hold_id] = (source, target, poster)
            expires_ms = self.sb.time_ms + 3_600_000
            return source, PlaceHold(
                hold_id, source, target, poster, KHR, amount, expires_ms, "", ""
            )
        hold_id = sorted(self.holds)[number % len(self.holds)] if self.holds else hold_id
        creator = self.holds.get(hold_id, (source, target, poster))[2]
        if kind == 2:
            return creator, PostHold(hold_id, amount)
        if kind == 3:
            return creator, VoidHold(hold_id)
        return "nbc", self.sb.issue(target.split("@")[1], KHR, amount, "r")

    def transaction(self, drawn: list[tuple[int, str, str, str, int, int]]) -> Transaction:
        built = [self.command(item) for item in drawn]
        return self.sb.transaction(built[0][0], [command for _, command in built])


def _caller(code: str) -> Caller:
    return Caller(code, code == "nbc", True, gateway_key(code).public_key)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_transaction, min_size=1, max_size=8), min_size=1, max_size=3))
def test_no_view_holds_a_command_that_does_not_touch_its_participant(
    blocks: list[list[list[tuple[int, str, str, str, int, int]]]],
) -> None:
    service = _funded_service()
    model = _Model(service.sandbox)
    first = service.height + 1
    for drawn in blocks:
        service.commit([model.transaction(item) for item in drawn])
    reader = BlockReader(service)
    for height in range(first, service.height + 1):
        stored = service.blocks[height - 1]
        for bank in BANKS:
            message = reader.message(_caller(bank), height)
            assert message is not None
            shown = verify_message(CHAIN, message)
            for transaction in shown:
                payload = transaction.payload
                if creator_participant(payload.creator) == bank:
                    continue  # it wrote this transaction: nothing in it is news to it
                for command in payload.commands:
                    assert bank in command_touches(command, payload.creator, model.hold_parties)
            shown_hashes = {transaction_hash(tx.payload) for tx in shown}
            for result in stored.results:
                if result.code != ResultCode.ok:
                    continue
                transaction = _transaction_by_hash(stored.block, result.tx_hash)
                touched = set().union(
                    *(
                        command_touches(c, transaction.payload.creator, model.hold_parties)
                        for c in transaction.payload.commands
                    )
                )
                assert (bank in touched) <= (result.tx_hash in shown_hashes)


def _transaction_by_hash(block_bytes: bytes, tx_hash: bytes) -> Transaction:
    (found,) = [
        tx
        for tx in decode_block(block_bytes).transactions
        if transaction_hash(tx.payload) == tx_hash
    ]
    return found


# Alias lookups.


def test_the_lookup_bucket_refills_at_its_rate() -> None:
    limiter = LookupLimiter(rate_per_s=20, burst=100)
    assert [limiter.take("aclb", 0) for _ in range(100)] == [0] * 100
    assert limiter.take("aclb", 0) == 50  # a token every 50 ms
    assert limiter.take("wing", 0) == 0  # per participant
    assert limiter.take("aclb", 49) == 1
    assert limiter.take("aclb", 50) == 0
    assert limiter.take("aclb", 10) == 50  # a clock stepping back refills nothing
    assert limiter.take("aclb", 10_000) == 0
    assert [limiter.take("aclb", 10_000) for _ in range(99)] == [0] * 99  # refilled to burst
    assert limiter.take("aclb", 10_000) > 0


def _lookup(api: Api, who: str, alias: bytes = ALIAS) -> Any:
    return api.call("GET", f"/v1/aliases/{alias.hex()}", who=who)


def test_alias_lookups_are_rate_limited_counted_and_audited() -> None:
    api = Api(payments_service())
    api.app.state.api.lookup_limiter = LookupLimiter(rate_per_s=1, burst=2)
    assert [_lookup(api, "wing").status_code for _ in range(2)] == [200, 200]
    refused = _lookup(api, "wing")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["retry-after"] == "1"
    assert _lookup(api, "abaa", bytes(32)).status_code == 404  # its own bucket
    metrics = api.call("GET", "/metrics", who=None).text
    for participant, outcome, count in [
        ("wing", "found", 2),
        ("wing", "rate_limited", 1),
        ("abaa", "not_found", 1),
    ]:
        sample = f'participant="{participant}",outcome="{outcome}"'
        assert f"bakong_api_alias_lookups_total{{{sample}}} {count}" in metrics
    assert ALIAS.hex() not in metrics
    page = api.call("GET", "/v1/audit/alias-lookups", who="nbc").json()
    assert page["next_after"] is None
    assert page["lookups"] == [
        {
            "sequence": 1,
            "time_ms": NOW_MS,
            "participant": "wing",
            "public_key": gateway_key("wing").public_key.hex(),
            "alias": ALIAS.hex(),
            "account_id": "sokha@aclb",
        },
        {**page["lookups"][0], "sequence": 2},
        {**page["lookups"][0], "sequence": 3, "participant": "abaa", "alias": "00" * 32}
        | {"public_key": gateway_key("abaa").public_key.hex(), "account_id": None},
    ]


def test_the_audit_trail_pages_and_is_the_central_banks_alone() -> None:
    api = Api(payments_service())
    for who in ("wing", "abaa", "aclb"):
        assert _lookup(api, who).status_code == 200
    first = api.call("GET", "/v1/audit/alias-lookups?limit=2", who="nbc").json()
    assert [e["participant"] for e in first["lookups"]] == ["wing", "abaa"]
    assert first["next_after"] == 2
    rest = api.call("GET", "/v1/audit/alias-lookups?after=2&limit=2", who="nbc").json()
    assert [e["participant"] for e in rest["lookups"]] == ["aclb"]
    assert rest["next_after"] is None
    for who in ("wing", "aclb"):
        refused = api.call("GET", "/v1/audit/alias-lookups", who=who)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    for query, code in [("limit=0", "malformed_limit"), ("after=x", "malformed_after")]:
        bad = api.call("GET", f"/v1/audit/alias-lookups?{query}", who="nbc")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == code


def test_the_sdk_reads_the_audit_trail_and_sees_rate_limits_as_busy() -> None:
    api = Api(payments_service())
    api.app.state.api.lookup_limiter = LookupLimiter(rate_per_s=1, burst=1)

    def client(who: str) -> Client:
        transport = httpx.ASGITransport(app=api.app)
        return Client("http://node", gateway_key(who), transport=transport, clock_ms=lambda: NOW_MS)

    async def scenario() -> None:
        async with client("wing") as wing, client("nbc") as nbc:
            assert (await wing.alias(ALIAS)).account_id == "sokha@aclb"
            with pytest.raises(Busy) as refused:
                await wing.alias(ALIAS)
            assert (refused.value.status, refused.value.code) == (429, "rate_limited")
            with pytest.raises(ApiError) as forbidden:
                await wing.alias_lookups()
            assert forbidden.value.status == 403
            page = await nbc.alias_lookups(after=0, limit=1)
            (entry,) = page.lookups
            assert (entry.sequence, entry.participant, entry.alias) == (1, "wing", ALIAS)
            assert (entry.account_id, page.next_after) == ("sokha@aclb", 1)
            assert (await nbc.alias_lookups(after=1)).lookups == ()

    asyncio.run(scenario())
