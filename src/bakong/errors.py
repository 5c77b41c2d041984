"""The exception tree. Business rejections are never exceptions: they are result codes.

    BakongError                   everything we raise on purpose
    ├── LocalError                we misused our own API (a bug on our side or the caller's)
    │   └── ConfigError           a genesis, key or configuration file is wrong
    └── RemoteError               bytes from outside are bad; drop them, answer with a code
        ├── DecodeError           malformed, oversized or non-canonical encoding
        │   ├── KeyFileError      a key file is malformed or readable by others
        │   └── QRDecodeError     a QR string is oversized, not Unicode, or cannot be sliced
        └── QRInputError          KHQR generation input breaks an SDK rule (`error_code` 1-53)

`RemoteError` carries a stable `code` (a short snake_case string) and an HTTP status hint, so
the API layer and the peer layer can answer or score without parsing messages.
"""

from __future__ import annotations

__all__ = [
    "BakongError",
    "ConfigError",
    "DecodeError",
    "KeyFileError",
    "LocalError",
    "QRDecodeError",
    "QRInputError",
    "RemoteError",
]


class BakongError(Exception):
    """Base of every exception this package raises on purpose."""


class LocalError(BakongError):
    """Our own API was used wrongly: a programming or operator error."""


class ConfigError(LocalError):
    """A genesis, key or configuration file is missing, malformed or inconsistent."""


class RemoteError(BakongError):
    """Input from outside (a peer, a client, a file) is bad. Carries a stable code."""

    http_status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class DecodeError(RemoteError):
    """Bytes are oversized, malformed or not in canonical form."""


class KeyFileError(DecodeError):
    """A key file is malformed, or its permissions let others read it."""


class QRDecodeError(DecodeError):
    """A QR string cannot be decoded: over the length limit, not Unicode, or malformed TLV."""


class QRInputError(RemoteError):
    """KHQR generation refused its input; `error_code` is the SDK's numeric code (khqr.md §7.1)."""

    def __init__(self, code: str, message: str, error_code: int) -> None:
        super().__init__(code, message)
        self.error_code = error_code
