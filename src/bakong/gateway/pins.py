"""Customer PINs: what a PIN may be, how it is stored, and the lockout after wrong ones.

Rules:
- A PIN is `limits.pin_digits_min` to `limits.pin_digits_max` ASCII digits, and not one of the
  PINs guessed first (all one digit, or a run up or down such as 123456).
- Only its argon2id hash is stored, with the parameters of RFC 9106's second recommended
  profile (argon2-cffi's `RFC_9106_LOW_MEMORY`); a hash made with older parameters is
  replaced at the next correct PIN.
- `limits.pin_failures_max` wrong PINs in a row lock the wallet for `limits.pin_lockout_ms`,
  and every further run of that many locks it again; a correct PIN resets the count. While
  locked, no PIN is even checked, so guessing costs the guesser time, not us CPU.
- The lock arithmetic is pure (it takes `now_ms`); the hashing is the only work done here.
"""

from __future__ import annotations

from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bakong import limits

__all__ = [
    "Lock",
    "after_failure",
    "attempts_left",
    "hash_pin",
    "is_locked",
    "pin_matches",
    "pin_needs_rehash",
    "pin_problem",
]

_hasher = argon2.PasswordHasher.from_parameters(argon2.profiles.RFC_9106_LOW_MEMORY)


@dataclass(frozen=True)
class Lock:
    """A wallet's PIN state: wrong PINs since the last right one, and the lock's end."""

    failures: int
    locked_until_ms: int


def _is_run(pin: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in zip(pin, pin[1:], strict=False)}
    return steps in ({0}, {1}, {9})


def pin_problem(pin: str) -> str | None:
    """Why `pin` may not be chosen (a message for the person), or None when it may."""
    if not (pin.isascii() and pin.isdigit()):
        return "a PIN is made of digits only"
    if not limits.pin_digits_min <= len(pin) <= limits.pin_digits_max:
        return f"a PIN has {limits.pin_digits_min} to {limits.pin_digits_max} digits"
    if _is_run(pin):
        return "a PIN of one repeated digit, or of digits counting up or down, is guessed first"
    return None


def hash_pin(pin: str) -> str:
    """The argon2id hash to store (a fresh salt each time)."""
    return _hasher.hash(pin)


def pin_matches(pin_hash: str, pin: str) -> bool:
    """True when `pin` is the PIN `pin_hash` was made from."""
    try:
        return _hasher.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def pin_needs_rehash(pin_hash: str) -> bool:
    """True when the hash was made with parameters other than today's."""
    return _hasher.check_needs_rehash(pin_hash)


def is_locked(lock: Lock, now_ms: int) -> bool:
    return now_ms < lock.locked_until_ms


def attempts_left(lock: Lock) -> int:
    """Wrong PINs left before the next lock (0 right after one locked the wallet)."""
    return (limits.pin_failures_max - lock.failures % limits.pin_failures_max) % (
        limits.pin_failures_max
    )


def after_failure(lock: Lock, now_ms: int) -> Lock:
    """The state after one more wrong PIN: every `pin_failures_max`-th in a row locks."""
    failures = lock.failures + 1
    if failures % limits.pin_failures_max == 0:
        return Lock(failures, now_ms + limits.pin_lockout_ms)
    return Lock(failures, lock.locked_until_ms)
