"""The exception tree. Business rejections are never exceptions: they are result codes.

    BakongError                   everything we raise on purpose
    ├── LocalError                we misused our own API (a bug on our side or the caller's)
    │   ├── ConfigError           a genesis, key or configuration file is wrong
    │   ├── WaitTimeout           (client.errors) a wait for a commit ran out; it may still commit
    │   └── PostgresError         (bench.postgres) the baseline's PostgreSQL cannot be run
    │       └── PostgresNotInstalled  (bench.postgres) its binaries are not on this machine
    └── RemoteError               bytes from outside are bad; drop them, answer with a code
        ├── DecodeError           malformed, oversized or non-canonical encoding
        │   ├── KeyFileError      a key file is malformed or readable by others
        │   └── QRDecodeError     a QR string is oversized, not Unicode, or cannot be sliced
        │       └── NeverEnds     (khqr.fields) the SDK's slicing would never end on it
        ├── QRInputError          KHQR generation input breaks an SDK rule (`error_code` 1-53)
        ├── NoiseError            (node.noise) a handshake or transport message fails
        ├── LinkError             (node.transport) a peer broke the frame format
        ├── RestoreError          (node.restore) a snapshot source sent what does not verify
        ├── ApiProblem            (node.views) the node refuses a request: HTTP status and code
        ├── StreamClosed          (node.stream) the node ends a block stream: close code, reason
        ├── HttpClientError       (bench.http1) the benchmark's HTTP client got no answer it reads
        ├── ApiError              (client.errors) the node answered with an error envelope
        │   ├── Busy              (client.errors) 503 or 429: the same request may succeed later
        │   └── NotFound          (client.errors) 404: no such account, alias, block or route
        ├── TransactionRejected   (client.errors) the node will never commit it as sent
        ├── VerificationError     (client.errors) a stream message failed a check
        ├── GatewayProblem        (gateway.problems) a gateway refuses a request: status, code
        ├── SmsNotAccepted        (gateway.sms_http) the SMS provider did not take a message
        ├── CorebankProblem       (corebank.books) the sample core bank refuses a request
        ├── IsoProblem            (crossborder.messages) a cross-border message is refused
        ├── SwitchRefused         (crossborder.switch) a foreign switch refused a message
        │   └── SwitchUnavailable (crossborder.switch) no usable answer from it: try again
        ├── SwitchProblem         (foreignsim.books) a foreign switch simulator refuses
        ├── CoreBankingError      (gateway.corebanking.adapter) a core bank's answer is unusable
        │   └── CoreBankingUnavailable  (gateway.corebanking.adapter) no answer: try again
        └── LinkRefused           (gateway.crossborder.link) the cross-border link said no
            └── LinkUnavailable   (gateway.crossborder.link) no usable answer: try again

    AssertionError                one of our own invariants broke: a bug (assertions stay on)
    └── InvariantViolation        (ledger.invariants) a block broke conservation or a sign

A name with a module in brackets is defined there, next to the code that raises it; the rest
are defined here. `tests/test_tidy.py` requires every exception class in the package to be
drawn here under its real base, and every `raise` to name a drawn class (or `AssertionError`,
`SystemExit`, `NotImplementedError`, or a click exception in the command line).

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
