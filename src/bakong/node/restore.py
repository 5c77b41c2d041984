"""Joining from a snapshot: check what a peer offers, then fill an empty store with it.

`bakong node restore --home DIR --from URL` gives a new (or wiped) node the state of a recent
snapshot height H instead of replaying every block since genesis; `bakong node run` then
catches up from H + 1 with blocks and commits as usual. The peer is not trusted: everything is
checked against genesis (`bakong.node.snapshot` rule 5), in this order:

1. the carrier, the stored block at H + `snapshot_lag`: its validators hash to its header's
   validator-set hash, its commit carries more than 2/3 of their power for its header's hash,
   and its validator set is trusted. Given `--trust-carrier HASH` (the carrier's block hash,
   from a source the operator trusts, such as the central bank's own node), the carrier must
   be that block. Otherwise, when its set is not the genesis set, validators holding more
   than 1/3 of the genesis power must have signed it (the light client's skipping rule: at
   least one honest validator we trust vouches for the set). The carrier's header carries
   `SnapshotRoot(H, root)`;
2. the manifest hashes to that root;
3. the base, the stored block at H: its header hashes to the manifest's block hash, its app hash
   and results agree with its header, its validators hash to its header's set hash and its
   commit verifies against them (the node serves them, and checks the next block against them);
4. each chunk hashes to its entry in the manifest, decodes, and continues the strictly
   increasing key order; the manifest's entry count matches at the end.
Only then does the store take the state (`LmdbChain.restore`, which marks the store as being
restored until the last write), and the guard an open horizon at the carrier's height + 1: a
validator restored because it lost its store may have signed up to the height the network had
reached, and does not know what, so up to the horizon, which catch-up then moves on to the
chain's tip, it proposes nothing and votes only nil (`bakong.node.signer`).

The skipping rule trusts genesis validators' signatures, which is sound only while more than a
third of the genesis power is still honest: like any light client, a node restoring long after
genesis, once the validator set has moved on, is given a recent trusted block instead
(`--trust-carrier`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bakong import limits
from bakong.consensus.commit import CommitStatus, verify_commit
from bakong.consensus.vote_keeper import is_above_one_third
from bakong.errors import ConfigError, DecodeError, RemoteError
from bakong.homelock import holding
from bakong.ledger.block import BlockHeader, SnapshotRoot, block_hash, decode_block, result_leaf
from bakong.ledger.genesis import genesis_validators
from bakong.ledger.validators import Validator, ValidatorSet, validator_set_hash
from bakong.node.home import load_home
from bakong.node.service import StoredBlock
from bakong.node.snapshot import (
    Manifest,
    SnapshotOffer,
    chunk_hash,
    decode_chunk,
    decode_manifest,
    decode_offer,
    manifest_root,
)
from bakong.node.store import LmdbChain
from bakong.wire import merkle
from bakong.wire.keys import SigningKey
from bakong.wire.request import sign_request

__all__ = [
    "RestoreError",
    "RestoreReport",
    "checked_chunks",
    "restore_from",
    "verify_offer",
]

class RestoreError(RemoteError):
    """What a peer offered does not verify, or the peer does not answer as it should."""


def _header(stored: StoredBlock, what: str) -> BlockHeader:
    try:
        header = decode_block(stored.block).header
    except DecodeError as error:
        raise RestoreError("malformed", f"{what} block: {error.message}") from None
    if header.height != stored.height or block_hash(header) != stored.commit.block_hash:
        raise RestoreError("block_mismatch", f"the {what} block is not the one its commit names")
    return header


def _check_commit(chain_id: str, stored: StoredBlock, header: BlockHeader, what: str) -> None:
    if validator_set_hash(chain_id, stored.validators) != header.validators_hash:
        raise RestoreError("validators_mismatch", f"the {what} validators are not the header's")
    keys = [validator.public_key for validator in stored.validators]
    if not (
        0 < len(keys) <= limits.validators_max
        and all(a < b for a, b in zip(keys, keys[1:], strict=False))
        and all(0 < v.power <= limits.validator_power_max for v in stored.validators)
    ):
        raise RestoreError("malformed", f"the {what} validator set is invalid")
    validator_set = ValidatorSet(stored.validators)
    status = verify_commit(
        chain_id, stored.commit, validator_set, height=header.height, block_hash=block_hash(header)
    )
    if status is not CommitStatus.OK:
        raise RestoreError("commit_invalid", f"the {what} commit: {status.value}")


def verify_offer(
    chain_id: str,
    trusted: tuple[Validator, ...],
    snapshot_lag: int,
    offer: SnapshotOffer,
    trusted_carrier: bytes | None = None,
) -> Manifest:
    """Module steps 1-3: the manifest, if the offer proves it. `trusted_carrier`, when given,
    is the carrier's block hash as a trusted source gave it, and replaces the skipping rule."""
    carrier = _header(offer.carrier, "carrier")
    _check_commit(chain_id, offer.carrier, carrier, "carrier")
    if trusted_carrier is not None:
        if block_hash(carrier) != trusted_carrier:
            raise RestoreError(
                "carrier_untrusted", "the carrier is not the block given as trusted"
            )
    elif offer.carrier.validators != trusted:
        trusted_set = ValidatorSet(trusted)
        vouching = sum(
            trusted_set.power_of(signature.validator)
            for signature in offer.carrier.commit.signatures
        )
        if not is_above_one_third(vouching, trusted_set.total_power):
            raise RestoreError(
                "validator_set_untrusted",
                "the genesis validators no longer vouch for the carrier's validator set",
            )
    try:
        manifest = decode_manifest(offer.manifest)
    except DecodeError as error:
        raise RestoreError("malformed", f"manifest: {error.message}") from None
    expected = SnapshotRoot(manifest.height, manifest_root(manifest))
    if manifest.chain_id != chain_id or carrier.snapshot != expected:
        raise RestoreError("root_mismatch", "the manifest is not the root the carrier holds")
    if carrier.height != manifest.height + snapshot_lag:
        raise RestoreError("root_mismatch", "the carrier is not at the snapshot's lag")
    base = _header(offer.base, "base")
    if block_hash(base) != manifest.block_hash or offer.base.height != manifest.height:
        raise RestoreError("block_mismatch", "the base block is not the snapshot's")
    if not offer.base.app_hash == base.app_hash == manifest.app_hash:
        raise RestoreError("block_mismatch", "the base block's app hash is not the snapshot's")
    leaves = [result_leaf(chain_id, result) for result in offer.base.results]
    if merkle.root(leaves) != base.result_root:
        raise RestoreError("block_mismatch", "the base block's results are not its header's")
    _check_commit(chain_id, offer.base, base, "base")
    return manifest


def checked_chunks(
    manifest: Manifest, fetch: Callable[[int], bytes]
) -> Iterator[list[tuple[bytes, bytes]]]:
    """Module step 4: each chunk's entries, fetched and checked one at a time."""
    last: bytes | None = None
    count = 0
    for index, expected in enumerate(manifest.chunk_hashes):
        data = fetch(index)
        if chunk_hash(manifest.chain_id, data) != expected:
            raise RestoreError("chunk_mismatch", f"chunk {index} is not the manifest's")
        try:
            entries = decode_chunk(data, last)
        except DecodeError as error:
            raise RestoreError("malformed", f"chunk {index}: {error.message}") from None
        last = entries[-1][0]
        count += len(entries)
        yield entries
    if count != manifest.entries:
        raise RestoreError("chunk_mismatch", "the chunks hold another number of entries")


@dataclass(frozen=True)
class RestoreReport:
    height: int
    horizon: int
    entries: int
    chunks: int
    bytes: int
    seconds: float


class _Peer:
    """Signed GETs to one node's API, as the node's own key (a validator may fetch snapshots)."""

    def __init__(self, url: str, chain_id: str, key: SigningKey) -> None:
        self.client = httpx.Client(base_url=url, timeout=60.0)
        self.chain_id = chain_id
        self.key = key
        self.received = 0
        self.node_key: bytes | None = None  # whom the requests are signed for: the peer's key

    def get(self, target: str, *, signed: bool = True) -> bytes:
        headers = {"accept": "application/msgpack"}
        if signed:
            node_key = self.node_key or self._learn_node_key()
            now_ms = time.time_ns() // 10**6
            headers |= sign_request(self.chain_id, node_key, self.key, "GET", target, b"", now_ms)
        try:
            response = self.client.get(target, headers=headers)
        except httpx.HTTPError as error:
            raise RestoreError("peer_unreachable", f"GET {target}: {error}") from None
        if response.status_code != 200:
            answer = f"{response.status_code} {response.text[:200]}"
            raise RestoreError("peer_refused", f"GET {target}: {answer}")
        self.received += len(response.content)
        return response.content

    def _learn_node_key(self) -> bytes:
        """The peer's key from its unsigned status (a peer that lies only refuses itself)."""
        import msgspec

        status = msgspec.msgpack.decode(self.get("/v1/status", signed=False))
        node_key = status.get("node_key") if isinstance(status, dict) else None
        if not isinstance(node_key, bytes) or len(node_key) != 32:
            raise RestoreError("malformed", "the peer's status has no node_key")
        self.node_key = node_key
        return node_key

    def close(self) -> None:
        self.client.close()


def restore_from(
    home: Path, url: str, height: int | None = None, trusted_carrier: bytes | None = None
) -> RestoreReport:
    """Fill the empty store of the node in `home` from the snapshot at `height` (default: the
    newest the peer at `url` offers) and return what was restored (`trusted_carrier`: as in
    `verify_offer`)."""
    with holding(home, f"the validator home {home}"):
        return _restore(home, url, height, trusted_carrier)


def _restore(
    home: Path, url: str, height: int | None, trusted_carrier: bytes | None
) -> RestoreReport:
    import msgspec

    started = time.perf_counter()
    node_home = load_home(home)
    genesis = node_home.genesis
    trusted = genesis_validators(genesis)
    if node_home.data.exists() and any(node_home.data.iterdir()):
        raise ConfigError(f"{node_home.data} is not empty: restore fills a new node's store")
    peer = _Peer(url, genesis.chain_id, node_home.key)
    try:
        if height is None:
            listing = msgspec.msgpack.decode(peer.get("/v1/snapshots"))
            heights = [entry["height"] for entry in listing.get("snapshots", [])]
            if not heights:
                raise RestoreError("no_snapshot", f"{url} offers no snapshot yet")
            height = max(heights)
        answer = msgspec.msgpack.decode(peer.get(f"/v1/snapshots/{height}"))
        try:
            offer = decode_offer(answer["offer"])
        except (DecodeError, KeyError, TypeError) as error:
            raise RestoreError("malformed", f"snapshot offer: {error}") from None
        manifest = verify_offer(
            genesis.chain_id, trusted, genesis.snapshot_lag, offer, trusted_carrier
        )
        horizon = manifest.height + genesis.snapshot_lag + 1  # the carrier's + 1
        target = f"/v1/snapshots/{manifest.height}/chunks/"
        chain = LmdbChain(node_home.data, genesis)
        try:
            chunks = checked_chunks(manifest, lambda index: peer.get(f"{target}{index}"))
            chain.restore(manifest, chunks, offer.base, horizon)
        except BaseException:
            chain.close()
            shutil.rmtree(node_home.data)  # it was empty: nothing of ours is lost
            raise
        chain.close()
        seconds = time.perf_counter() - started
        chunk_count = len(manifest.chunk_hashes)
        return RestoreReport(
            manifest.height, horizon, manifest.entries, chunk_count, peer.received, seconds
        )
    finally:
        peer.close()
