"""Signed requests (`bakong.wire.request`): the node binding, each refusal's code, the window.

Pure: the server clock is a number, the window an in-memory `SeenRequests`.
"""

from __future__ import annotations

import pytest

from bakong import limits
from bakong.sandbox import sandbox_key
from bakong.wire.request import (
    NODE_HEADER,
    RequestProblem,
    Seen,
    SeenRequests,
    check_request,
    sign_request,
)

CHAIN = "bakong-test"
NOW_MS = 1_800_000_000_000
CALLER = sandbox_key("aclb/gateway")
NODE_A = sandbox_key("validator-a").public_key
NODE_B = sandbox_key("validator-b").public_key
TARGET = "/v1/accounts/sokha@aclb"


def _signed(node_key: bytes = NODE_A, time_ms: int = NOW_MS, body: bytes = b"") -> dict[str, str]:
    return sign_request(CHAIN, node_key, CALLER, "POST", TARGET, body, time_ms)


def _check(
    headers: dict[str, str], node_key: bytes = NODE_A, seen: SeenRequests | None = None
) -> bytes | RequestProblem:
    window = SeenRequests() if seen is None else seen
    return check_request(CHAIN, node_key, "POST", TARGET, b"", headers, NOW_MS, window)


def test_a_request_authenticates_once_on_the_node_it_names() -> None:
    seen = SeenRequests()
    headers = _signed()
    assert headers[NODE_HEADER] == NODE_A.hex()
    assert _check(headers, seen=seen) == CALLER.public_key
    assert _check(headers, seen=seen) == RequestProblem(
        "request_replayed", "this signed request was already received"
    )


def test_a_request_for_another_node_is_wrong_node_and_readdressing_breaks_it() -> None:
    headers = _signed(NODE_B)
    problem = _check(headers)
    assert isinstance(problem, RequestProblem)
    assert (problem.status, problem.code) == (401, "wrong_node")
    assert NODE_A.hex() in problem.message  # the client learns whom it reached
    readdressed = {**headers, NODE_HEADER: NODE_A.hex()}
    problem = _check(readdressed)
    assert isinstance(problem, RequestProblem) and problem.code == "bad_signature"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({NODE_HEADER: None}, "unauthenticated"),
        ({NODE_HEADER: "ab" * 31}, "unauthenticated"),
        ({"x-bakong-time": "-5"}, "unauthenticated"),
        ({"x-bakong-time": str(NOW_MS - limits.request_skew_ms_max - 1)}, "request_expired"),
    ],
)
def test_malformed_or_stale_headers_are_refused(change: dict[str, str | None], code: str) -> None:
    headers = {**_signed()}
    for name, value in change.items():
        headers.pop(name)
        if value is not None:
            headers[name] = value
    problem = _check(headers)
    assert isinstance(problem, RequestProblem) and problem.code == code


def test_the_skew_bound_is_inclusive() -> None:
    for time_ms in (NOW_MS - limits.request_skew_ms_max, NOW_MS + limits.request_skew_ms_max):
        assert _check(_signed(time_ms=time_ms)) == CALLER.public_key


def test_a_full_window_refuses_new_signatures_and_keeps_every_old_one() -> None:
    seen = SeenRequests(entries_max=2)
    assert seen.add(b"a" * 64, NOW_MS, NOW_MS) is Seen.NEW
    assert seen.add(b"b" * 64, NOW_MS + 1, NOW_MS + 1) is Seen.NEW
    assert seen.add(b"c" * 64, NOW_MS + 2, NOW_MS + 2) is Seen.FULL
    assert seen.add(b"a" * 64, NOW_MS, NOW_MS + 3) is Seen.REPLAYED
    assert len(seen) == 2
    problem = check_request(
        CHAIN, NODE_A, "POST", TARGET, b"", _signed(time_ms=NOW_MS + 4), NOW_MS + 4, seen
    )
    assert isinstance(problem, RequestProblem)
    assert (problem.status, problem.code) == (503, "replay_window_full")
    # Entries leave only once their time is a whole memory behind the clock.
    later = NOW_MS + limits.request_memory_ms
    assert seen.add(b"c" * 64, later, later) is Seen.FULL
    assert seen.add(b"c" * 64, later + 1, later + 1) is Seen.NEW
    assert seen.add(b"b" * 64, NOW_MS + 1, later + 1) is Seen.REPLAYED


def test_requests_signed_before_a_lost_window_are_refused_as_lost() -> None:
    seen = SeenRequests(refused_before_ms=NOW_MS)
    assert seen.add(b"a" * 64, NOW_MS - 1, NOW_MS) is Seen.LOST
    assert seen.add(b"a" * 64, NOW_MS, NOW_MS) is Seen.NEW
    problem = check_request(
        CHAIN, NODE_A, "POST", TARGET, b"", _signed(time_ms=NOW_MS - 1), NOW_MS, seen
    )
    assert isinstance(problem, RequestProblem)
    assert (problem.status, problem.code) == (503, "replay_window_lost")
