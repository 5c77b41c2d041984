"""Every bound in the system, in one place (TigerStyle: put a limit on everything).

Names put the unit and qualifier last (`tx_bytes_max`, `memo_chars_max`). Relations between
limits are asserted at import, so a change that breaks one fails at once, not in production.
"""

from __future__ import annotations

__all__ = [
    "account_id_chars_max",
    "account_name_chars_max",
    "amount_max",
    "block_bytes_max",
    "block_txs_max",
    "chain_id_chars_max",
    "commands_per_tx_max",
    "external_ref_chars_max",
    "hold_expiry_ms_max",
    "hold_expiry_ms_min",
    "holds_per_account_max",
    "keys_per_participant_max",
    "memo_chars_max",
    "merkle_proof_hashes_max",
    "participant_code_chars_max",
    "participant_code_chars_min",
    "participant_name_chars_max",
    "participants_max",
    "reference_chars_max",
    "reserve_ref_chars_max",
    "seen_prune_blocks_per_block_max",
    "signatories_max",
    "signatures_per_tx_max",
    "tx_bytes_max",
    "tx_future_ms_max",
    "tx_past_ms_max",
    "validator_name_chars_max",
    "validators_max",
    "validator_power_max",
    # consensus
    "height_max",
    "proposal_bytes_max",
    "proposals_per_round_max",
    "round_max",
    "rounds_ahead_max",
    "steps_per_input_max",
    # node
    "alias_lookup_burst",
    "alias_lookup_bytes_max",
    "alias_lookups_page_max",
    "alias_lookups_per_s",
    "alias_lookups_retained_max",
    "api_submitters_remembered_max",
    "block_time_drift_ms_max",
    "decoded_records_max",
    "request_skew_ms_max",
    "seen_requests_max",
    "snapshot_chunk_bytes",
    "snapshot_chunks_max",
    "snapshot_interval_default",
    "snapshot_lag_default",
    "sync_blocks_max",
    "timeout_ms_delta",
    "timeout_precommit_ms_base",
    "timeout_prevote_ms_base",
    "timeout_propose_ms_base",
    "vote_bytes_max",
    "votes_per_round_max",
]

# Identifiers. Account IDs are printed in KHQR tag 29/30 sub-tag 00, whose limit is 32.
account_id_chars_max = 32
account_name_chars_max = 28  # 32 minus "@" minus the shortest participant code
participant_code_chars_min = 3  # "nbc" is the central bank's code in the seeds
participant_code_chars_max = 8
participant_name_chars_max = 64
chain_id_chars_max = 32
validator_name_chars_max = 32

# Money. Amounts fit a signed 64-bit integer so every SDK can hold them natively.
amount_max = 2**63 - 1

# Transactions.
tx_bytes_max = 16 * 1024  # a transfer is ~250 bytes; 16 KiB leaves room for multisig batches
commands_per_tx_max = 32
signatures_per_tx_max = 16
signatories_max = 16
memo_chars_max = 64
reference_chars_max = 64  # a KHQR md5 is 32 hex chars
external_ref_chars_max = 64
reserve_ref_chars_max = 64
keys_per_participant_max = 16

# The replay window (design section 2):
# a transaction is valid while block_time - 24 h <= created_ms <= block_time + 5 min.
tx_past_ms_max = 24 * 60 * 60 * 1000
tx_future_ms_max = 5 * 60 * 1000

# Pending (two-phase) transfers.
hold_expiry_ms_min = 1_000
hold_expiry_ms_max = 7 * 24 * 60 * 60 * 1000
holds_per_account_max = 1_024

# Blocks.
block_txs_max = 10_000
block_bytes_max = 8 * 1024 * 1024
# Replay-protection entries are pruned a bounded number of old blocks at a time.
seen_prune_blocks_per_block_max = 64

# Governance.
participants_max = 1_000
validators_max = 100
validator_power_max = 1_000_000

# Merkle proofs: a tree of at most block_txs_max leaves needs at most ceil(log2) hashes.
merkle_proof_hashes_max = 64

# Consensus (bakong.consensus, Algorithm 1 of Buchman-Kwon-Milosevic 2018).
height_max = 2**63 - 1
round_max = 2**31 - 1  # rounds only grow by timeouts or an f+1 skip; this is far beyond either
# timeout(r) = base + r * delta (L21, L35, L48): it grows until it exceeds the network's delay.
timeout_propose_ms_base = 3_000  # the proposer executes its block before it proposes
timeout_prevote_ms_base = 1_000
timeout_precommit_ms_base = 1_000
timeout_ms_delta = 500
# Votes are kept for the current and past rounds of a height, and for this many rounds ahead;
# f+1 votes from a round further ahead are not needed to skip there (L55) before a timeout.
rounds_ahead_max = 64
# A validator's prevote and precommit per round, plus one conflicting vote of each kept as evidence.
votes_per_round_max = 4 * validators_max
# The proposer's first proposal per round, plus one conflicting proposal kept as evidence.
proposals_per_round_max = 2
vote_bytes_max = 256
proposal_bytes_max = block_bytes_max + 1_024
# Rule firings the driver performs for one input (each firing advances the round state).
steps_per_input_max = 64

# Node. A proposed block's time may be this far ahead of a validator's own clock.
block_time_drift_ms_max = 2_000
# Decoded state records a store keeps between blocks (`bakong.ledger.state.DecodedRecords`):
# about 0.5 KB each, so the hot accounts of a busy network in about 50 MB.
decoded_records_max = 100_000
# Blocks asked for (and served) in one catch-up request.
sync_blocks_max = 32
# State snapshots (bakong.node.snapshot): the genesis defaults of the schedule, and the chunking.
# A root is needed `lag` blocks after its height: enough for the digest of a large state to be
# done in the background at a loaded network's block rate.
snapshot_interval_default = 1_000
snapshot_lag_default = 50
snapshot_chunk_bytes = 2**20  # a chunk closes at the first entry that takes it to this size
snapshot_chunks_max = 2**16  # 64 GiB of state
# Who submitted which transaction to this node's API, for its status (`bakong.node.visibility`):
# as many as the runtime remembers refused transactions, about 200 bytes each.
api_submitters_remembered_max = 100_000
# Phone-alias lookups (`bakong.node.alias_lookups`): a token bucket per participant, refilled at
# `alias_lookups_per_s` up to `alias_lookup_burst`. A payer's bank resolves one alias per
# payment its customers start; enumerating Cambodia's ~20 million mobile numbers at this rate
# would take a participant 11 days of continuous lookups, each one audited.
alias_lookups_per_s = 20
alias_lookup_burst = 100
# The audit trail of lookups a node keeps in its store (about 120 bytes each), and a page of it.
alias_lookups_retained_max = 10_000_000
alias_lookups_page_max = 1_000
alias_lookup_bytes_max = 1_024  # one stored lookup record, at decoding
# Signed API requests (bakong.wire.request): a request's clock may differ from the node's by
# this much either way, and a node remembers this many accepted signatures to refuse replays
# (more than a busy gateway sends in twice the skew; beyond it, 503 rather than forget one).
request_skew_ms_max = 60_000
seen_requests_max = 1_000_000

assert account_name_chars_max + 1 + participant_code_chars_min == account_id_chars_max
assert participant_code_chars_min <= participant_code_chars_max
assert commands_per_tx_max * 200 <= tx_bytes_max
assert signatures_per_tx_max >= 1
assert signatories_max <= signatures_per_tx_max
assert block_bytes_max >= block_txs_max * 512
assert block_bytes_max >= tx_bytes_max * 64
assert tx_future_ms_max < tx_past_ms_max
assert hold_expiry_ms_min < hold_expiry_ms_max
assert 2**merkle_proof_hashes_max > block_txs_max
assert validators_max * validator_power_max < 2**53  # voting-power sums stay exact everywhere
assert timeout_prevote_ms_base > 0 and timeout_precommit_ms_base > 0 and timeout_ms_delta > 0
assert timeout_propose_ms_base >= timeout_prevote_ms_base
assert proposal_bytes_max > block_bytes_max
assert proposals_per_round_max >= 2  # the first proposal and the evidence against it
assert votes_per_round_max >= 4 * validators_max
assert 0 < block_time_drift_ms_max < tx_future_ms_max
assert sync_blocks_max * block_bytes_max <= 2**31  # a catch-up response stays framable
assert 0 < alias_lookups_per_s <= alias_lookup_burst
assert alias_lookups_page_max <= alias_lookups_retained_max
