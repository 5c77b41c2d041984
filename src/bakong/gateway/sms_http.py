"""A real SMS provider over HTTP, configured by the `[sms]` table of a gateway's config.toml.

    [sms]
    provider = "http"                     # "" (the default): no provider, the outbox is the sink
    url = "https://sms.example.com/send"  # where each message is POSTed
    token_file = "sms-token"              # the provider's API token, beside config.toml (0600)
    sender = "BAKONG"                     # optional: the sender name the provider shows

Most SMS aggregators take one message as one JSON POST with a bearer token: `HttpSms` sends
`{"to": "+855...", "text": "...", "sender": "..."}` with `Authorization: Bearer <token>`.
Rules:
- Accepted means a 2xx answer. A 429, a 5xx, a timeout or a connection that fails is tried
  again within the same send (`limits.sms_http_attempts`, waiting `sms_http_retry_s` between),
  then raised; any other answer is raised at once (the provider will not take it as sent).
  A raise leaves the message in the outbox (`sms.run_sender` marks it sent only on success),
  which hands it over again in a later round: at least once, as long as its code lives.
- Every attempt is bounded by `limits.sms_http_timeout_s`.
- Nothing here logs, and an error says only what failed (a status, a timeout): never the
  phone number, the text (it carries a code) or the token. httpx's own request log stays off
  (`observe.configure_logging`).
- The token is read once at start from a file the gateway's user alone may read, as every
  secret of the home is (`keystore.read_private_file`); a missing or open file is a
  `ConfigError`. The URL must be `https://` (plain `http://` only to a loopback address, for
  a provider's local relay and the tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import msgspec

from bakong import limits
from bakong.errors import ConfigError, KeyFileError, RemoteError
from bakong.keystore import read_private_file

__all__ = ["HttpSms", "SmsConfig", "SmsNotAccepted", "check_sms", "format_sms", "sms_provider"]


class SmsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    provider: str = ""  # "" or "http"
    url: str = ""
    token_file: str = ""  # relative to the home
    sender: str = ""


class SmsNotAccepted(RemoteError):
    """The provider did not take a message (its status or the failure, nothing of the message)."""


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_sms(config: SmsConfig) -> None:
    """`ConfigError` naming what is wrong in the `[sms]` table."""
    if config.provider == "":
        if config != SmsConfig():
            raise ConfigError('[sms] names no provider: set provider = "http" or remove the table')
        return
    if config.provider != "http":
        raise ConfigError(f'[sms] provider {config.provider!r} is unknown: "http" or none')
    parts = urlsplit(config.url)
    secure = parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname))
    if not secure or not parts.hostname or len(config.url) > limits.sms_http_url_chars_max:
        raise ConfigError("[sms] url is an https:// URL (http:// only to a loopback address)")
    if not config.token_file or Path(config.token_file).is_absolute() or ".." in config.token_file:
        raise ConfigError("[sms] token_file names a file in the gateway's home")
    if len(config.sender) > limits.sms_sender_chars_max:
        raise ConfigError(f"[sms] sender is at most {limits.sms_sender_chars_max} characters")


def format_sms(config: SmsConfig) -> list[str]:
    """The TOML lines of the table; none when no provider is configured."""
    if config == SmsConfig():
        return []
    lines = ["", "[sms]"]
    for field in msgspec.structs.fields(config):
        lines.append(f"{field.name} = {msgspec.json.encode(getattr(config, field.name)).decode()}")
    return lines


class HttpSms:
    """`sms.SmsProvider` over a provider's HTTP API (module rules)."""

    def __init__(
        self, url: str, token: str, sender: str = "", *,
        timeout_s: float = limits.sms_http_timeout_s, retry_s: float = limits.sms_http_retry_s,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        self.url = url
        self.sender = sender
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self._headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        self._transport = transport

    async def send(self, phone: str, body: str) -> None:
        """Hand one message to the provider; `SmsNotAccepted` if it did not take it."""
        message: dict[str, str] = {"to": phone, "text": body}
        if self.sender:
            message["sender"] = self.sender
        content = msgspec.json.encode(message)
        failure = "was not tried"
        # A client per message: codes are few, and nothing is left open between them.
        async with httpx.AsyncClient(timeout=self.timeout_s, transport=self._transport) as http:
            for attempt in range(limits.sms_http_attempts):
                if attempt:
                    await asyncio.sleep(self.retry_s)
                try:
                    answer = await http.post(self.url, content=content, headers=self._headers)
                except httpx.TimeoutException:
                    failure = "timed out"
                    continue
                except httpx.TransportError:
                    failure = "was unreachable"
                    continue
                if 200 <= answer.status_code < 300:
                    return
                failure = f"answered HTTP {answer.status_code}"
                if answer.status_code != 429 and answer.status_code < 500:
                    break  # the provider refuses this message: asking again changes nothing
        raise SmsNotAccepted("sms_not_accepted", f"the SMS provider {failure}")


def sms_provider(config: SmsConfig, home: Path) -> HttpSms | None:
    """The provider `[sms]` configures for the gateway in `home`, or None (the outbox is the
    sink). Reads the token file now: `ConfigError` if it is missing, open to others or empty."""
    if config.provider != "http":
        return None
    path = home / config.token_file
    try:
        raw = read_private_file(path)
    except KeyFileError as error:
        raise ConfigError(f"[sms] token_file: {error.message}") from None
    except OSError as error:
        raise ConfigError(f"[sms] token_file {path} cannot be read: {error.strerror}") from None
    if len(raw) > limits.sms_http_token_bytes_max:
        raise ConfigError(f"[sms] token_file {path} is too large")
    token = raw.decode(errors="replace").strip()
    if not token or not token.isprintable():
        raise ConfigError(f"[sms] token_file {path} holds no token")
    return HttpSms(config.url, token, config.sender)
