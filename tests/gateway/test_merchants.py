"""Merchants' KHQR codes: what they carry, and the rules that make a dynamic code paid once."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong import limits
from bakong.gateway import db, merchants, projection
from bakong.gateway.merchants import Merchant
from bakong.gateway.problems import GatewayProblem
from bakong.gateway.projection import Payment
from bakong.khqr import decode, md5, verify
from bakong.ledger.assets import Asset

NOW_MS = 1_800_000_000_000
SHOP = Merchant(
    account_id="coffee_klaing@aclb",
    name="Coffee Klaing",
    city="Siem Reap",
    merchant_id="M-0042",
    acquiring_bank="ACLEDA Bank",
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine_for(db.sqlite_url(tmp_path / "gateway.sqlite"))
    db.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_a_static_code_is_tag_30_with_the_merchant_and_no_amount() -> None:
    code = merchants.static_code(SHOP, Asset.KHR, now_ms=NOW_MS)
    fields = decode(code.qr)
    assert fields["merchantType"] == "30"
    assert fields["bakongAccountID"] == SHOP.account_id
    assert (fields["merchantID"], fields["acquiringBank"]) == ("M-0042", "ACLEDA Bank")
    assert fields["pointofInitiationMethod"] == "11"
    assert fields["transactionAmount"] is None and fields["transactionCurrency"] == "116"
    assert code.md5 == md5(code.qr)
    assert verify(code.qr, now_ms=NOW_MS).valid


@pytest.mark.parametrize(
    ("asset", "amount", "written", "currency"),
    [
        (Asset.USD, 450, "4.50", "840"),
        (Asset.USD, 1000, "10", "840"),
        (Asset.KHR, 4400, "4400", "116"),
    ],
)
def test_a_dynamic_code_carries_amount_bill_and_expiry(
    asset: Asset, amount: int, written: str, currency: str
) -> None:
    bill = merchants.bill_number(bytes(range(limits.bill_number_bytes)))
    expires = merchants.expiry_ms(NOW_MS, None)
    code = merchants.dynamic_code(SHOP, asset, amount, bill=bill, expires_ms=expires, now_ms=NOW_MS)
    fields = decode(code.qr)
    assert fields["pointofInitiationMethod"] == "12"
    assert (fields["transactionAmount"], fields["transactionCurrency"]) == (written, currency)
    assert fields["billNumber"] == bill == "00010203040506070809"
    assert fields["expirationTimestamp"] == str(NOW_MS + limits.khqr_expiry_ms_default)
    assert verify(code.qr, now_ms=expires).valid
    assert verify(code.qr, now_ms=expires + 1).error_code == 46  # the SDK's "expired"


def test_a_dynamic_code_lives_between_the_bounds() -> None:
    assert merchants.expiry_ms(NOW_MS, limits.khqr_expiry_ms_max) == NOW_MS + 600_000
    for lifetime in (limits.khqr_expiry_ms_min - 1, limits.khqr_expiry_ms_max + 1, 0):
        with pytest.raises(GatewayProblem, match="10 minutes"):
            merchants.expiry_ms(NOW_MS, lifetime)
    with pytest.raises(AssertionError, match="positive"):
        merchants.khqr_amount(Asset.USD, 0)
    with pytest.raises(AssertionError, match="bill_number_bytes"):
        merchants.bill_number(b"\x00")


def _dynamic(engine: Engine, amount: int = 450, lifetime_ms: int | None = None) -> str:
    expires = merchants.expiry_ms(NOW_MS, lifetime_ms)
    bill = merchants.bill_number(amount.to_bytes(limits.bill_number_bytes, "big"))
    code = merchants.dynamic_code(
        SHOP, Asset.USD, amount, bill=bill, expires_ms=expires, now_ms=NOW_MS
    )
    with engine.begin() as connection:
        merchants.store_code(
            connection,
            code,
            account_id=SHOP.account_id,
            asset=Asset.USD,
            amount=amount,
            bill=bill,
            expires_ms=expires,
            now_ms=NOW_MS,
        )
    return code.qr


def _paying(qr: str, *, tx: int, amount: int = 450, at_ms: int = NOW_MS + 1_000) -> Payment:
    return Payment(
        height=tx,
        tx_index=0,
        command_index=0,
        tx_hash=bytes([tx]) * 32,
        account_id=SHOP.account_id,
        counterparty="dara@wing",
        direction="in",
        asset="USD",
        amount=amount,
        memo="",
        reference=md5(qr),
        external_ref="",
        result="ok",
        time_ms=at_ms,
    )


def _paid_by(engine: Engine, qr: str) -> bytes | None:
    with engine.connect() as connection:
        value = connection.execute(
            sa.select(db.khqr_codes.c.paid_tx_hash).where(db.khqr_codes.c.md5 == md5(qr))
        ).scalar()
    return None if value is None else bytes(value)


def test_the_first_matching_transfer_pays_a_dynamic_code_once(store: Engine) -> None:
    qr = _dynamic(store)
    with store.begin() as connection:
        assert not projection.mark_khqr_paid(connection, _paying(qr, tx=1, amount=449))
        assert projection.mark_khqr_paid(connection, _paying(qr, tx=2))
        assert not projection.mark_khqr_paid(connection, _paying(qr, tx=3))
    assert _paid_by(store, qr) == bytes([2]) * 32


def test_a_transfer_after_the_expiry_does_not_pay_the_code(store: Engine) -> None:
    qr = _dynamic(store, lifetime_ms=limits.khqr_expiry_ms_min)
    late = NOW_MS + limits.khqr_expiry_ms_min + 1
    with store.begin() as connection:
        assert not projection.mark_khqr_paid(connection, _paying(qr, tx=1, at_ms=late))
    assert _paid_by(store, qr) is None


def test_a_static_code_is_never_marked_paid(store: Engine) -> None:
    code = merchants.static_code(SHOP, Asset.USD, now_ms=NOW_MS)
    with store.begin() as connection:
        merchants.store_code(
            connection,
            code,
            account_id=SHOP.account_id,
            asset=Asset.USD,
            amount=None,
            bill=None,
            expires_ms=None,
            now_ms=NOW_MS,
        )
        assert not projection.mark_khqr_paid(connection, _paying(code.qr, tx=1))


def test_the_gateway_refuses_to_pay_a_paid_expired_or_different_code(store: Engine) -> None:
    qr = _dynamic(store)
    digest = md5(qr)
    with store.begin() as connection:
        refuse = merchants.payment_refusal
        assert refuse(connection, qr, digest, asset="USD", amount=450, now_ms=NOW_MS) is None
        assert refuse(connection, qr, digest, asset="USD", amount=451, now_ms=NOW_MS) == (
            "khqr_amount_mismatch"
        )
        assert refuse(connection, qr, digest, asset="KHR", amount=450, now_ms=NOW_MS) == (
            "khqr_amount_mismatch"
        )
        expired = NOW_MS + limits.khqr_expiry_ms_default + 1
        assert refuse(connection, qr, digest, asset="USD", amount=450, now_ms=expired) == (
            "khqr_expired"
        )
        projection.mark_khqr_paid(connection, _paying(qr, tx=9))
        assert refuse(connection, qr, digest, asset="USD", amount=450, now_ms=NOW_MS) == "khqr_paid"


def test_a_failed_or_outgoing_transfer_does_not_pay_the_code(store: Engine) -> None:
    qr = _dynamic(store)
    failed = dataclasses.replace(_paying(qr, tx=1), result="insufficient_funds")
    outgoing = dataclasses.replace(_paying(qr, tx=2), direction="out")
    with store.begin() as connection:
        assert not projection.mark_khqr_paid(connection, failed)
        assert not projection.mark_khqr_paid(connection, outgoing)
    assert _paid_by(store, qr) is None
