"""`bakong qr` through click's CliRunner: every command's JSON, and bad input answered with an
error code and exit status 1, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bakong.cli import main
from bakong.khqr.tags import DECODE_KEYS
from tests.khqr.data import FOREIGN_VECTORS, KHQR_VECTORS

QR = {vector["id"]: vector for vector in KHQR_VECTORS}


def _run(*arguments: str, input_text: str | None = None) -> Result:
    return CliRunner().invoke(main, ["qr", *arguments], input=input_text)


def _json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_verify_json() -> None:
    vector = QR["V018"]
    ok = _run("verify", vector["qr"], "--now-ms", str(vector["checked_at_ms"]), "--json")
    assert ok.exit_code == 0
    assert _json(ok) == {"valid": True, "error_code": None, "error_message": None}
    late = _run("verify", vector["qr"], "--now-ms", str(vector["reference_time_ms"]), "--json")
    assert late.exit_code == 1
    assert _json(late)["error_code"] == 46


def test_verify_reads_standard_input() -> None:
    result = _run("verify", "-", "--json", input_text=QR["V075"]["qr"] + "\n")
    assert (result.exit_code, _json(result)["valid"]) == (0, True)


def test_decode_json_has_the_25_keys_and_md5() -> None:
    vector = QR["V006"]
    result = _run("decode", vector["qr"], "--json")
    assert result.exit_code == 0
    fields = _json(result)
    assert list(fields) == [*DECODE_KEYS, "md5"]
    assert fields == {**vector["expected"]["decode"], "md5": vector["expected"]["md5"]}


def test_make_individual_and_merchant() -> None:
    made = _run(
        "make", "--account-id", "john_smith@devb", "--name", "John Smith", "--currency", "USD",
        "--amount", "1.5", "--expires-ms", "1800000600000", "--now-ms", "1800000000000",
        "--bill-number", "#1", "--language", "km", "--alt-name", "ចន", "--json",
    )
    assert made.exit_code == 0, made.output
    qr = _json(made)["qr"]
    assert "54041.50" in qr and "9934" in qr
    decoded = _json(_run("decode", qr, "--json"))
    assert decoded["md5"] == _json(made)["md5"]
    assert decoded["merchantNameAlternateLanguage"] == "ចន"
    merchant = _run(
        "make", "--account-id", "khqr@aclb", "--name", "Shop", "--merchant-id", "123",
        "--acquiring-bank", "ACLEDA", "--json",
    )
    assert _json(_run("decode", _json(merchant)["qr"], "--json"))["merchantType"] == "30"


@pytest.mark.parametrize(
    ("arguments", "error_code"),
    [
        (["--amount", "1.1"], 4),
        (["--amount", "5"], 45),
        (["--currency", "EUR"], 28),
        (["--merchant-id", "1"], 31),
        (["--mcc", "59999"], 18),
    ],
)
def test_make_refusals(arguments: list[str], error_code: int) -> None:
    result = _run("make", "--account-id", "a@b", "--name", "N", *arguments, "--json")
    assert result.exit_code == 1
    assert _json(result)["error_code"] == error_code


def test_parse_foreign() -> None:
    vector = next(v for v in FOREIGN_VECTORS if v["scheme"] == "laoqr-lapnet (+unionpay tag15)")
    result = _run("parse", vector["qr"], "--json")
    assert result.exit_code == 0
    parsed = _json(result)
    assert set(parsed) == {"scheme", "country", "currency", "amount", "payee", "crc_valid"}
    assert (parsed["scheme"], parsed["country"], parsed["crc_valid"]) == ("laoqr", "LA", True)
    assert parsed["payee"]["unionpay_15"]["merchant_id"] == "mch19B73F61B9E0"


def test_render_and_scan(tmp_path: Path) -> None:
    qr = QR["V100"]["qr"]
    png, svg = tmp_path / "card.png", tmp_path / "card.svg"
    result = _run("render", qr, "--png", str(png), "--svg", str(svg), "--json")
    assert result.exit_code == 0, result.output
    assert svg.read_text(encoding="utf-8").startswith("<svg")
    scanned = _run("scan", str(png), "--json")
    assert (scanned.exit_code, _json(scanned)) == (0, {"codes": [qr]})


@pytest.mark.parametrize(
    "arguments",
    [
        ["decode", "0" * 3000],
        ["parse", "0" * 3000],
        ["render", "x"],
        ["render", "", "--png", "/tmp/unused.png"],
        ["scan", "/nonexistent/picture.png"],
        ["make", "--name", "no account"],
        ["make", "--account-id", "a@b", "--name", "N", "--amount", "abc"],
        ["verify"],
    ],
)
def test_bad_input_is_a_clear_error(arguments: list[str]) -> None:
    result = _run(*arguments, "--json") if arguments != ["verify"] else _run(*arguments)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    if result.stdout.strip():
        assert _json(result)["error"]
    else:
        assert "Error" in result.stderr


def test_scan_without_a_code(tmp_path: Path) -> None:
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), "white").save(blank)
    result = _run("scan", str(blank), "--json")
    assert (result.exit_code, _json(result)["error"]) == (1, "no_qr_found")
