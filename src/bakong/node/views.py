"""The API's response shapes: records of the ledger and the node as JSON or msgpack trees.

Rules:
1. A view builds a tree of dicts, lists, str, int, bool, None and bytes. Byte strings stay
   bytes until encoding: msgpack writes them as bin, JSON as lower-case hex (`hexify`).
2. Amounts are integers in minor units, never floats; enumerations are written as their wire
   values (kinds and statuses as strings, KYC tiers as integers 0-3).
3. Every 4xx and 5xx answer carries `{"error": {"code": "<snake_case>", "message": "..."}}`;
   `ApiProblem` is how a handler says so. Some error answers carry more fields beside
   `error` (a refused batch keeps its `results`, an unknown transaction its status).
4. `/metrics` is the Prometheus text exposition format 0.0.4: the service's own samples and
   the API's counters (`ApiCounters`), sorted, so the output is deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from bakong import exposition
from bakong.errors import RemoteError
from bakong.ledger.assets import ASSETS
from bakong.ledger.block import BlockHeader, TxResult
from bakong.ledger.commit import Commit
from bakong.ledger.records import Account, Participant, ParticipantEndpoint
from bakong.ledger.result import ResultCode
from bakong.ledger.validators import Validator
from bakong.node.service import Admission, AliasLookup, Metric, NodeStatus, TxStatus

__all__ = [
    "ApiCounters",
    "ApiProblem",
    "Tree",
    "account_view",
    "admission_view",
    "alias_lookup_view",
    "commit_view",
    "encode_tree",
    "error_tree",
    "header_view",
    "hexify",
    "participant_view",
    "prometheus_text",
    "result_name",
    "result_view",
    "status_view",
    "tx_status_view",
    "validators_view",
]

Tree = Any  # dict / list / str / int / bool / None / bytes, nested (rule 1)


class ApiProblem(RemoteError):
    """A request is refused: HTTP `status`, a stable snake_case `code`, a human `message`."""

    def __init__(self, status: int, code: str, message: str, extra: dict[str, Tree] | None = None):
        super().__init__(code, message)
        assert 400 <= status <= 599
        self.status = status
        self.http_status = status
        self.extra = extra or {}


def error_tree(code: str, message: str, extra: dict[str, Tree] | None = None) -> dict[str, Tree]:
    return {**(extra or {}), "error": {"code": code, "message": message}}


def hexify(tree: Tree) -> Tree:
    """The JSON form of a tree: every byte string as lower-case hex (rule 1)."""
    if isinstance(tree, bytes):
        return tree.hex()
    if isinstance(tree, dict):
        return {key: hexify(value) for key, value in tree.items()}
    if isinstance(tree, list | tuple):
        return [hexify(value) for value in tree]
    return tree


_msgpack_encoder = msgspec.msgpack.Encoder()
_json_encoder = msgspec.json.Encoder()


def encode_tree(tree: Tree, *, msgpack: bool) -> bytes:
    return _msgpack_encoder.encode(tree) if msgpack else _json_encoder.encode(hexify(tree))


def result_name(code: int) -> str:
    """The `ResultCode` name of `code`; a code newer than this build is shown by number."""
    try:
        return ResultCode(code).name
    except ValueError:
        return f"code_{code}"


def validators_view(validators: Iterable[Validator]) -> list[Tree]:
    return [{"name": v.name, "public_key": v.public_key, "power": v.power} for v in validators]


def status_view(status: NodeStatus) -> Tree:
    return {
        "chain_id": status.chain_id,
        "height": status.height,
        "app_hash": status.app_hash,
        "block_time_ms": status.block_time_ms,
        "validators": [
            {"name": v.name, "public_key": v.public_key, "power": v.power}
            for v in status.validators
        ],
        "peers": [
            {"public_key": p.public_key, "address": p.address, "connected": p.connected}
            for p in status.peers
        ],
        "mempool_txs": status.mempool_txs,
        "catching_up": status.catching_up,
    }


def admission_view(admission: Admission) -> Tree:
    return {
        "tx_hash": admission.tx_hash,
        "status": admission.status.value,
        "code": admission.code,
        "message": admission.message,
    }


def tx_status_view(status: TxStatus) -> Tree:
    return {
        "tx_hash": status.tx_hash,
        "state": status.state.value,
        "height": status.height,
        "index": status.index,
        "code": status.code,
        "result": None if status.code is None else result_name(status.code),
        "command_index": status.command_index,
        "reason": status.reason,
    }


def alias_lookup_view(sequence: int, lookup: AliasLookup) -> Tree:
    return {
        "sequence": sequence,
        "time_ms": lookup.time_ms,
        "participant": lookup.participant,
        "public_key": lookup.public_key,
        "alias": lookup.alias,
        "account_id": lookup.account_id or None,
    }


def _per_asset(pair: tuple[int, int]) -> dict[str, int]:
    return {asset.value: pair[asset.index] for asset in ASSETS}


def account_view(account: Account, height: int) -> Tree:
    return {
        "account_id": account.account_id,
        "kind": account.kind.value,
        "tier": int(account.tier),
        "status": account.status.value,
        "balances": _per_asset(account.balances),
        "held": _per_asset(account.held),
        "signatories": list(account.signatories),
        "quorum": account.quorum,
        "height": height,
    }


def participant_view(participant: Participant, endpoint: ParticipantEndpoint | None) -> Tree:
    """What every participant may know of another: no admin keys, which sign only the
    participant's own transactions."""
    return {
        "code": participant.code,
        "name": participant.name,
        "status": participant.status.value,
        "gateway_keys": list(participant.gateway_keys),
        "gateway_url": None if endpoint is None else endpoint.gateway_url,
    }


def commit_view(commit: Commit) -> Tree:
    return {
        "height": commit.height,
        "round": commit.round,
        "block_hash": commit.block_hash,
        "signatures": [
            {"validator": s.validator, "signature": s.signature} for s in commit.signatures
        ],
    }


def header_view(header: BlockHeader) -> Tree:
    last_commit = header.last_commit
    return {
        "chain_id": header.chain_id,
        "height": header.height,
        "time_ms": header.time_ms,
        "proposer": header.proposer,
        "previous_hash": header.previous_hash,
        "tx_root": header.tx_root,
        "result_root": header.result_root,
        "app_hash": header.app_hash,
        "validators_hash": header.validators_hash,
        "snapshot": None
        if header.snapshot is None
        else {"height": header.snapshot.height, "root": header.snapshot.root},
        "last_commit": None if last_commit is None else commit_view(last_commit),
    }


def result_view(result: TxResult) -> Tree:
    return {
        "tx_hash": result.tx_hash,
        "code": result.code,
        "result": result_name(result.code),
        "command_index": result.command_index,
    }


class ApiCounters:
    """The API's own Prometheus counters (rule 4)."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, int]] = Counter()  # (route, method, status)
        self.auth_failures: Counter[str] = Counter()  # by code
        self.stream_closes: Counter[str] = Counter()  # by close reason
        self.alias_lookups: Counter[tuple[str, str]] = Counter()  # (participant, outcome)
        self.streams_open = 0
        self.stream_messages = 0

    def samples(self) -> list[tuple[str, str, str, list[tuple[str, float]]]]:
        """(name, kind, help, [(labels, value)]) for each family, in a fixed order."""
        requests = [
            (exposition.labels(route=r, method=m, status=str(s)), float(n))
            for (r, m, s), n in sorted(self.requests.items())
        ]
        failures = [
            (exposition.labels(code=c), float(n)) for c, n in sorted(self.auth_failures.items())
        ]
        closes = [
            (exposition.labels(reason=c), float(n)) for c, n in sorted(self.stream_closes.items())
        ]
        lookups = [
            (exposition.labels(participant=p, outcome=o), float(n))
            for (p, o), n in sorted(self.alias_lookups.items())
        ]
        return [
            ("bakong_api_requests_total", "counter", "API requests answered", requests),
            ("bakong_api_auth_failures_total", "counter", "Refused signed requests", failures),
            ("bakong_api_stream_closes_total", "counter", "Commit streams closed", closes),
            ("bakong_api_alias_lookups_total", "counter", "Phone-alias lookups", lookups),
            (
                "bakong_api_streams",
                "gauge",
                "Open commit streams",
                [("", float(self.streams_open))],
            ),
            (
                "bakong_api_stream_messages_total",
                "counter",
                "Commit stream messages sent",
                [("", float(self.stream_messages))],
            ),
        ]


def prometheus_text(metrics: Sequence[Metric], counters: ApiCounters) -> str:
    """The exposition text of the service's samples and the API's counters (rule 4)."""
    families = [(m.name, m.kind, m.help, [("", float(m.value))]) for m in metrics]
    return exposition.render(sorted(families) + counters.samples())
