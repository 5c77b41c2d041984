"""Who is calling the API: signed-request checks and the key directory (design section 3).

Rules:
1. Every request except status, health, metrics and the OpenAPI document is signed as
   `bakong.wire.request` describes, for this node's key. The addressee, the clock skew, the
   signature and replays are checked first (`check_request`, with one replay window per
   app); a failure is 401 with the problem's code (`unauthenticated`, `wrong_node`,
   `request_expired`, `bad_signature`, `request_replayed`), or 503 when the replay window
   cannot take the request yet (`replay_window_full`, `replay_window_lost`).
2. The key is then looked up in committed state: a participant's gateway keys and admin keys
   identify it; the central bank is the participant named by `ChainConfig.central_bank`. A
   key nobody holds is 401 `unknown_caller`. If two participants list the same key, the
   central bank wins, then the lowest code (genesis and governance are the central bank's,
   so this never decides anything in practice).
3. A suspended participant authenticates but may do nothing: 403 `forbidden`.
4. A validator's key (current or next set) identifies a validator, not a participant: it may
   fetch state snapshots to join (`bakong.node.restore`) and nothing else (403 `forbidden`
   elsewhere). A key held by a participant too is that participant's.
5. The key map is rebuilt only when the committed head changes (its stored bytes differ), so
   a key rotation or suspension takes effect with the block that commits it, and a request
   costs one state read, one signature check and one append to the persisted replay window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bakong.ledger.records import (
    ChainConfig,
    Participant,
    ParticipantIndex,
    ParticipantStatus,
    ValidatorSchedule,
)
from bakong.ledger.state import (
    CHAIN_KEY,
    HEAD_KEY,
    PARTICIPANTS_KEY,
    VALIDATORS_KEY,
    decode_value,
    participant_key,
)
from bakong.node.views import ApiProblem
from bakong.wire.request import ReplayWindow, RequestProblem, check_request

__all__ = ["Caller", "CallerDirectory", "authenticate"]

StateRead = Callable[[bytes], bytes | None]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller: the participant it acts for."""

    participant: str  # empty for a validator (rule 4)
    is_central_bank: bool
    active: bool
    public_key: bytes  # the key it signed with
    is_validator: bool = False

    @property
    def may_fetch_snapshots(self) -> bool:
        return self.is_central_bank or self.is_validator

    def may_read_account(self, account_id: str) -> bool:
        return self.is_central_bank or account_id.endswith("@" + self.participant)


def _read(read_state: StateRead, key: bytes) -> object | None:
    raw = read_state(key)
    return None if raw is None else decode_value(key, raw)


class CallerDirectory:
    """Public key -> `Caller`, from committed state, cached per committed head (rule 4)."""

    def __init__(self, read_state: StateRead) -> None:
        self._read_state = read_state
        self._head: bytes | None = None
        self._callers: Mapping[bytes, Caller] = {}

    def lookup(self, public_key: bytes) -> Caller | None:
        head = self._read_state(HEAD_KEY)
        if head is None or head != self._head:
            self._callers = self._build()
            self._head = head
        return self._callers.get(public_key)

    def _build(self) -> dict[bytes, Caller]:
        chain = _read(self._read_state, CHAIN_KEY)
        index = _read(self._read_state, PARTICIPANTS_KEY)
        if not isinstance(chain, ChainConfig) or not isinstance(index, ParticipantIndex):
            return {}
        callers: dict[bytes, Caller] = {}
        # The central bank first, then by code: the first holder of a key keeps it (rule 2).
        codes = sorted(index.codes, key=lambda code: (code != chain.central_bank, code))
        for code in codes:
            participant = _read(self._read_state, participant_key(code))
            if not isinstance(participant, Participant):
                continue
            for key in (*participant.gateway_keys, *participant.admin_keys):
                caller = Caller(
                    participant=code,
                    is_central_bank=code == chain.central_bank,
                    active=participant.status is not ParticipantStatus.suspended,
                    public_key=key,
                )
                callers.setdefault(key, caller)
        schedule = _read(self._read_state, VALIDATORS_KEY)
        if isinstance(schedule, ValidatorSchedule):
            for validator in (*schedule.current, *schedule.next):
                key = validator.public_key
                callers.setdefault(key, Caller("", False, True, key, is_validator=True))
        return callers


def authenticate(
    *,
    chain_id: str,
    node_key: bytes,
    method: str,
    target: str,
    body: bytes,
    headers: Mapping[str, str],
    now_ms: int,
    seen: ReplayWindow,
    directory: CallerDirectory,
    validators: bool = False,
) -> Caller:
    """The caller of a request signed for `node_key`, or `ApiProblem` 401/403/503 (rules
    1-4); `validators`: the route lets validators in."""
    lowered = {name.lower(): value for name, value in headers.items()}
    checked = check_request(chain_id, node_key, method, target, body, lowered, now_ms, seen)
    if isinstance(checked, RequestProblem):
        raise ApiProblem(checked.status, checked.code, checked.message)
    caller = directory.lookup(checked)
    if caller is None:
        raise ApiProblem(401, "unknown_caller", "no participant holds this key")
    if not caller.active:
        raise ApiProblem(403, "forbidden", f"participant {caller.participant} is suspended")
    if caller.is_validator and not validators:
        raise ApiProblem(403, "forbidden", "a validator's key may only fetch snapshots")
    return caller
