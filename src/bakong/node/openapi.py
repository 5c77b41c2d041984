"""The OpenAPI 3.1 document of the core node API, written by hand from `bakong.node.api`.

Rules:
1. Every route of the app has an operation here; a test compares the two.
2. Shapes are JSON Schema 2020-12 (OpenAPI 3.1) and describe the JSON form: byte strings are
   lower-case hex. The msgpack form has the same fields with bytes as bin.
3. Signed operations require all four `X-Bakong-*` headers (one security requirement naming
   the four schemes); status, health, metrics and this document are unsigned.
4. The commit stream is a WebSocket; OpenAPI has no WebSocket operation, so it is described as
   the GET that opens it (101) with the message schema under `x-websocket-message`.
5. Enumerations are taken from the ledger's own enum types, so the document cannot drift from
   the records it describes.
"""

from __future__ import annotations

from typing import Any

from bakong import limits
from bakong.ledger.records import AccountKind, AccountStatus, KycTier, ParticipantStatus
from bakong.ledger.result import ResultCode
from bakong.node.service import AdmissionStatus, TxState

__all__ = ["openapi_document"]

Doc = dict[str, Any]


def _ref(name: str) -> Doc:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: Doc, *, optional: tuple[str, ...] = ()) -> Doc:
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required}


def _nullable(schema: Doc) -> Doc:
    return {"oneOf": [schema, {"type": "null"}]}


def _array(items: Doc) -> Doc:
    return {"type": "array", "items": items}


def _enum(values: list[Any]) -> Doc:
    return {"enum": values}


_hex = {"type": "string", "pattern": "^([0-9a-f]{2})*$"}
_hex32 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_int = {"type": "integer"}
_str = {"type": "string"}
_bool = {"type": "boolean"}
_per_asset = _object({"KHR": _int, "USD": _int})
_validator = _object({"name": _str, "public_key": _hex32, "power": _int})
_error_body = _object({"code": _str, "message": _str})

_admission = _object(
    {
        "tx_hash": _nullable(_hex32),
        "status": _enum([status.value for status in AdmissionStatus]),
        "code": _str,
        "message": _str,
    }
)
_submit_response = _object(
    {"results": _array(_ref("Admission")), "error": _error_body}, optional=("error",)
)
_tx_status = _object(
    {
        "tx_hash": _hex32,
        "state": _enum([state.value for state in TxState]),
        "height": _nullable(_int),
        "index": _nullable(_int),
        "code": _nullable(_int),
        "result": _nullable(_str),
        "command_index": _nullable(_int),
        "reason": _nullable(_str),
        "error": _error_body,
    },
    optional=("error",),
)
_account = _object(
    {
        "account_id": _str,
        "kind": _enum([kind.value for kind in AccountKind]),
        "tier": _enum([int(tier) for tier in KycTier]),
        "status": _enum([status.value for status in AccountStatus]),
        "balances": _per_asset,
        "held": _per_asset,
        "signatories": _array(_hex32),
        "quorum": _int,
        "height": _int,
    }
)
_commit = _object(
    {
        "height": _int,
        "round": _int,
        "block_hash": _hex32,
        "signatures": _array(_object({"validator": _hex32, "signature": _hex})),
    }
)
_header = _object(
    {
        **{"chain_id": _str, "height": _int, "time_ms": _int, "proposer": _hex32},
        **{name: _hex32 for name in ("previous_hash", "tx_root", "result_root", "app_hash")},
        **{"validators_hash": _hex32},
        **{"snapshot": _nullable(_object({"height": _int, "root": _hex32}))},
        **{"last_commit": _nullable(_commit)},
    }
)
_block = _object(
    {
        "height": _int,
        "block_hash": _hex32,
        "header": _header,
        "header_bytes": _hex,
        "commit": _hex,
        "transactions": _array(_hex),
        "results": _array(
            _object({"tx_hash": _hex32, "code": _int, "result": _str, "command_index": _int})
        ),
        "app_hash": _hex32,
    }
)
_proven_transaction = _object(
    {
        "index": _int,
        "tx": _hex,
        "tx_proof": _array(_hex32),
        "result": _object({"code": _int, "result": _str, "command_index": _int}),
        "result_proof": _array(_hex32),
    }
)
_block_message = _object(
    {
        "height": _int,
        "header": _hex,
        "commit": _hex,
        "tx_count": _int,
        "validators": _array(_validator),
        "transactions": _array(_proven_transaction),
    }
)
_alias_lookup = _object(
    {
        "sequence": _int,
        "time_ms": _int,
        "participant": _str,
        "public_key": _hex32,
        "alias": _hex32,
        "account_id": _nullable(_str),
    }
)
_participant = _object(
    {
        "code": _str,
        "name": _str,
        "status": _enum([status.value for status in ParticipantStatus]),
        "gateway_keys": _array(_hex32),
        "gateway_url": _nullable(_str),
    }
)
_status = _object(
    {
        "chain_id": _str,
        "node_key": _hex32,
        "height": _int,
        "app_hash": _hex32,
        "block_time_ms": _int,
        "validators": _array(_validator),
        "peers": _array(_object({"public_key": _hex32, "address": _str, "connected": _bool})),
        "mempool_txs": _int,
        "catching_up": _bool,
    }
)


def _schemas(batch_txs_max: int) -> Doc:
    transactions = {**_array(_hex), "minItems": 1, "maxItems": batch_txs_max}
    return {
        "Error": _object({"error": _error_body}),
        "SubmitRequest": _object({"transactions": transactions}),
        "Admission": _admission,
        "SubmitResponse": _submit_response,
        "TxStatus": _tx_status,
        "ResultCode": _enum([code.name for code in ResultCode]),
        "Account": _account,
        "Alias": _object({"alias": _hex32, "account_id": _str}),
        "AliasLookups": _object({"lookups": _array(_alias_lookup), "next_after": _nullable(_int)}),
        "Participant": _participant,
        "Participants": _object({"participants": _array(_ref("Participant"))}),
        "Block": _block,
        "BlockMessage": _block_message,
        "Status": _status,
        "Health": _object({"ok": _bool}),
        "Snapshots": _object(
            {
                "snapshots": _array(
                    _object(
                        {
                            "height": _int,
                            "root": _hex32,
                            "entries": _int,
                            "chunks": _int,
                            "carrier_height": _int,
                        }
                    )
                )
            }
        ),
        "SnapshotOffer": _object({"offer": _hex}),
    }


_both_forms = ("application/json", "application/msgpack")
_signed: list[Doc] = [
    {"BakongKey": [], "BakongNode": [], "BakongTime": [], "BakongSignature": []}
]
_auth_errors = {
    "401": "not signed, signed for another node, bad signature, expired, replayed, or unknown"
    " caller",
    "403": "the caller may not do this (or its participant is suspended)",
    "413": "the body is larger than the limit",
    "503": "the replay window cannot take the request yet: retry later, signed afresh",
}


def _answer(description: str, schema: Doc) -> Doc:
    return {
        "description": description,
        "content": {media: {"schema": schema} for media in _both_forms},
    }


def _operation(
    op_id: str, summary: str, answers: dict[str, tuple[str, Doc]], *, signed: bool = True
) -> Doc:
    """An operation; `answers` maps a status to (description, schema). Signed ones also
    document the authentication refusals (rule 3)."""
    refusals = {status: (text, _ref("Error")) for status, text in _auth_errors.items()}
    every = {**refusals, **answers} if signed else answers  # the operation's own 503 first
    responses = {status: _answer(text, schema) for status, (text, schema) in every.items()}
    operation: Doc = {"operationId": op_id, "summary": summary, "responses": responses}
    if signed:
        operation["security"] = _signed
    return operation


def _read(op_id: str, summary: str, param: tuple[str, Doc], answers: Doc) -> Doc:
    """A signed GET of one resource named by one path parameter."""
    error = _ref("Error")
    operation = _operation(op_id, summary, {**answers, "400": (f"bad {param[0]}", error)})
    operation["parameters"] = [
        {"name": param[0], "in": "path", "required": True, "schema": param[1]}
    ]
    return {"get": operation}


def _paths() -> Doc:
    error = _ref("Error")
    submit = _operation(
        "submitTransactions",
        "Submit one or a batch of canonical transactions",
        {
            "202": ("at least one accepted or committed: see each result", _ref("SubmitResponse")),
            "400": ("malformed body, or every transaction rejected", _ref("SubmitResponse")),
            "415": ("the body is neither JSON nor msgpack", error),
            "503": ("every transaction refused: the mempool is full", _ref("SubmitResponse")),
        },
    )
    submit["requestBody"] = {"required": True, **_answer("the batch", _ref("SubmitRequest"))}
    block = {"oneOf": [_ref("Block"), _ref("BlockMessage")]}
    return {
        "/v1/transactions": {"post": submit},
        "/v1/transactions/{tx_hash}": _read(
            "getTransaction",
            "Where a transaction is",
            ("tx_hash", _hex32),
            {
                "200": ("pending, committed or rejected", _ref("TxStatus")),
                "404": (
                    "unknown to this node, or not the caller's to know (the same answer)",
                    _ref("TxStatus"),
                ),
            },
        ),
        "/v1/accounts/{account_id}": _read(
            "getAccount",
            "An account and its balances (a participant's own accounts only)",
            ("account_id", _str),
            {"200": ("the account", _ref("Account")), "404": ("account_not_found", error)},
        ),
        "/v1/blocks/{height}": _read(
            "getBlock",
            "A committed block: whole for the central bank, filtered for a participant",
            ("height", {"type": "integer", "minimum": 1}),
            {"200": ("Block or BlockMessage", block), "404": ("block_not_found", error)},
        ),
        "/v1/aliases/{alias}": _read(
            "getAlias",
            "The account a phone-alias HMAC resolves to (rate-limited, audited)",
            ("alias", _hex32),
            {
                "200": ("the account", _ref("Alias")),
                "404": ("alias_not_found", error),
                "429": ("rate_limited: the participant's lookups are used up for now", error),
            },
        ),
        "/v1/audit/alias-lookups": {"get": _alias_audit_operation()},
        **_participant_paths(),
        "/v1/stream": {"get": _stream_operation()},
        **_snapshot_paths(),
        **_unsigned_paths(),
    }


def _participant_paths() -> Doc:
    error = _ref("Error")
    low, high = limits.participant_code_chars_min, limits.participant_code_chars_max
    return {
        "/v1/participants": {
            "get": _operation(
                "listParticipants",
                "Every participant's public record: gateway keys and URL (any participant)",
                {"200": ("the participants, by code", _ref("Participants"))},
            )
        },
        "/v1/participants/{code}": _read(
            "getParticipant",
            "A participant's public record: where its gateway is, and its keys",
            ("code", {"type": "string", "pattern": f"^[a-z]{{{low},{high}}}$"}),
            {
                "200": ("the participant", _ref("Participant")),
                "404": ("participant_not_found", error),
            },
        ),
    }


def _alias_audit_operation() -> Doc:
    error = _ref("Error")
    operation = _operation(
        "listAliasLookups",
        "The alias lookups this node answered, oldest first (the central bank only)",
        {"200": ("a page of the audit trail", _ref("AliasLookups")), "400": ("bad query", error)},
    )
    operation["parameters"] = [
        {
            "name": "after",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0},
            "description": "the last sequence already read; default 0",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": limits.alias_lookups_page_max},
            "description": "entries in the page; default the maximum",
        },
    ]
    return operation


def _snapshot_paths() -> Doc:
    """For joining nodes: validators' keys and the central bank's (`bakong.node.restore`)."""
    error = _ref("Error")
    listing = _operation(
        "listSnapshots",
        "The state snapshots whose root a committed header carries",
        {"200": ("the snapshots, oldest first", _ref("Snapshots"))},
    )
    offer = _read(
        "getSnapshot",
        "A snapshot's manifest with its block and the block carrying its root (canonical bytes)",
        ("height", {"type": "integer", "minimum": 1}),
        {"200": ("the offer", _ref("SnapshotOffer")), "404": ("snapshot_not_found", error)},
    )
    chunk = _operation(
        "getSnapshotChunk",
        "One chunk of a snapshot (application/octet-stream)",
        {"404": ("chunk_not_found", error), "400": ("bad height or index", error)},
    )
    chunk["responses"]["200"] = {
        "description": "the chunk's canonical bytes",
        "content": {"application/octet-stream": {"schema": {"type": "string"}}},
    }
    chunk["parameters"] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
        for name in ("height", "index")
    ]
    return {
        "/v1/snapshots": {"get": listing},
        "/v1/snapshots/{height}": offer,
        "/v1/snapshots/{height}/chunks/{index}": {"get": chunk},
    }


def _stream_operation() -> Doc:
    operation = _operation("streamBlocks", "Committed blocks over a WebSocket", {})
    # Refusals close the socket with a 4xxx code (docs/api.md); they are not HTTP answers.
    operation["responses"] = {"101": {"description": "one BlockMessage per block, in order"}}
    operation["parameters"] = [
        {
            "name": "from_height",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1},
            "description": "the first height to send; default: the next block",
        },
        {
            "name": "format",
            "in": "query",
            "required": False,
            "schema": _enum(["json", "msgpack"]),
            "description": "JSON text frames (default) or msgpack binary frames",
        },
    ]
    operation["x-websocket-message"] = _ref("BlockMessage")
    return operation


def _unsigned_paths() -> Doc:
    text = {
        "description": "text exposition format 0.0.4",
        "content": {"text/plain": {"schema": _str}},
    }
    document = {
        "description": "this document",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    metrics = _operation("getMetrics", "Prometheus metrics", {}, signed=False)
    metrics["responses"] = {"200": text}
    openapi = _operation("getOpenApi", "The OpenAPI document", {}, signed=False)
    openapi["responses"] = {"200": document}
    status = {"200": ("status", _ref("Status"))}
    health = {"200": ("alive", _ref("Health"))}
    return {
        "/v1/status": {"get": _operation("getStatus", "Chain status", status, signed=False)},
        "/healthz": {"get": _operation("getHealth", "Liveness", health, signed=False)},
        "/metrics": {"get": metrics},
        "/openapi.json": {"get": openapi},
    }


def _security_schemes() -> Doc:
    def header(name: str, description: str) -> Doc:
        return {"type": "apiKey", "in": "header", "name": name, "description": description}

    return {
        "BakongKey": header("X-Bakong-Key", "the caller's Ed25519 public key, 64 hex digits"),
        "BakongNode": header("X-Bakong-Node", "the node's key (status node_key), 64 hex digits"),
        "BakongTime": header("X-Bakong-Time", "the caller's clock, Unix milliseconds"),
        "BakongSignature": header(
            "X-Bakong-Signature",
            "Ed25519 over digest(api-request, chain_id,"
            " [node_key, METHOD, target, sha256(body), time])",
        ),
    }


def openapi_document(batch_txs_max: int) -> Doc:
    """The whole document (rules 1-5)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bakong core node API",
            "version": "1",
            "description": "Signed requests; JSON or msgpack bodies. Reference: docs/api.md.",
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(batch_txs_max),
            "securitySchemes": _security_schemes(),
        },
    }
