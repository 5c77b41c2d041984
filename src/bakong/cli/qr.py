"""`bakong qr`: verify, decode, make, parse, render and scan KHQR and foreign QR codes.

Every command takes `--json` for machine output. A QR argument of `-` is read from standard
input. Bad input never prints a traceback: it prints an error code and a message (as
`{"error": CODE, "message": ...}` with `--json`) and exits with status 1; so do usage errors
(click's message on standard error). `verify` also exits 1
when the code is invalid, so scripts can test it; its answer is still printed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from bakong.errors import QRDecodeError, QRInputError

__all__ = ["qr"]

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _emit(payload: dict[str, Any], as_json: bool, lines: list[str] | None = None) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        for line in lines if lines is not None else [f"{k}: {v}" for k, v in payload.items()]:
            click.echo(line)


def _fail(code: str, message: str, as_json: bool, **extra: object) -> NoReturn:
    if as_json:
        payload = {"error": code, **extra, "message": message}
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        number = f" {extra['error_code']}" if "error_code" in extra else ""
        click.echo(f"error: {code}{number}: {message}", err=True)
    raise click.exceptions.Exit(1)


def _text(qr: str) -> str:
    """The QR argument, or standard input for `-` (one line, newline dropped)."""
    if qr != "-":
        return qr
    return sys.stdin.readline().rstrip("\r\n")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _UsageError(click.UsageError):
    exit_code = 1


class _Group(click.Group):
    """A group whose usage errors (a missing argument, `--amount abc`) exit with status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            if isinstance(error, _UsageError):
                raise
            raise _UsageError(error.format_message(), error.ctx) from None


@click.group(cls=_Group)
def qr() -> None:
    """KHQR and foreign QR codes: verify, decode, make, parse, render, scan."""


@qr.command()
@click.argument("code")
@click.option("--now-ms", type=int, default=None, help="The clock, epoch ms (default: now).")
@_JSON
def verify(code: str, now_ms: int | None, as_json: bool) -> None:
    """Verify CODE as the official KHQR SDK does; exit 1 if it is invalid."""
    from bakong.khqr.verify import verify as check

    verdict = check(_text(code), _now_ms() if now_ms is None else now_ms)
    payload = {
        "valid": verdict.valid,
        "error_code": verdict.error_code,
        "error_message": verdict.error_message,
    }
    summary = "valid" if verdict.valid else f"invalid: {verdict.error_code} {verdict.error_message}"
    _emit(payload, as_json, [summary])
    if not verdict.valid:
        raise click.exceptions.Exit(1)


@qr.command()
@click.argument("code")
@_JSON
def decode(code: str, as_json: bool) -> None:
    """Decode CODE into the SDK's 25 fields, plus its md5."""
    from bakong.khqr.decode import decode as read
    from bakong.khqr.decode import md5

    text = _text(code)
    try:
        fields: dict[str, Any] = {**read(text), "md5": md5(text)}
    except QRDecodeError as error:
        _fail(error.code, error.message, as_json)
    _emit(fields, as_json)


@qr.command()
@click.argument("code")
@_JSON
def parse(code: str, as_json: bool) -> None:
    """Recognise CODE's scheme (KHQR or foreign) and its payee."""
    import msgspec

    from bakong.khqr.foreign import parse as recognise

    try:
        parsed = recognise(_text(code))
    except QRDecodeError as error:
        _fail(error.code, error.message, as_json)
    payload: dict[str, Any] = msgspec.to_builtins(parsed)
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in payload.items()]
    _emit(payload, as_json, lines)


@qr.command()
@click.argument("code")
@click.option("--png", "png", type=click.Path(dir_okay=False), help="Write a PNG card here.")
@click.option("--svg", "svg", type=click.Path(dir_okay=False), help="Write an SVG card here.")
@click.option("--width", type=click.IntRange(200, 4000), default=400, show_default=True)
@_JSON
def render(code: str, png: str | None, svg: str | None, width: int, as_json: bool) -> None:
    """Draw CODE as a KHQR card (red header, merchant name, amount) in PNG and/or SVG."""
    from bakong.khqr.tags import qr_chars_max
    from bakong.qrimage.render import render_png, render_svg

    text = _text(code)
    if not png and not svg:
        _fail("no_output", "give --png FILE and/or --svg FILE", as_json)
    if len(text) > qr_chars_max or not text:
        _fail("qr_invalid", f"a QR has 1 to {qr_chars_max} characters", as_json)
    try:
        if png:
            Path(png).write_bytes(render_png(text, width))
        if svg:
            Path(svg).write_text(render_svg(text, width), encoding="utf-8")
    except (OSError, ValueError) as error:
        _fail("render_failed", str(error), as_json)
    written = [path for path in (png, svg) if path]
    _emit({"written": written}, as_json, [f"wrote {path}" for path in written])


@qr.command()
@click.argument("image", type=click.Path(dir_okay=False))
@_JSON
def scan(image: str, as_json: bool) -> None:
    """Read the QR codes in IMAGE (a photo or screenshot)."""
    from bakong.qrimage.scan import scan as read

    try:
        codes = read(image)
    except QRDecodeError as error:
        _fail(error.code, error.message, as_json)
    if not codes:
        _fail("no_qr_found", f"no QR code in {image}", as_json)
    _emit({"codes": codes}, as_json, codes)


_OPTIONAL = [
    ("--account-information", "account_information", "Account number or phone (individual)."),
    ("--bill-number", "bill_number", "Tag 62.01."),
    ("--mobile-number", "mobile_number", "Tag 62.02, e.g. 85512233455."),
    ("--store-label", "store_label", "Tag 62.03."),
    ("--terminal-label", "terminal_label", "Tag 62.07."),
    ("--purpose", "purpose_of_transaction", "Tag 62.08."),
    ("--language", "language_preference", "Tag 64.00, e.g. km."),
    ("--alt-name", "merchant_name_alternate_language", "Tag 64.01."),
    ("--alt-city", "merchant_city_alternate_language", "Tag 64.02."),
    ("--upi", "upi_merchant_account", "UnionPay merchant account (tag 15)."),
    ("--mcc", "merchant_category_code", "Merchant category code (default 5999)."),
]


def _with_optional(command: Any) -> Any:
    for flag, name, text in reversed(_OPTIONAL):
        command = click.option(flag, name, default=None, help=text)(command)
    return command


def _currency(value: str) -> int | str:
    named = {"KHR": 116, "USD": 840}
    upper = value.upper()
    if upper in named:
        return named[upper]
    return int(value) if value.isascii() and value.isdigit() else value


@qr.command()
@click.option("--account-id", required=True, help="Bakong account ID, name@bank.")
@click.option("--name", required=True, help="Merchant or receiver name (tag 59).")
@click.option("--city", default=None, help="City (tag 60, default Phnom Penh).")
@click.option("--merchant-id", default=None, help="Makes a merchant code (tag 30).")
@click.option("--acquiring-bank", default=None, help="Acquiring bank.")
@click.option("--currency", default="KHR", show_default=True, help="KHR, USD, 116 or 840.")
@click.option("--amount", type=float, default=None, help="Amount; makes a dynamic code.")
@click.option("--expires-ms", type=int, default=None, help="Expiry, epoch ms.")
@click.option("--expires-in", type=int, default=None, help="Expiry, seconds from now.")
@click.option("--now-ms", type=int, default=None, help="The clock, epoch ms (default: now).")
@_with_optional
@_JSON
def make(**given: Any) -> None:
    """Make a KHQR: individual (tag 29), or merchant (tag 30) with --merchant-id."""
    from bakong.khqr.generate import Options, generate_individual, generate_merchant

    as_json = given.pop("as_json")
    now = _now_ms() if given["now_ms"] is None else given["now_ms"]
    expires = given["expires_ms"]
    if expires is None and given["expires_in"] is not None:
        expires = now + given["expires_in"] * 1000
    names = {name for _, name, _ in _OPTIONAL}
    options = Options(
        currency=_currency(given["currency"]),
        amount=given["amount"],
        expiration_timestamp=expires,
        acquiring_bank=None if given["merchant_id"] else given["acquiring_bank"],
        **{name: value for name, value in given.items() if name in names},
    )
    try:
        if given["merchant_id"] is not None:
            made = generate_merchant(
                given["account_id"], given["name"], given["city"], given["merchant_id"],
                given["acquiring_bank"], options, now_ms=now,
            )
        else:
            made = generate_individual(
                given["account_id"], given["name"], given["city"], options, now_ms=now
            )
    except QRInputError as error:
        _fail(error.code, error.message, as_json, error_code=error.error_code)
    _emit({"qr": made.qr, "md5": made.md5}, as_json, [made.qr, f"md5: {made.md5}"])
