"""Governance through maker/checker, and the supervision figures (SQLite and PostgreSQL, a real
node API in process).

What must hold: a participant registered through the forms appears on the ledger (with its
published gateway URL) and in the store only after another supervisor approves it; a key
rotation is shown beside the current keys, and after approval the new admin key signs for
the participant and the old one no longer does; a limits change is shown as a diff against
the policy in force and applies, on the ledger and in the store, only after approval; no one
approves their own governance proposal; bad input is refused with precise codes; the
supervision page counts payments per minute, the approval rate and the declines by result
code per participant; a participant made send-only through the participants page is never
paid afterwards (`target_participant_send_only`) but still pays.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from bakong.console import governance, proposals, supervision
from bakong.gateway.problems import GatewayProblem
from bakong.ledger.assets import Asset
from bakong.ledger.policy import DEFAULT_POLICY, LimitsPolicy
from bakong.ledger.records import Participant
from bakong.ledger.result import ResultCode
from bakong.ledger.state import POLICY_KEY, decode_value, participant_key
from bakong.sandbox import sandbox_key
from tests.console.console_harness import (
    PASSWORD,
    RunningConsole,
    console,
    console_engine,
    core,
    database_url,
    make_console_services,
    postgres_server,
)

__all__ = ["console", "console_engine", "core", "database_url", "postgres_server"]

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NEW_ADMIN = sandbox_key("newb/admin").public_key.hex()
NEW_GATEWAY = sandbox_key("newb/gateway").public_key.hex()
WING_ADMIN_2 = sandbox_key("wing/admin-2").public_key.hex()
WING_GATEWAY_2 = sandbox_key("wing/gateway-2").public_key.hex()


@contextmanager
def signed_in(console: RunningConsole, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, follow_redirects=False) as client:
        answer = client.post("/signin", data={"name": name, "password": PASSWORD})
        assert answer.status_code == 303
        yield client


def post(client: httpx.Client, path: str, form: dict[str, str]) -> str:
    """Post `form` from the governance page with its anti-forgery token; where it leads."""
    match = _CSRF.search(client.get("/governance").text)
    assert match is not None
    answer = client.post(path, data={**form, "csrf": match.group(1)})
    assert answer.status_code == 303
    return answer.headers["location"]


def approve(console: RunningConsole, who: str, number: int) -> proposals.Proposal:
    async def work() -> proposals.Proposal:
        own = make_console_services(console.services.engine, console.core)
        try:
            return await proposals.approve(own, console.staff[who], number)
        finally:
            await own.node.aclose()

    return asyncio.run(work())


def ledger_participant(console: RunningConsole, code: str) -> Participant | None:
    raw = console.core.sandbox.store.get(participant_key(code))
    if raw is None:
        return None
    record = decode_value(participant_key(code), raw)
    assert isinstance(record, Participant)
    return record


def ledger_policy(console: RunningConsole) -> LimitsPolicy:
    raw = console.core.sandbox.store.get(POLICY_KEY)
    assert raw is not None
    policy = decode_value(POLICY_KEY, raw)
    assert isinstance(policy, LimitsPolicy)
    return policy


def seeded(console: RunningConsole) -> None:
    """Wait for the follower to seed the genesis' participants into the store."""
    engine = console.services.engine
    console.wait_until(lambda: "wing" in governance.participant_records(engine))


def number_of(location: str) -> int:
    match = re.fullmatch(r"/governance/proposals/(\d+)\?done=proposed-\d+", location)
    assert match is not None, location
    return int(match.group(1))


REGISTRATION = {
    "code": "newb", "name": "New Bank Plc", "participant_kind": "mfi",
    "admin_keys": NEW_ADMIN, "admin_quorum": "1", "gateway_keys": NEW_GATEWAY,
    "gateway_url": "https://gateway.newb.example", "reference": "licence 2026/14",
}  # fmt: skip


def test_a_registered_participant_appears_on_the_ledger_after_approval(
    console: RunningConsole,
) -> None:
    seeded(console)
    with signed_in(console, "olga") as olga, signed_in(console, "sam") as sam:
        number = number_of(post(olga, "/governance/register", REGISTRATION))
        shown = sam.get(f"/governance/proposals/{number}").text
        assert "New Bank Plc" in shown and NEW_ADMIN in shown and "Microfinance" in shown
        assert f'id="compare-{number}"' in sam.get("/proposals").text
        assert ledger_participant(console, "newb") is None  # nothing before the approval
        refused = post(olga, "/governance/register", REGISTRATION)  # pending is not registered
        assert number_of(refused) == number + 1
    done = approve(console, "sam", number)
    assert done.state == "committed", done.result
    record = ledger_participant(console, "newb")
    assert record is not None and record.name == "New Bank Plc"
    assert record.admin_keys == (bytes.fromhex(NEW_ADMIN),)
    assert record.gateway_keys == (bytes.fromhex(NEW_GATEWAY),)
    console.wait_for_height(done.height or 0)
    stored = governance.participant_records(console.services.engine)["newb"]
    assert stored["gateway_url"] == "https://gateway.newb.example"
    assert stored["admin_keys"] == [NEW_ADMIN] and stored["kind"] == "mfi"
    # The second proposal of the same code now fails at the ledger, or is refused up front.
    with pytest.raises(GatewayProblem) as again:
        proposals.propose_register(
            console.services.engine, console.staff["olga"],
            proposals.Registration(**{**_draft(), "code": "newb"}), "again", 0,
        )  # fmt: skip
    assert again.value.code == "participant_exists"
    late = approve(console, "sara", number + 1)
    assert (late.state, late.result) == ("failed", "participant_exists")


def _draft() -> dict[str, Any]:
    return {
        "code": "newc", "name": "Other", "kind": "bank", "admin_keys": (NEW_ADMIN,),
        "admin_quorum": 1, "gateway_keys": (), "gateway_url": "",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"code": "NEWC"}, "participant_invalid"),
        ({"code": "nbc"}, "participant_exists"),
        ({"kind": "casino"}, "participant_kind_invalid"),
        ({"admin_keys": ()}, "admin_keys_invalid"),
        ({"admin_keys": ("ab" * 31,)}, "admin_keys_invalid"),
        ({"admin_keys": (NEW_ADMIN, NEW_ADMIN)}, "admin_keys_invalid"),
        ({"admin_quorum": 2}, "quorum_invalid"),
        ({"gateway_url": "ftp://x"}, "gateway_url_invalid"),
        ({"name": " "}, "name_invalid"),
    ],
)
def test_a_registration_is_checked_before_it_is_stored(
    console: RunningConsole, change: dict[str, Any], code: str
) -> None:
    seeded(console)
    draft = proposals.Registration(**{**_draft(), **change})
    with pytest.raises(GatewayProblem) as refused:
        proposals.propose_register(
            console.services.engine, console.staff["olga"], draft, "reason", 0
        )
    assert refused.value.code == code
    with pytest.raises(GatewayProblem) as auditor:
        proposals.propose_register(
            console.services.engine, console.staff["ada"], proposals.Registration(**_draft()),
            "reason", 0,
        )  # fmt: skip
    assert auditor.value.code == "role_forbidden"
    assert proposals.proposals(console.services.engine) == []


def test_a_key_rotation_takes_effect(console: RunningConsole) -> None:
    seeded(console)
    chain = console.core.sandbox
    old_admin = sandbox_key("wing/admin").public_key.hex()
    rotation = {
        "participant": "wing", "admin_keys": WING_ADMIN_2, "admin_quorum": "1",
        "gateway_keys": WING_GATEWAY_2, "reference": "keys lost in incident 9",
    }  # fmt: skip
    with signed_in(console, "olga") as olga, signed_in(console, "sam") as sam:
        number = number_of(post(olga, "/governance/rotate", rotation))
        shown = sam.get(f"/governance/proposals/{number}").text
        current, proposed = shown.index('class="current"'), shown.index('class="proposed"')
        assert shown.index(old_admin) > current and shown.index(WING_ADMIN_2) > proposed
        assert ledger_participant(console, "wing").admin_keys == (bytes.fromhex(old_admin),)  # type: ignore[union-attr]
        central = post(olga, "/governance/rotate", {**rotation, "participant": "nbc"})
        assert central == "/governance?error=participant_invalid"
    done = approve(console, "sara", number)
    assert done.state == "committed", done.result
    record = ledger_participant(console, "wing")
    assert record is not None and record.status.value == "active" and record.name == "WING"
    assert record.admin_keys == (bytes.fromhex(WING_ADMIN_2),)
    assert record.gateway_keys == (bytes.fromhex(WING_GATEWAY_2),)
    # The old admin key no longer signs for wing; the new one does.
    old = chain.transaction("wing", [chain.open_account("dara@wing")], signers=["wing/admin"])
    new = chain.transaction("wing", [chain.open_account("dara@wing")], signers=["wing/admin-2"])
    stored = console.core.commit([old, new])
    assert stored.results[0].code != ResultCode.ok and stored.results[1].code == ResultCode.ok
    console.wait_for_height(stored.height)
    keys = governance.participant_records(console.services.engine)["wing"]
    assert keys["admin_keys"] == [WING_ADMIN_2] and keys["gateway_keys"] == [WING_GATEWAY_2]


def _limits_form(**changes: str) -> dict[str, str]:
    form = governance.policy_fields(DEFAULT_POLICY)
    form.update({"reference": "circular 2026/3", **changes})
    return form


def test_a_limits_change_is_shown_as_a_diff_and_applies_after_approval(
    console: RunningConsole,
) -> None:
    seeded(console)
    form = _limits_form(tier0_USD="400.00", caps="wing 1 5,000,000 1,250.00")
    with signed_in(console, "olga") as olga, signed_in(console, "sam") as sam:
        assert 'value="500.00"' in olga.get("/governance").text  # the policy in force
        number = number_of(post(olga, "/governance/limits", form))
        shown = sam.get(f"/governance/proposals/{number}").text
        changed = re.findall(r'<tr class="changed">(.*?)</tr>', shown, re.S)
        assert len(changed) == 3  # tier 0 USD, and wing's new cap in KHR and in USD
        assert "500.00 USD" in changed[0] and "400.00 USD" in changed[0]
        assert "wing" in changed[1] and "5,000,000 KHR" in changed[1] and "—" in changed[1]
        assert shown.count('<tr class="same">') == 12 - 3  # 10 figures, 2 new, 3 changed
        assert ledger_policy(console) == DEFAULT_POLICY  # nothing before the approval
    done = approve(console, "sam", number)
    assert done.state == "committed", done.result
    policy = ledger_policy(console)
    assert policy.per_day_by_tier[0] == (2_000_000, 400_00)
    assert [(c.participant, int(c.tier), c.per_day) for c in policy.participant_caps] == [
        ("wing", 1, (5_000_000, 1_250_00))
    ]
    console.wait_for_height(done.height or 0)
    stored = governance.current_policy(console.services.engine, console.services.genesis)
    assert stored == policy
    with signed_in(console, "ada") as ada:
        page = ada.get("/governance").text
        assert 'value="400.00"' in page and "wing 1 5,000,000 1,250.00" in page
        assert 'id="limits-reason"' not in page  # an auditor reads only


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"tier1_KHR": "-1"}, "limit_invalid"),
        ({"tier1_USD": "1.234"}, "limit_invalid"),
        ({"caps": "nope 1 5 5"}, "caps_invalid"),
        ({"caps": "wing 3 5 5"}, "caps_invalid"),
        ({"caps": "wing 1 5 5\nwing 1 6 6"}, "caps_invalid"),
        ({"reference": ""}, "reason_invalid"),
    ],
)
def test_a_limits_change_is_checked(
    console: RunningConsole, changes: dict[str, str], code: str
) -> None:
    seeded(console)
    with signed_in(console, "olga") as olga:
        location = post(olga, "/governance/limits", _limits_form(**changes))
    assert location == f"/governance?error={code}"
    assert proposals.proposals(console.services.engine) == []


def test_no_one_approves_their_own_governance_proposal(console: RunningConsole) -> None:
    with signed_in(console, "sam") as sam:
        number = number_of(post(sam, "/governance/limits", _limits_form(tier2_KHR="1")))
        page = sam.get(f"/governance/proposals/{number}").text
        token = _CSRF.search(page)
        assert token is not None
        back = f"/governance/proposals/{number}"
        answer = sam.post(
            f"/proposals/{number}/approve", data={"csrf": token.group(1), "back": back}
        )
        assert answer.headers["location"] == f"{back}?error=own_proposal"
        assert "your own proposal" in sam.get(answer.headers["location"]).text
    with pytest.raises(GatewayProblem) as own:
        approve(console, "sam", number)
    assert own.value.code == "own_proposal"
    assert proposals.proposal(console.services.engine, number).state == "pending"
    assert ledger_policy(console) == DEFAULT_POLICY


def test_supervision_counts_payments_approvals_and_declines(console: RunningConsole) -> None:
    chain = console.core.sandbox
    setup = chain.transaction("nbc", [chain.issue("aclb", Asset.USD, 10_000, "r-1")])
    accounts = chain.transaction("aclb", [chain.open_account("sok@aclb")])
    console.core.commit([setup, accounts])
    paid = chain.transaction("settlement@aclb", [chain.transfer(
        "settlement@aclb", "sok@aclb", Asset.USD, 2_500)])  # fmt: skip
    too_much = chain.transaction("sok@aclb", [chain.transfer(
        "sok@aclb", "settlement@aclb", Asset.USD, 999_999)])  # fmt: skip
    height = console.core.commit([paid]).height
    height = console.core.commit([too_much]).height
    console.wait_for_height(height)
    figures = supervision.supervision(console.services.engine, chain.time_ms)
    assert (figures.payments, figures.approved, figures.approval_percent) == (2, 1, 50.0)
    (aclb,) = figures.participants
    assert aclb.participant == "aclb" and aclb.declines == {"insufficient_funds": 1}
    assert sum(ok + declined for _, ok, declined in figures.per_minute) == 2
    assert len(figures.per_minute) == 60 and figures.per_minute[-1][0] <= chain.time_ms
    later = supervision.supervision(console.services.engine, chain.time_ms + 61 * 60_000)
    assert later.payments == 0  # out of the hour
    with signed_in(console, "ada") as ada:
        page = ada.get("/supervision")
    assert page.status_code == 200 and "<script" not in page.text
    row = re.search(r'<tr id="supervised-aclb">(.*?)</tr>', page.text, re.S)
    assert row is not None and "50.0 %" in row.group(1) and "insufficient_funds: 1" in row.group(1)
    assert 'id="approval-rate">50.0 %<' in page.text and "<rect" in page.text


def test_a_participant_made_send_only_through_the_console_is_never_paid(
    console: RunningConsole,
) -> None:
    """An operator proposes "make send-only" for abaa on the participants page, a supervisor
    approves it there, and the ledger then refuses a transfer toward abaa's customer with
    `target_participant_send_only` while abaa's customer still pays out."""
    seeded(console)
    chain = console.core.sandbox
    setup = chain.transaction("nbc", [chain.issue("aclb", Asset.USD, 10_000, "r-1")])
    console.core.commit([setup])
    opened = [
        chain.transaction("aclb", [chain.open_account("sok@aclb")]),
        chain.transaction("abaa", [chain.open_account("bo@abaa")]),
    ]
    fund = chain.transaction("settlement@aclb", [chain.transfer(
        "settlement@aclb", "sok@aclb", Asset.USD, 5_000)])  # fmt: skip
    to_bo = chain.transaction("settlement@aclb", [chain.transfer(
        "settlement@aclb", "bo@abaa", Asset.USD, 700)])  # fmt: skip
    console.core.commit(opened)
    assert [r.code for r in console.core.commit([fund, to_bo]).results] == [ResultCode.ok] * 2
    form = {"kind": "send_only", "participant": "abaa", "reference": "licence wind-down",
            "back": "/participants"}  # fmt: skip
    with signed_in(console, "olga") as olga, signed_in(console, "sam") as sam:
        page = olga.get("/participants").text
        assert 'value="send_only"' in page and 'value="receive_only"' in page
        location = post(olga, "/proposals", form)
        match = re.fullmatch(r"/participants\?done=proposed-(\d+)", location)
        assert match is not None, location
        number = int(match.group(1))
        assert post(olga, "/proposals", {**form, "participant": "nbc"}) == (
            "/participants?error=participant_invalid"
        )
        assert ledger_participant(console, "abaa").status.value == "active"  # type: ignore[union-attr]
        approved = post(sam, f"/proposals/{number}/approve", {})
        assert approved == f"/proposals?done=committed-{number}"
        record = ledger_participant(console, "abaa")
        assert record is not None and record.status.value == "send_only"
        console.wait_for_height(console.core.height)
        shown = sam.get("/participants").text
        row = shown[shown.index('id="participant-abaa"') :]
        assert "send-only" in row[: row.index("</tr>")]
    toward = chain.transaction("sok@aclb", [chain.transfer("sok@aclb", "bo@abaa", Asset.USD, 100)])
    refused = console.core.commit([toward])
    assert refused.results[0].code == ResultCode.target_participant_send_only
    paid = chain.transaction("settlement@aclb", [chain.transfer(
        "settlement@aclb", "bo@abaa", Asset.USD, 100)])  # fmt: skip
    assert console.core.commit([paid]).results[0].code == ResultCode.target_participant_send_only
    out = chain.transaction("bo@abaa", [chain.transfer("bo@abaa", "sok@aclb", Asset.USD, 200)])
    assert console.core.commit([out]).results[0].code == ResultCode.ok
    stored = proposals.proposal(console.services.engine, number)
    assert stored.state == "committed" and stored.summary == "send_only abaa"
