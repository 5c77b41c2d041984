"""Business rules: limits by Phnom Penh day, caps, holds and their expiry, validator changes
at height + 2, pruning of the replay window, participant suspension, issue and redeem, and the
published gateway URLs."""

from __future__ import annotations

from bakong.ledger.assets import Asset
from bakong.ledger.commands import (
    AddValidator,
    PlaceHold,
    PostHold,
    SetParticipantEndpoint,
    UpdateParticipant,
)
from bakong.ledger.policy import phnom_penh_day
from bakong.ledger.records import (
    Head,
    Hold,
    HoldStatus,
    KycTier,
    ParticipantEndpoint,
    ParticipantStatus,
    ValidatorSchedule,
)
from bakong.ledger.result import ResultCode
from bakong.ledger.state import (
    HEAD_KEY,
    VALIDATORS_KEY,
    decode_value,
    endpoint_key,
    hold_key,
    participant_key,
    seen_key,
)
from bakong.sandbox import Sandbox, sandbox_key

HOUR_MS = 3_600_000


def _chain(tier: KycTier = KycTier.basic) -> Sandbox:
    chain = Sandbox()
    chain.commit(
        [
            chain.transaction(
                "nbc",
                [
                    chain.issue("aclb", Asset.KHR, 10**12, "r"),
                    chain.issue("aclb", Asset.USD, 10**9, "r2"),
                ],
            )
        ]
    )
    chain.commit(
        [
            chain.transaction("aclb", [chain.open_account("sokha@aclb", tier=tier)]),
            chain.transaction("wing", [chain.open_account("dara@wing")]),
        ]
    )
    fund = [
        chain.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 3_900_000),
        chain.transfer("settlement@aclb", "sokha@aclb", Asset.USD, 900_00),
    ]
    assert _codes(chain, [chain.transaction("settlement@aclb", fund)]) == [ResultCode.ok]
    return chain


def _codes(chain: Sandbox, transactions: list, advance_ms: int | None = None) -> list[ResultCode]:  # type: ignore[type-arg]
    outcome = chain.commit(transactions, advance_ms=advance_ms)
    return [ResultCode(result.code) for result in outcome.results]


def _pay(chain: Sandbox, amount: int, asset: Asset = Asset.KHR) -> ResultCode:
    transfer = chain.transfer("sokha@aclb", "dara@wing", asset, amount)
    return _codes(chain, [chain.transaction("sokha@aclb", [transfer])])[0]


def test_phnom_penh_day_turns_at_17_00_utc() -> None:
    midnight_phnom_penh = 1_767_200_400_000  # 2025-12-31 17:00 UTC = 2026-01-01 00:00 UTC+7
    assert phnom_penh_day(midnight_phnom_penh) == phnom_penh_day(midnight_phnom_penh - 1) + 1


def test_tier_zero_daily_limit_resets_at_phnom_penh_midnight() -> None:
    chain = _chain(KycTier.basic)
    assert _pay(chain, 1_500_000) is ResultCode.ok
    assert _pay(chain, 600_000) is ResultCode.daily_limit_exceeded
    assert _pay(chain, 500_000) is ResultCode.ok
    assert _pay(chain, 1) is ResultCode.daily_limit_exceeded
    assert _pay(chain, 500_00, Asset.USD) is ResultCode.ok  # 500 USD: each asset separately
    next_day_ms = (phnom_penh_day(chain.time_ms) + 1) * 86_400_000 - 7 * HOUR_MS
    chain.time_ms = next_day_ms - chain.block_interval_ms
    assert _pay(chain, 1_000_000) is ResultCode.ok


def test_tier_zero_balance_cap() -> None:
    chain = _chain(KycTier.basic)
    over = chain.transfer("settlement@aclb", "sokha@aclb", Asset.KHR, 100_001)
    assert _codes(chain, [chain.transaction("settlement@aclb", [over])]) == [
        ResultCode.balance_cap_exceeded
    ]


def test_institutional_per_transfer_cap() -> None:
    chain = _chain(KycTier.full)
    big = chain.transfer("settlement@aclb", "dara@wing", Asset.KHR, 200_000_001)
    ok = chain.transfer("settlement@aclb", "dara@wing", Asset.KHR, 200_000_000)
    codes = _codes(
        chain,
        [chain.transaction("settlement@aclb", [big]), chain.transaction("settlement@aclb", [ok])],
    )
    assert codes == [ResultCode.transfer_cap_exceeded, ResultCode.ok]


def _hold(chain: Sandbox, hold_id: bytes, lifetime_ms: int) -> PlaceHold:
    return PlaceHold(
        hold_id=hold_id,
        source="sokha@aclb",
        target="dara@wing",
        poster="dara@wing",
        asset=Asset.KHR,
        amount=1_000,
        expires_ms=chain.time_ms + chain.block_interval_ms + lifetime_ms,
        memo="",
        reference="",
    )


def _hold_record(chain: Sandbox, hold_id: bytes) -> Hold:
    record = decode_value(hold_key(hold_id), chain.store.get(hold_key(hold_id)) or b"")
    assert isinstance(record, Hold)
    return record


def test_hold_post_returns_the_rest_and_expired_holds_void_themselves() -> None:
    chain = _chain(KycTier.full)
    first, second = b"1" * 16, b"2" * 16
    holds = [_hold(chain, first, 60_000), _hold(chain, second, 90_000)]
    assert _codes(chain, [chain.transaction("sokha@aclb", holds)]) == [ResultCode.ok]
    sokha = chain.account("sokha@aclb")
    assert sokha is not None and sokha.held == (2_000, 0) and sokha.balances[0] == 3_898_000
    post = PostHold(hold_id=first, amount=400)
    assert _codes(chain, [chain.transaction("dara@wing", [post])]) == [ResultCode.ok]
    assert _codes(chain, [chain.transaction("dara@wing", [post])]) == [
        ResultCode.hold_already_posted
    ]
    assert _hold_record(chain, second).status is HoldStatus.pending
    chain.commit([], advance_ms=90_001)  # the first block whose time is past the expiry
    assert _hold_record(chain, second).status is HoldStatus.expired
    sokha = chain.account("sokha@aclb")
    assert sokha is not None and sokha.held == (0, 0) and sokha.balances[0] == 3_899_600
    dara = chain.account("dara@wing")
    assert dara is not None and dara.balances[0] == 400
    late = PostHold(hold_id=second, amount=1)
    assert _codes(chain, [chain.transaction("dara@wing", [late])]) == [ResultCode.hold_expired]
    head = decode_value(HEAD_KEY, chain.store.get(HEAD_KEY) or b"")
    assert isinstance(head, Head) and head.holds_pending == 0


def test_validator_change_takes_effect_at_height_plus_two() -> None:
    chain = _chain()
    added = AddValidator(name="validator-2", public_key=sandbox_key("v2").public_key, power=3)
    outcome = chain.commit([chain.transaction("nbc", [added])])
    change_height = len(chain.blocks)
    schedule = decode_value(VALIDATORS_KEY, chain.store.get(VALIDATORS_KEY) or b"")
    assert isinstance(schedule, ValidatorSchedule)
    assert len(schedule.current) == 1 and len(schedule.next) == 2
    next_outcome = chain.commit([])
    assert next_outcome.validators_hash == outcome.validators_hash  # height h + 1: old set
    later = chain.commit([])
    assert later.validators_hash != outcome.validators_hash  # height h + 2: new set
    assert len(chain.blocks) == change_height + 2


def test_replay_entries_are_pruned_after_the_window() -> None:
    chain = _chain()
    payment = chain.transaction(
        "sokha@aclb", [chain.transfer("sokha@aclb", "dara@wing", Asset.KHR, 1)]
    )
    outcome = chain.commit([payment])
    key = seen_key(payment.payload.created_ms, outcome.results[0].tx_hash)
    assert chain.store.get(key) is not None
    chain.commit([], advance_ms=24 * HOUR_MS + 5 * 60_000 + 1)
    chain.commit([])
    assert chain.store.get(key) is None
    assert _codes(chain, [payment]) == [ResultCode.expired]


def test_suspended_participant_cannot_transact() -> None:
    chain = _chain()
    suspend = UpdateParticipant(
        code="wing",
        name="Wing",
        status=ParticipantStatus.suspended,
        admin_keys=(sandbox_key("wing/admin").public_key,),
        admin_quorum=1,
        gateway_keys=(),
    )
    assert _codes(chain, [chain.transaction("nbc", [suspend])]) == [ResultCode.ok]
    assert _pay(chain, 10) is ResultCode.target_account_not_active
    assert _codes(chain, [chain.transaction("wing", [chain.open_account("x@wing")])]) == [
        ResultCode.creator_not_active
    ]


def test_redeem_cannot_exceed_the_settlement_balance() -> None:
    chain = _chain()
    redeem_all = chain.issue("wing", Asset.KHR, 1, "r")
    from bakong.ledger.commands import Redeem

    redeem = Redeem(account="settlement@wing", asset=Asset.KHR, amount=1, reserve_ref="x")
    assert _codes(chain, [chain.transaction("nbc", [redeem])]) == [ResultCode.insufficient_funds]
    assert _codes(chain, [chain.transaction("nbc", [redeem_all, redeem])]) == [ResultCode.ok]


def test_the_central_bank_publishes_and_withdraws_a_gateway_url() -> None:
    chain = Sandbox()
    participant_before = chain.store.get(participant_key("wing"))

    def endpoint(code: str, url: str) -> list[ResultCode]:
        command = SetParticipantEndpoint(code=code, gateway_url=url)
        return _codes(chain, [chain.transaction("nbc", [command])])

    assert endpoint("wing", "https://gateway.wing.example:8443/bakong") == [ResultCode.ok]
    raw = chain.store.get(endpoint_key("wing"))
    assert raw is not None
    assert decode_value(endpoint_key("wing"), raw) == ParticipantEndpoint(
        gateway_url="https://gateway.wing.example:8443/bakong"
    )
    # The participant record itself is untouched: its encoding is part of the wire format.
    assert chain.store.get(participant_key("wing")) == participant_before
    assert endpoint("nope", "https://gw.nope.example") == [ResultCode.participant_not_found]
    for bad in ("ftp://gw.wing.example", "https://user@gw.wing.example", "https://gw?x=1"):
        assert endpoint("wing", bad) == [ResultCode.gateway_url_invalid], bad
    assert endpoint("wing", "") == [ResultCode.ok]
    assert chain.store.get(endpoint_key("wing")) is None
    assert endpoint("wing", "") == [ResultCode.ok]  # withdrawing nothing changes nothing
