"""Type stub of the compiled transfer lane (`_lane.c`)."""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

_R = TypeVar("_R")

#: Every result code the lane can return: `ok`, then its rungs in order.
RESULT_CODES: tuple[str, ...]

def configure(constants: dict[str, object], codes: dict[str, int]) -> None: ...
def execute_transactions(
    context: Any,
    transactions: Sequence[Any],
    tx_hashes: Sequence[bytes],
    general: Callable[[Any, Any, bytes], _R],
    result_type: Callable[[bytes, int, int], _R],
) -> tuple[_R, ...]: ...
def changes(
    block: dict[bytes, Any],
    written: set[bytes],
    types: dict[int, Any],
    encode: Callable[[Any], bytes],
    shared_byte: int,
) -> tuple[tuple[tuple[bytes, bytes | None], ...], tuple[tuple[bytes, Any], ...]]: ...
def account_deltas(
    written: set[bytes], block: dict[bytes, Any], original: dict[bytes, Any], account_byte: int
) -> tuple[int, int, Any] | None: ...
def cached_records(
    cached: dict[bytes, Any],
    keys: Sequence[bytes],
    get: Callable[[bytes], bytes | None],
    decode: Callable[[bytes, bytes], Any],
    unkept: bytes,
    insert: Callable[[bytes, Any], None],
) -> list[Any]: ...
