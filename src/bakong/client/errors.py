"""What the SDK raises, as branches of the package's exception tree (`bakong.errors`).

    BakongError
    ├── LocalError
    │   └── WaitTimeout           submit_and_wait gave up; the transaction may still commit
    └── RemoteError               (code, message): the other side said no, or lied
        ├── ApiError              an HTTP error envelope: status, code, message
        │   ├── Busy              503: nothing was wrong with the request, retry later
        │   └── NotFound          404: no such account, alias, block or route
        ├── TransactionRejected   the node will never commit this transaction as sent
        └── VerificationError     a stream message failed a check; nothing of it was used

Rules:
- A business outcome is not an exception: a transaction that commits with a result code other
  than `ok` (say `insufficient_funds`) is returned, because it *is* in a block and can never
  apply again. `TransactionRejected` means it never reached a block (bad signature, malformed,
  expired at admission), so the same payload may be fixed and sent again with a new nonce.
- `Busy` is the only error that says "the same request may succeed later unchanged".
- `VerificationError.code` names the check that failed, so a monitor can count them.
"""

from __future__ import annotations

from bakong.errors import LocalError, RemoteError

__all__ = [
    "ApiError",
    "Busy",
    "NotFound",
    "TransactionRejected",
    "VerificationError",
    "WaitTimeout",
]


class ApiError(RemoteError):
    """The node answered with an error envelope `{"error": {"code", "message"}}`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status
        self.http_status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


class Busy(ApiError):
    """HTTP 503 (or a per-transaction `busy`): the mempool is full, or the node's replay window
    cannot take a signed request yet (`replay_window_full`, `replay_window_lost`); or HTTP 429
    `rate_limited` (alias lookups). Retry with backoff (the SDK signs each attempt afresh)."""


class NotFound(ApiError):
    """HTTP 404: the account, alias, block or transaction is not known to the node."""


class TransactionRejected(RemoteError):
    """The node refused the transaction for good; `code` is the admission reason."""

    def __init__(self, tx_hash: bytes | None, code: str, message: str) -> None:
        super().__init__(code, message)
        self.tx_hash = tx_hash


class VerificationError(RemoteError):
    """A stream message failed verification at `height`; `code` names the failed check."""

    def __init__(self, height: int, code: str, message: str) -> None:
        super().__init__(code, f"height {height}: {message}")
        self.height = height


class WaitTimeout(LocalError, TimeoutError):
    """The wait for a commit ran out; the transaction is idempotent, so waiting again is safe."""

    def __init__(self, tx_hash: bytes, state: str, timeout_s: float) -> None:
        super().__init__(f"transaction {tx_hash.hex()} is still {state} after {timeout_s:g} s")
        self.tx_hash = tx_hash
        self.state = state
