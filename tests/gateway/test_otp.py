"""One-time codes: uniform digits, hashed storage, expiry, single use, attempts, rate limit."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.gateway import db, otp
from bakong.gateway.otp import Verdict

PEPPER = b"p" * 32
PHONE = "+85512345678"
NOW = 1_767_225_600_000


def counter_bytes(start: int = 0) -> Callable[[int], bytes]:
    counter = itertools.count(start)
    return lambda size: next(counter).to_bytes(size, "big")


def test_codes_have_six_digits_with_leading_zeros_kept() -> None:
    assert otp.new_code(lambda size: bytes(size)) == "000000"
    assert otp.new_code(lambda size: (42).to_bytes(size, "big")) == "000042"
    assert len(otp.new_code(lambda size: b"\x12" * size)) == limits.otp_digits


def test_draws_above_the_last_whole_multiple_are_redrawn() -> None:
    draws = iter([b"\xff\xff\xff\xff", (7).to_bytes(4, "big")])
    assert otp.new_code(lambda size: next(draws)) == "000007"


def test_every_last_digit_is_equally_likely() -> None:
    next_bytes = counter_bytes()
    seen = collections.Counter(otp.new_code(next_bytes)[-1] for _ in range(10_000))
    assert set(seen.values()) == {1_000}


def test_the_digest_binds_phone_and_purpose() -> None:
    digest = otp.code_digest(PEPPER, "register", PHONE, "123456")
    assert "123456" not in digest
    assert digest != otp.code_digest(PEPPER, "register", "+85512345679", "123456")
    assert digest != otp.code_digest(PEPPER, "reset_pin", PHONE, "123456")
    assert digest != otp.code_digest(b"q" * 32, "register", PHONE, "123456")


def test_check_code_ladder() -> None:
    digest = otp.code_digest(PEPPER, "register", PHONE, "123456")
    fresh = otp.OtpRecord(digest, NOW + 1, attempts=0, used=False)
    assert otp.check_code(None, digest, NOW) == (Verdict.code_missing, None)
    verdict, changed = otp.check_code(fresh, digest, NOW)
    assert verdict is Verdict.ok and changed is not None and changed.used
    verdict, changed = otp.check_code(fresh, "0" * 64, NOW)
    assert verdict is Verdict.code_wrong and changed is not None and changed.attempts == 1
    assert otp.check_code(fresh, digest, NOW + 1)[0] is Verdict.code_expired
    used = otp.OtpRecord(digest, NOW + 1, attempts=0, used=True)
    assert otp.check_code(used, digest, NOW)[0] is Verdict.code_spent
    tried_out = otp.OtpRecord(digest, NOW + 1, attempts=limits.otp_attempts_max, used=False)
    assert otp.check_code(tried_out, digest, NOW)[0] is Verdict.code_spent


def _issue(engine: Engine, now_ms: int = NOW, phone: str = PHONE) -> str | None:
    with engine.begin() as connection:
        return otp.issue_code(
            connection, PEPPER, "register", phone, now_ms, counter_bytes(now_ms - NOW)
        )


def _verify(engine: Engine, code: str, now_ms: int = NOW) -> Verdict:
    with engine.begin() as connection:
        return otp.verify_code(connection, PEPPER, "register", PHONE, code, now_ms)


def test_a_code_is_stored_hashed_and_works_once(engine: Engine) -> None:
    code = _issue(engine)
    assert code is not None
    with engine.connect() as connection:
        stored = connection.execute(sa.select(db.otp_codes.c.code_hash)).scalar_one()
    assert code not in stored
    assert _verify(engine, code) is Verdict.ok
    assert _verify(engine, code) is Verdict.code_spent


def test_a_code_expires_after_ten_minutes(engine: Engine) -> None:
    code = _issue(engine)
    assert code is not None
    assert _verify(engine, code, NOW + limits.otp_lifetime_ms) is Verdict.code_expired


def test_wrong_tries_spend_the_code(engine: Engine) -> None:
    code = _issue(engine)
    assert code is not None
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    verdicts = [_verify(engine, wrong) for _ in range(limits.otp_attempts_max)]
    assert verdicts == [Verdict.code_wrong] * limits.otp_attempts_max
    assert _verify(engine, code) is Verdict.code_spent


def test_a_new_code_supersedes_the_old_one(engine: Engine) -> None:
    first = _issue(engine)
    second = _issue(engine, NOW + 1)
    assert first is not None and second is not None and first != second
    assert _verify(engine, first) is Verdict.code_wrong
    assert _verify(engine, second) is Verdict.ok


def test_codes_per_phone_are_rate_limited(engine: Engine) -> None:
    issued = [_issue(engine, NOW + i) for i in range(limits.otp_codes_per_window_max + 1)]
    assert None not in issued[:-1] and issued[-1] is None
    assert _issue(engine, NOW, "+85599999999") is not None  # another phone is not affected
    assert _issue(engine, NOW + limits.otp_window_ms) is not None


def test_no_code_sent_is_missing(engine: Engine) -> None:
    assert _verify(engine, "123456") is Verdict.code_missing

