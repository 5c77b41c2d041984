"""The Open API facade: NBC's number formats, error codes, and a token seeing only its merchant."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bakong.gateway import db, open_api
from bakong.gateway.open_api import ShortHashBody

NOW_MS = 1_800_000_000_000
SHOP, OTHER_SHOP = "coffee_klaing@aclb", "noodle_bar@aclb"
PAID_MD5, STATIC_MD5, UNPAID_MD5 = "a" * 32, "b" * 32, "c" * 32
TX, FAILED_TX, OTHER_TX = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32


@pytest.mark.parametrize(
    ("asset", "minor", "json"),
    [
        ("USD", 450, b"4.5"),
        ("USD", 100, b"1.0"),
        ("USD", 1_234_567, b"12345.67"),
        ("USD", 1, b"0.01"),
        ("KHR", 4400, b"4400"),
        ("KHR", 1, b"1"),
    ],
)
def test_amounts_are_written_as_nbc_writes_them(asset: str, minor: int, json: bytes) -> None:
    assert msgspec.json.encode(open_api.amount_number(asset, minor)) == json
    assert open_api.minor_units(asset, msgspec.json.decode(json, type=Decimal)) == minor


@pytest.mark.parametrize(
    ("asset", "text"),
    [("USD", "4.505"), ("KHR", "4400.5"), ("USD", "0"), ("USD", "-1"), ("KHR", "NaN")],
)
def test_an_amount_finer_than_the_asset_or_not_positive_is_no_amount(asset: str, text: str) -> None:
    assert open_api.minor_units(asset, Decimal(text)) is None


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = db.engine_for(db.sqlite_url(tmp_path / "gateway.sqlite"))
    db.metadata.create_all(engine)
    with engine.begin() as connection:
        _history(connection, TX, SHOP, "in", 450, PAID_MD5, "ok", height=5)
        _history(connection, FAILED_TX, SHOP, "in", 900, "ref-9", "insufficient_funds", height=6)
        _history(connection, OTHER_TX, OTHER_SHOP, "in", 4400, "", "ok", height=7, asset="KHR")
        for md5, dynamic, paid in [(PAID_MD5, 1, TX), (STATIC_MD5, 0, None), (UNPAID_MD5, 1, None)]:
            connection.execute(
                sa.insert(db.khqr_codes).values(
                    md5=md5,
                    account_id=SHOP,
                    qr="...",
                    dynamic=dynamic,
                    amount=450,
                    asset="USD",
                    bill_number=None,
                    expires_ms=None,
                    paid_tx_hash=paid,
                    created_ms=NOW_MS,
                )
            )
    yield engine
    engine.dispose()


def _history(
    connection: sa.Connection,
    tx: bytes,
    account: str,
    direction: str,
    amount: int,
    reference: str,
    result: str,
    *,
    height: int,
    asset: str = "USD",
) -> None:
    connection.execute(
        sa.insert(db.history).values(
            height=height,
            tx_index=0,
            command_index=0,
            tx_hash=tx,
            account_id=account,
            counterparty="dara@wing",
            direction=direction,
            asset=asset,
            amount=amount,
            memo="",
            reference=reference,
            external_ref=f"ext-{height}",
            result=result,
            time_ms=NOW_MS + height,
        )
    )


def test_a_paid_dynamic_code_answers_with_nbc_s_transaction_object(store: Engine) -> None:
    with store.connect() as connection:
        answer = open_api.by_md5(connection, SHOP, PAID_MD5.upper())
    encoded = msgspec.json.decode(msgspec.json.encode(answer))
    assert encoded["responseCode"] == 0 and encoded["errorCode"] is None
    data = encoded["data"]
    assert (data["hash"], data["fromAccountId"], data["toAccountId"]) == (
        TX.hex(),
        "dara@wing",
        SHOP,
    )
    assert (data["currency"], data["amount"], data["description"]) == ("USD", 4.5, None)
    assert data["externalRef"] == "ext-5" and data["acknowledgedDateMs"] == NOW_MS + 5


def test_error_codes_are_nbc_s(store: Engine) -> None:
    with store.connect() as connection:
        assert open_api.by_md5(connection, SHOP, UNPAID_MD5).error_code == 1
        assert open_api.by_md5(connection, SHOP, STATIC_MD5).error_code == 2
        assert open_api.by_md5(connection, SHOP, "d" * 32).error_code == 1
        assert open_api.by_hash(connection, SHOP, FAILED_TX.hex()).error_code == 3
        assert open_api.by_hash(connection, SHOP, "not hex").error_code == 1
        short = ShortHashBody(hash=TX.hex()[:8], amount=Decimal("4.5"), currency="USD")
        assert open_api.by_short_hash(connection, SHOP, short).data.hash == TX.hex()
        wrong = ShortHashBody(hash=TX.hex()[:8], amount=Decimal("4.51"), currency="USD")
        assert open_api.by_short_hash(connection, SHOP, wrong).error_code == 1
        bad = ShortHashBody(hash=TX.hex()[:8], amount=Decimal("4.5"), currency="EUR")
        assert open_api.by_short_hash(connection, SHOP, bad).error_code == 5


def test_a_token_sees_only_its_merchant_s_transactions(store: Engine) -> None:
    with store.connect() as connection:
        assert open_api.by_hash(connection, SHOP, TX.hex()).error_code is None
        assert open_api.by_hash(connection, OTHER_SHOP, TX.hex()).error_code == 1
        assert open_api.by_md5(connection, OTHER_SHOP, PAID_MD5).error_code == 1
        assert open_api.by_hash(connection, SHOP, OTHER_TX.hex()).error_code == 1
        listed = open_api.by_list(
            connection, SHOP, "md5", [PAID_MD5, STATIC_MD5, "e" * 32], open_api.by_md5
        )
    statuses = [(item["md5"], item["status"]) for item in listed.data]
    assert statuses == [(PAID_MD5, "SUCCESS"), (STATIC_MD5, "STATIC_QR"), ("e" * 32, "NOT_FOUND")]


def test_tokens_are_stored_hashed_and_expire(store: Engine) -> None:
    with store.begin() as connection:
        token = open_api.issue_token(connection, SHOP, now_ms=NOW_MS, random_bytes=bytes)
        stored = connection.execute(sa.select(db.api_tokens.c.token_hash)).scalar_one()
        assert token not in stored and token.startswith("boa_")
        assert open_api.merchant_for_token(connection, token, now_ms=NOW_MS) == SHOP
        later = NOW_MS + 90 * 24 * 3600 * 1000
        assert open_api.merchant_for_token(connection, token, now_ms=later) is None
        assert open_api.merchant_for_token(connection, token + "x", now_ms=NOW_MS) is None
