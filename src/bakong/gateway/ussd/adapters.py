"""The aggregator seam: each USSD aggregator's callback shape, parsed into one `Hit` and answered.

Two shapes, one per route (`service`):

- `form` (`POST /ussd/callback`), the de-facto callback of Africa's Talking and its many
  imitators: `application/x-www-form-urlencoded` with `sessionId`, `serviceCode`,
  `phoneNumber`, `networkCode` and `text`, every input of the session joined by `*` (empty on
  the first hit). The answer is `text/plain`, `CON <screen>` to wait for an input or
  `END <screen>` to close.
- `json` (`POST /ussd/json`), the other common family (Oltranz-like): a JSON object with
  `sessionId`, `msisdn`, `serviceCode`, `networkCode`, `newRequest` and only the newest
  `input`; the answer is `{"sessionId", "action": "CON"|"END", "message"}`.

A new shape is a new `Adapter` (parse a request into a `Hit`, render an answer) and a route.

Rules:
- Everything is bounded before it is used: the body (`limits.ussd_body_bytes_max`), each
  field's length and characters, the number of inputs and each input's length. An input is
  made of the keys a phone has (`0-9`, `#`; `*` separates them). The phone is E.164.
- A refusal names the field and what it must be, never what it held (the text may hold a
  PIN, the phone is personal data): 400 `ussd_field_missing`, `ussd_field_invalid`,
  `ussd_phone_invalid`, `ussd_text_invalid`, `ussd_too_many_inputs`; 415 for another media
  type; 413 for a body too large.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Annotated, Protocol

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bakong import limits
from bakong.gateway.problems import GatewayProblem, json_response, read_body

__all__ = ["ADAPTERS", "Adapter", "FormAdapter", "Hit", "JsonAdapter", "parse_text"]

_SESSION_ID = re.compile(rf"^[A-Za-z0-9_.:-]{{1,{limits.ussd_session_id_chars_max}}}$")
_SERVICE_CODE = re.compile(rf"^[0-9*#]{{1,{limits.ussd_service_code_chars_max}}}$")
_NETWORK_CODE = re.compile(rf"^[0-9]{{0,{limits.ussd_network_code_chars_max}}}$")
_PHONE = re.compile(rf"^\+[1-9][0-9]{{7,{limits.phone_digits_max - 1}}}$")
_TEXT = re.compile(rf"^[0-9*#]{{0,{limits.ussd_text_chars_max}}}$")
_INPUT = re.compile(rf"^[0-9#]{{0,{limits.ussd_input_chars_max}}}$")
_FORM_TYPE = "application/x-www-form-urlencoded"
_JSON_TYPE = "application/json"
_FORM_FIELDS = ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text")


@dataclass(frozen=True)
class Hit:
    """One callback, whatever shape it came in. `inputs` is every input of the session so far
    (a shape that sends them all); `latest` only the newest (a shape that sends one), None on
    a session's first hit."""

    session_id: str
    phone: str
    service_code: str
    network_code: str
    new: bool
    inputs: tuple[str, ...] | None = None
    latest: str | None = None

    @property
    def text(self) -> str:
        """The inputs joined as the form shape sends them."""
        return "*".join(self.inputs or ())


class Adapter(Protocol):
    shape: str

    async def parse(self, request: Request) -> Hit: ...

    def answer(self, hit: Hit, screen: str, end: bool) -> Response: ...


def _invalid(field: str, rule: str) -> GatewayProblem:
    return GatewayProblem(400, "ussd_field_invalid", f"{field} must be {rule}")


def _media_type(request: Request, expected: str) -> None:
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared != expected:
        raise GatewayProblem(415, "unsupported_media_type", f"the body must be {expected}")


def parse_text(text: str) -> tuple[str, ...]:
    """The inputs of a form callback's `text` (none when it is empty), each checked."""
    if not _TEXT.match(text):
        raise GatewayProblem(
            400, "ussd_text_invalid",
            f"text is at most {limits.ussd_text_chars_max} characters of 0-9, * and #",
        )  # fmt: skip
    if not text:
        return ()
    inputs = tuple(text.split("*"))
    if len(inputs) > limits.ussd_inputs_max:
        raise GatewayProblem(
            400, "ussd_too_many_inputs", f"a session takes at most {limits.ussd_inputs_max} inputs"
        )
    if not all(_INPUT.match(entry) for entry in inputs):
        raise GatewayProblem(
            400, "ussd_text_invalid",
            f"each input of text is at most {limits.ussd_input_chars_max} characters",
        )  # fmt: skip
    return inputs


def _check_common(session_id: str, phone: str, service_code: str, network_code: str) -> None:
    if not _SESSION_ID.match(session_id):
        raise _invalid("sessionId", f"1 to {limits.ussd_session_id_chars_max} of A-Z a-z 0-9 _.:-")
    if not _PHONE.match(phone):
        raise GatewayProblem(400, "ussd_phone_invalid", "the phone number must be E.164 (+855...)")
    if not _SERVICE_CODE.match(service_code):
        raise _invalid("serviceCode", "a USSD code of 0-9, * and #")
    if not _NETWORK_CODE.match(network_code):
        raise _invalid("networkCode", f"at most {limits.ussd_network_code_chars_max} digits")


class FormAdapter:
    """Africa's Talking's callback: a form with every input so far in `text`."""

    shape = "form"

    async def parse(self, request: Request) -> Hit:
        _media_type(request, _FORM_TYPE)
        body = await read_body(request, limits.ussd_body_bytes_max)
        try:
            pairs = urllib.parse.parse_qsl(
                body.decode("ascii"), keep_blank_values=True, strict_parsing=bool(body),
                max_num_fields=len(_FORM_FIELDS) * 2,
            )  # fmt: skip
        except (UnicodeDecodeError, ValueError):
            raise GatewayProblem(400, "bad_request", "the body is not a URL-encoded form") from None
        fields: dict[str, str] = {}
        for name, value in pairs:
            if name in fields:
                raise _invalid(name, "given once")
            fields[name] = value
        for name in ("sessionId", "serviceCode", "phoneNumber", "text"):
            if name not in fields:
                raise GatewayProblem(400, "ussd_field_missing", f"{name} is required")
        network_code = fields.get("networkCode", "")
        _check_common(fields["sessionId"], fields["phoneNumber"], fields["serviceCode"],
                      network_code)  # fmt: skip
        inputs = parse_text(fields["text"])
        return Hit(
            session_id=fields["sessionId"], phone=fields["phoneNumber"],
            service_code=fields["serviceCode"], network_code=network_code, new=not inputs,
            inputs=inputs,
        )  # fmt: skip

    def answer(self, hit: Hit, screen: str, end: bool) -> Response:
        prefix = "END " if end else "CON "
        return PlainTextResponse(prefix + screen, media_type="text/plain; charset=utf-8")


class JsonCallback(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sessionId: Annotated[str, Meta(max_length=limits.ussd_session_id_chars_max)]
    msisdn: Annotated[str, Meta(max_length=limits.phone_digits_max + 1)]
    serviceCode: Annotated[str, Meta(max_length=limits.ussd_service_code_chars_max)]
    newRequest: bool
    input: Annotated[str, Meta(max_length=limits.ussd_input_chars_max)] = ""
    networkCode: Annotated[str, Meta(max_length=limits.ussd_network_code_chars_max)] = ""


class JsonAnswer(msgspec.Struct, frozen=True):
    sessionId: str
    action: str  # "CON" | "END"
    message: str


class JsonAdapter:
    """The JSON family: one input per hit, `newRequest` on the first (its input is ignored:
    some aggregators put the dialled code there)."""

    shape = "json"

    async def parse(self, request: Request) -> Hit:
        _media_type(request, _JSON_TYPE)
        body = await read_body(request, limits.ussd_body_bytes_max)
        try:
            decoded = msgspec.json.decode(body, type=JsonCallback, strict=True)
        except msgspec.ValidationError as error:  # names the path, never the value
            raise GatewayProblem(400, "ussd_field_invalid", str(error)) from None
        except msgspec.DecodeError:
            raise GatewayProblem(400, "bad_request", "the body is not valid JSON") from None
        _check_common(decoded.sessionId, decoded.msisdn, decoded.serviceCode, decoded.networkCode)
        latest = None
        if not decoded.newRequest:
            if not _INPUT.match(decoded.input):
                raise _invalid("input", f"at most {limits.ussd_input_chars_max} of 0-9 and #")
            latest = decoded.input
        return Hit(
            session_id=decoded.sessionId, phone=decoded.msisdn, service_code=decoded.serviceCode,
            network_code=decoded.networkCode, new=decoded.newRequest, latest=latest,
        )  # fmt: skip

    def answer(self, hit: Hit, screen: str, end: bool) -> Response:
        return json_response(JsonAnswer(hit.session_id, "END" if end else "CON", screen))


ADAPTERS: dict[str, Adapter] = {"form": FormAdapter(), "json": JsonAdapter()}
