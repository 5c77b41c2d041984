"""PINs: which may be chosen, argon2id storage, and the lockout after wrong ones."""

from __future__ import annotations

import pytest

from bakong import limits
from bakong.gateway import pins
from bakong.gateway.pins import Lock

NOW = 1_767_225_600_000


@pytest.mark.parametrize("pin", ["482913", "0482913", "4829130571"])
def test_acceptable_pins(pin: str) -> None:
    assert pins.pin_problem(pin) is None


@pytest.mark.parametrize(
    "pin",
    [
        "48291",
        "4829130571234",
        "48291a",
        "４８２９１３",
        "482 913",
        "111111",
        "123456",
        "890123",
        "654321",
        "0000000",
    ],
)
def test_refused_pins(pin: str) -> None:
    problem = pins.pin_problem(pin)
    assert problem is not None and pin not in problem


def test_a_pin_is_stored_as_argon2id_and_checked() -> None:
    stored = pins.hash_pin("482913")
    assert stored.startswith("$argon2id$") and "482913" not in stored
    assert pins.pin_matches(stored, "482913")
    assert not pins.pin_matches(stored, "482914")
    assert not pins.pin_matches("not a hash", "482913")
    assert stored != pins.hash_pin("482913")  # a fresh salt each time
    assert not pins.pin_needs_rehash(stored)


def test_the_nth_wrong_pin_in_a_row_locks() -> None:
    lock = Lock(0, 0)
    for _ in range(limits.pin_failures_max - 1):
        lock = pins.after_failure(lock, NOW)
        assert not pins.is_locked(lock, NOW)
    lock = pins.after_failure(lock, NOW)
    assert pins.is_locked(lock, NOW)
    assert pins.is_locked(lock, NOW + limits.pin_lockout_ms - 1)
    assert not pins.is_locked(lock, NOW + limits.pin_lockout_ms)


def test_after_a_lock_the_next_run_of_failures_locks_again() -> None:
    later = NOW + limits.pin_lockout_ms
    lock = Lock(limits.pin_failures_max, later)
    for _ in range(limits.pin_failures_max - 1):
        lock = pins.after_failure(lock, later)
        assert not pins.is_locked(lock, later)
    assert pins.is_locked(pins.after_failure(lock, later), later)
