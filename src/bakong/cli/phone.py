"""`bakong phone`: a feature phone in a terminal, dialling a gateway's USSD service as an
aggregator would (the form callback of `bakong.gateway.ussd.adapters`, or its JSON shape).

    bakong phone --gateway URL --msisdn +85512345678 [--service-code *855#]
                 [--aggregator NAME --secret S] [--shape form|json] [--cacert FILE]
                 [--input 1*2*... ...] [--json]

Each dial is a new session id. The screens are printed as they come; at a `CON` screen the
next input is read: from the terminal, typed by a person (an empty line at an `END` screen dials
again, Ctrl-D quits); from `--input` (one dial per option, its inputs joined by `*`); or from
stdin lines when stdin is not a terminal (one input per line; after an `END` the next line
belongs to a new dial). The form shape sends every input of the session joined by `*`, as
Africa's Talking does; the JSON shape only the newest. The aggregator authenticates with HTTP
Basic: `--aggregator` is its name in the gateway's `[ussd.aggregators]`, and `--secret` (or
`BAKONG_USSD_SECRET`, which keeps it out of the process list) its shared secret.

Exit status: 0 once the inputs are used up, 1 when the gateway refuses a request (its error
code and message are printed to stderr).
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx

from bakong import limits

__all__ = ["phone"]

_E164 = re.compile(rf"^\+[1-9][0-9]{{7,{limits.phone_digits_max - 1}}}$")
_PATHS = {"form": "/ussd/callback", "json": "/ussd/json"}


class Refused(click.ClickException):
    """The gateway refused a hit: its error code and message."""


@dataclass
class Session:
    """One dial: its id and the inputs sent so far."""

    id: str = field(default_factory=lambda: "sim-" + secrets.token_hex(8))
    inputs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Line:
    """Where the phone is dialling and how it speaks."""

    http: httpx.Client
    shape: str
    msisdn: str
    service_code: str
    network_code: str


def _hit(line: Line, session: Session, latest: str | None) -> tuple[str, bool]:
    """Send one hit; (the screen, whether the session ended)."""
    if line.shape == "form":
        form = {"sessionId": session.id, "serviceCode": line.service_code,
                "phoneNumber": line.msisdn, "networkCode": line.network_code,
                "text": "*".join(session.inputs)}  # fmt: skip
        answer = line.http.post(_PATHS["form"], data=form)
    else:
        body = {"sessionId": session.id, "msisdn": line.msisdn, "serviceCode": line.service_code,
                "networkCode": line.network_code, "newRequest": latest is None,
                "input": latest or ""}  # fmt: skip
        answer = line.http.post(_PATHS["json"], json=body)
    if answer.status_code != 200:
        try:
            error = answer.json()["error"]
            problem = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            problem = f"HTTP {answer.status_code}"
        raise Refused(f"the gateway refused the request: {problem}")
    if line.shape == "json":
        reply = answer.json()
        return str(reply["message"]), reply["action"] == "END"
    text = answer.text
    if not text.startswith(("CON ", "END ")):
        raise Refused("the gateway's answer starts with neither CON nor END")
    return text[4:], text.startswith("END ")


def _show(session: Session, sent: str | None, screen: str, end: bool, as_json: bool) -> None:
    if as_json:
        record = {"session": session.id, "input": sent, "end": end, "screen": screen}
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    if sent is not None:
        click.echo(f"> {sent}")
    click.echo(screen)
    click.echo("-- END --" if end else "")


def _dial(line: Line, entries: Iterator[str], as_json: bool, typed: bool) -> bool:
    """One session: dial, then send `entries` while the screens ask; False when the entries
    ran out before the session ended."""
    session = Session()
    if not as_json:
        click.echo(f"-- dialling {line.service_code} as {line.msisdn} ({session.id}) --")
    screen, end = _hit(line, session, None)
    _show(session, None, screen, end, as_json)
    while not end:
        entry = next(entries, None)
        if entry is None:
            return False
        session.inputs.append(entry)
        screen, end = _hit(line, session, entry)
        _show(session, None if typed else entry, screen, end, as_json)
    return True


def _typed() -> Iterator[str]:
    while True:
        try:
            yield input("> ")
        except EOFError:
            return


def _run(line: Line, scripts: tuple[str, ...], as_json: bool) -> None:
    if scripts:
        for script in scripts:
            _dial(line, iter(script.split("*") if script else []), as_json, typed=False)
        return
    typed = sys.stdin.isatty()
    entries = _typed() if typed else (row.rstrip("\r\n") for row in sys.stdin)
    while _dial(line, entries, as_json, typed):
        if typed:
            try:
                input("(Enter dials again, Ctrl-D quits) ")
            except EOFError:
                return
        else:
            peeked = next(entries, None)  # another dial only if lines remain
            if peeked is None:
                return
            entries = _chain(peeked, entries)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _msisdn(context: click.Context, parameter: click.Parameter, value: str) -> str:
    if not _E164.match(value):
        raise click.BadParameter("an E.164 number such as +85512345678")
    return value


@click.command()
@click.option("--gateway", "gateway_url", required=True, help="The gateway's base URL.")
@click.option("--msisdn", required=True, callback=_msisdn, help="This phone's number (E.164).")
@click.option("--service-code", default="*855#", show_default=True, help="The code dialled.")
@click.option("--aggregator", default="phone", show_default=True, help="The aggregator's name.")
@click.option("--secret", envvar="BAKONG_USSD_SECRET", required=True,
              help="The aggregator's shared secret (or BAKONG_USSD_SECRET).")  # fmt: skip
@click.option("--shape", type=click.Choice(["form", "json"]), default="form", show_default=True)
@click.option("--network-code", default="45601", show_default=True, help="The mobile network.")
@click.option(
    "--cacert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The authority of the gateway's certificate (a demo's .localnet/tls/ca.pem).",
)
@click.option("--input", "scripts", multiple=True,
              help="One dial's inputs joined by '*' (repeat for more dials).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object per screen.")
def phone(
    gateway_url: str, msisdn: str, service_code: str, aggregator: str, secret: str, shape: str,
    network_code: str, cacert: Path | None, scripts: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Dial a gateway's USSD service from this terminal, as a feature phone would."""
    verify: Any = str(cacert) if cacert is not None else True
    with httpx.Client(
        base_url=gateway_url, auth=(aggregator, secret), verify=verify,
        timeout=limits.phone_request_timeout_s,
    ) as http:  # fmt: skip
        line = Line(http, shape, msisdn, service_code, network_code)
        try:
            _run(line, scripts, as_json)
        except httpx.HTTPError as error:
            raise Refused(f"the gateway cannot be reached: {type(error).__name__}") from None
