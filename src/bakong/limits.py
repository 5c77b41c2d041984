"""Every bound in the system, in one place (TigerStyle: put a limit on everything).

A bound is a maximum or a minimum, a timeout, an interval, a retry or a backoff, a cache or
queue size, a retention. The sections: identifiers, money, transactions, blocks, governance,
consensus, node (with the files it reads and its snapshots), peer transport, HTTP API, block
stream, client SDK, QR images, simulator, benchmarks. Each value says why it is what it is.

Names put the unit and qualifier last (`tx_bytes_max`, `memo_chars_max`). Relations between
limits are asserted at import, so a change that breaks one fails at once, not in production.
Importers write `limits.name`. Numbers a specification fixes (Ed25519 and Noise sizes, KHQR
field lengths, a length prefix) stay with the code of that specification; `tests/test_tidy.py`
fails on any other module that assigns a number to a name that reads as a bound.
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
    "gateway_url_chars_max",
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
    "compact_proposal_bytes_max",
    "proposal_bytes_max",
    "proposals_per_round_max",
    "round_max",
    "rounds_ahead_max",
    "steps_per_input_max",
    # node
    "fetch_answer_bytes_max",
    "fetch_asked_remembered_max",
    "fetch_hashes_max",
    "fetch_request_bytes_max",
    "fetched_txs_max",
    "incomplete_proposals_max",
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
    "snapshot_open_wait_s",
    "snapshot_process_exit_s",
    "snapshot_process_nice",
    "sync_blocks_max",
    "timeout_ms_delta",
    "timeout_precommit_ms_base",
    "timeout_prevote_ms_base",
    "timeout_propose_ms_base",
    "state_checkpoint_blocks",
    "state_checkpoint_entries",
    "state_checkpoint_share",
    "state_pending_entries_max",
    "state_close_written_entries_max",
    "tx_index_flush_entries",
    "tx_index_flushes_queued_max",
    "tx_index_merge_width",
    "vote_bytes_max",
    "votes_per_round_max",
    # wire, files and node
    "request_memory_ms",
    "request_target_chars_max",
    "later_messages_max",
    "status_interval_ms",
    "gossip_batch_bytes_max",
    "rejected_txs_remembered_max",
    "expired_txs_remembered_max",
    "memo_entries_max",
    "verify_batch_wait_ms",
    "verify_batch_checks_max",
    "verify_chunk_checks_max",
    "verify_workers_auto_max",
    "verify_workers_max",
    "lmdb_map_bytes_default",
    "lmdb_log_map_bytes",
    "node_gc_young_objects",
    "stored_block_bytes_max",
    "config_bytes_max",
    "genesis_bytes_max",
    "key_file_bytes_max",
    "snapshot_manifest_bytes_max",
    "snapshot_chunk_bytes_max",
    "snapshot_offer_bytes_max",
    "localnet_start_timeout_s",
    "localnet_stop_grace_s",
    "loopback_ports_held_max",
    # peer transport
    "handshake_message_bytes_max",
    "frame_overhead_bytes_max",
    "frame_bytes_max",
    "reconnect_doublings_max",
    # API and stream
    "api_batch_txs_max",
    "api_body_bytes_max",
    "stream_close_timeout_s",
    "decoded_blocks_cached_max",
    "stream_send_timeout_s",
    "stream_wait_s",
    # client SDK
    "client_header_bytes_max",
    "client_commit_bytes_max",
    "client_stream_message_bytes_max",
    "client_reconnect_delay_s_min",
    "client_reconnect_delay_s_max",
    "client_request_timeout_s_default",
    "client_wait_timeout_s_default",
    "client_poll_delay_s_min",
    "client_poll_delay_s_max",
    "client_poll_backoff_factor",
    "client_error_text_chars_max",
    # QR images
    "qr_image_pixels_max",
    # simulator
    "sim_validators_min",
    "sim_validators_max",
    "sim_block_txs_max",
    "sim_mempool_txs_max",
    "sim_snapshot_interval",
    "sim_snapshot_lag",
    "sim_block_build_ms_max",
    "sim_submit_ms_max",
    "sim_status_interval_ms",
    "sim_sync_request_timeout_ms",
    "sim_fault_tick_ms",
    "sim_loss_max",
    "sim_pending_writes_max",
    "sim_wal_inputs_max",
    "sim_drain_ms_max",
    "sim_liveness_ms",
    "sim_resubmit_ms",
    "sim_resubmits_per_tick_max",
    "sim_pending_txs_max",
    "sim_hold_lifetime_ms_min",
    "sim_hold_lifetime_ms_max",
    "sim_replay_depth_max",
    "sim_expired_offset_ms_max",
    "sim_progress_interval_s",
    # benchmarks
    "bench_verify_ceiling_s",
    "bench_transfer_amount_max",
    "bench_history_txs_max",
    "bench_state_batch_entries_max",
    "bench_loadgen_slack_s",
    "bench_monitor_interval_s",
    "bench_restore_timeout_s",
    "bench_qr_sdk_timeout_s_max",
    "bench_gateway_start_timeout_s",
    "bench_gateway_request_timeout_s",
    "bench_gateway_registrations_parallel_max",
    "bench_gateway_drain_s",
    "bench_http_head_bytes_max",
    "bench_http_body_bytes_max",
    "loadgen_backoff_s_min",
    "loadgen_backoff_s_max",
    "loadgen_tick_s",
    "loadgen_request_timeout_s",
    "loadgen_stream_reconnects_max",
    "loadgen_stream_message_bytes_max",
    "loadgen_block_poll_s",
    "loadgen_sample_interval_s",
    "central_ledger_pool_size_default",
    "central_ledger_retries_max",
    "central_ledger_start_timeout_s",
    "central_ledger_stop_timeout_s",
    "postgres_start_timeout_s",
    "postgres_log_tail_bytes",
    # gateway: the service, its store, projection and submissions
    "gateway_sqlite_busy_ms",
    "gateway_gc_young_objects",
    "gateway_db_pool_size",
    "gateway_db_pool_overflow",
    "gateway_health_timeout_s",
    "gateway_submit_wait_s",
    "gateway_resubmit_s",
    "gateway_wait_check_s",
    "gateway_finish_batch_max",
    "gateway_submit_batch_max",
    "gateway_resume_batch_max",
    "gateway_projection_retry_s_max",
    "gateway_key_file_bytes_max",
    "gateway_shutdown_s",
    # gateway: local processes (`bakong demo`, end-to-end tests)
    "local_gateway_start_timeout_s",
    "local_gateway_certificate_days",
    "local_gateway_request_timeout_s",
    # gateway: customers and wallets
    "otp_digits",
    "otp_lifetime_ms",
    "otp_attempts_max",
    "otp_codes_per_window_max",
    "otp_window_ms",
    "sms_poll_s",
    "sms_backoff_s_max",
    "sms_batch_max",
    "sms_retry_window_ms",
    "sms_http_timeout_s",
    "sms_http_attempts",
    "sms_http_retry_s",
    "sms_http_url_chars_max",
    "sms_http_token_bytes_max",
    "sms_sender_chars_max",
    "onboarding_sweep_s",
    "onboarding_sweep_grace_ms",
    "pin_digits_min",
    "pin_digits_max",
    "pin_failures_max",
    "pin_lockout_ms",
    "session_token_bytes",
    "session_lifetime_ms",
    "handle_chars_min",
    "customer_name_chars_max",
    "phone_digits_max",
    "wallet_body_bytes_max",
    "history_page_default",
    "history_page_max",
    "qr_upload_bytes_max",
    "events_queue_max",
    "events_keepalive_s",
    "party_lookup_timeout_s",
    "participant_directory_cache_ms",
    "client_logins_per_min",
    "client_login_burst",
    "client_codes_per_min",
    "client_code_burst",
    "client_addresses_tracked_max",
    "officer_session_lifetime_ms_default",
    "officer_session_lifetime_ms_max",
    "officer_name_chars_min",
    "officer_name_chars_max",
    "officer_password_chars_min",
    "officer_password_chars_max",
    "officer_password_generated_bytes",
    "officer_reason_chars_max",
    "officer_recent_payments_max",
    "officer_actions_page_default",
    "officer_actions_page_max",
    # gateway: merchants, webhooks, Open API
    "khqr_expiry_ms_min",
    "khqr_expiry_ms_max",
    "khqr_expiry_ms_default",
    "bill_number_bytes",
    "merchant_body_bytes_max",
    "merchant_payments_page_max",
    "merchant_sales_page_max",
    "store_card_width_px",
    "store_card_dpi",
    "webhook_url_chars_max",
    "webhook_secret_bytes",
    "webhook_attempts_max",
    "webhook_backoff_ms_min",
    "webhook_backoff_ms_max",
    "webhook_timeout_s",
    "webhook_poll_s",
    "webhook_batch_max",
    "webhook_skew_ms_max",
    "open_api_token_bytes",
    "open_api_token_lifetime_ms",
    "open_api_body_bytes_max",
    "open_api_field_chars_max",
    "open_api_list_max",
    "open_api_short_hash_candidates_max",
    # console: the central bank's console (bakong.console)
    "console_session_lifetime_ms",
    "console_body_bytes_max",
    "console_reason_chars_max",
    "console_page_rows_max",
    "console_search_rows_max",
    "console_rate_window_ms",
    "console_supervision_window_ms",
    "console_links_days",
    "console_links_failed_max",
    "console_submit_wait_s",
    "console_follow_retry_s_max",
    "console_form_fields_max",
    "analytics_export_heights_batch",
    "analytics_days_default",
    "analytics_days_max",
    "analytics_chart_bars_max",
    "aml_count_max",
    "aml_evidence_max",
    "aml_rule_name_chars_max",
    "aml_rules_max",
    "aml_window_ms_max",
    "console_monitor_interval_s",
    "console_monitor_blocks_per_pass",
    "console_monitor_accounts_per_query",
    "console_position_days",
    # gateway: pages (wallet, till, officer)
    "page_static_file_bytes_max",
    "page_static_files_max",
    "page_static_cache_s",
    "page_lang_cookie_s",
    "page_next_chars_max",
    # gateway: the USSD service (feature phones) and its SMS receipts
    "ussd_session_ms",
    "ussd_input_ms",
    "ussd_screen_gsm7_chars_max",
    "ussd_screen_ucs2_units_max",
    "sms_segment_gsm7_chars_max",
    "sms_segment_ucs2_units_max",
    "ussd_body_bytes_max",
    "ussd_inputs_max",
    "ussd_input_chars_max",
    "ussd_text_chars_max",
    "ussd_session_id_chars_max",
    "ussd_service_code_chars_max",
    "ussd_network_code_chars_max",
    "ussd_secret_chars_min",
    "ussd_secret_chars_max",
    "ussd_aggregators_max",
    "ussd_handle_digits_min",
    "ussd_handle_digits_max",
    "ussd_amount_digits_max",
    "ussd_shop_code_digits_max",
    "ussd_label_chars_max",
    "ussd_payment_wait_s",
    "ussd_daily_cap_khr_default",
    "ussd_daily_cap_usd_default",
    "ussd_payments_counted_max",
    "ussd_approvals_shown_max",
    "ussd_statement_entries_max",
    "ussd_banks_per_page",
    "ussd_session_kept_ms",
    "ussd_sweep_s",
    "ussd_sweep_batch_max",
    "merchant_short_code_first",
    "phone_request_timeout_s",
    "cash_out_approval_ms_max",
    # gateway: claims (money sent to a phone with no wallet) and cash agents
    "claim_period_ms_min",
    "claim_period_ms_max",
    "claim_redeem_margin_ms",
    "claim_id_bytes",
    "claim_code_digits",
    "claim_secret_digits_min",
    "claim_secret_digits_max",
    "claim_attempts_max",
    "claim_step_wait_s",
    "claim_request_timeout_s",
    "claim_body_bytes_max",
    "claims_sweep_s",
    "claims_sweep_batch_max",
    "claims_page_max",
    "agent_daily_cap_khr_default",
    "agent_daily_cap_usd_default",
    "agent_float_alert_khr_default",
    "agent_float_alert_usd_default",
    "agent_statement_rows_max",
    "approvals_listed_max",
    # gateway: onboarding by ID card and selfie (issue 18)
    "kyc_image_bytes_max",
    "kyc_image_side_min",
    "kyc_image_side_max",
    "kyc_selfie_frames_min",
    "kyc_selfie_frames_max",
    "kyc_body_bytes_max",
    "kyc_submissions_per_day_max",
    "kyc_submissions_window_ms",
    "kyc_face_side_max",
    "kyc_face_distance_default",
    "kyc_frames_distance_max",
    "kyc_ocr_timeout_s",
    "kyc_ocr_text_chars_max",
    "kyc_checks_parallel_max",
    "kyc_worker_poll_s",
    "kyc_worker_retry_ms",
    "kyc_queue_page_max",
    # gateway: wallet <-> bank account, the sample core bank (issue 18)
    "corebank_config_bytes_max",
    "corebank_body_bytes_max",
    "corebank_amount_max",
    "corebank_reference_chars_max",
    "corebank_holder_chars_max",
    "corebank_fault_chars_max",
    "corebank_fault_slow_s_max",
    "corebank_journal_page_max",
    "corebank_accounts_listed_max",
    "corebank_start_timeout_s",
    "core_banking_timeout_s_default",
    "core_banking_timeout_s_min",
    "core_banking_timeout_s_max",
    "bank_links_per_wallet_max",
    "bank_transfer_hold_ms_default",
    "bank_transfer_hold_ms_min",
    "bank_transfer_hold_ms_max",
    "bank_transfer_step_wait_s",
    "bank_transfers_sweep_s",
    "bank_transfers_sweep_batch_max",
    "bank_transfers_page_max",
    "bank_transfer_body_bytes_max",
    "reconcile_run_s",
    "reconcile_retry_s",
    "reconcile_entries_max",
    # cross-border: the ISO 20022-shaped messages and the foreign switch simulators (issue 20)
    "iso_id_chars_max",
    "iso_name_chars_max",
    "iso_text_chars_max",
    "iso_amount_max",
    "iso_body_bytes_max",
    "iso_statement_entries_max",
    "foreignsim_config_bytes_max",
    "foreignsim_fault_chars_max",
    "foreignsim_fault_slow_s_max",
    "foreignsim_timeout_fault_s",
    "foreignsim_link_timeout_s",
    "foreignsim_start_timeout_s",
    # the link service (bakong.crossborder, `bakong link`)
    "link_switch_timeout_s",
    "link_quote_ms_default",
    "link_hold_ms_default",
    "link_hold_margin_ms",
    "link_spread_bps_max",
    "link_rate_digits_max",
    "link_corridors_max",
    "link_request_body_bytes_max",
    "link_answer_wait_s",
    "link_sweep_s",
    "link_sweep_batch_max",
    "link_hold_grace_ms",
    # the gateway's foreign payments (gateway.crossborder)
    "link_timeout_s_default",
    "link_timeout_s_min",
    "link_timeout_s_max",
    "link_answer_bytes_max",
    "foreign_amount_max",
    "foreign_text_chars_max",
    "foreign_quote_lifetime_ms_max",
    "foreign_payment_body_bytes_max",
    "foreign_payment_step_wait_s",
    "foreign_payments_sweep_s",
    "foreign_payments_sweep_batch_max",
]

# Identifiers. Account IDs are printed in KHQR tag 29/30 sub-tag 00, whose limit is 32.
account_id_chars_max = 32
account_name_chars_max = 28  # 32 minus "@" minus the shortest participant code
participant_code_chars_min = 3  # "nbc" is the central bank's code in the seeds
participant_code_chars_max = 8
participant_name_chars_max = 64
# A participant's published gateway URL (`set_participant_endpoint`): a base URL, kept short
# because every gateway reads the whole participant list.
gateway_url_chars_max = 256
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
# A compact proposal (`bakong.node.compact`) is a header with its last commit (at most one
# signature of each validator), the transactions' 32-byte hashes and the value's digest.
compact_proposal_bytes_max = block_txs_max * 34 + validators_max * 128 + 4_096
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
# The snapshot process (`bakong.node.snapshot_process`): how long a commit waits for it to hold
# the snapshot height's state (it answers in milliseconds once started), and for it to exit.
snapshot_open_wait_s = 5.0
snapshot_process_exit_s = 5.0
# The snapshot process's niceness: the least CPU share, so that where it shares cores with
# validators (a local network's four all digest at the same height) it takes idle time, not
# the event loops' time. A validator with a core to spare digests as fast. One whose digest is late
# waits for the root on its event loop (the carrying block's height), which leaves the cores
# to the digest: every validator waits there, since each checks the root it computed. (The
# index merge keeps a fair share: blocks wait for its flushes, so it must not starve.)
snapshot_process_nice = 19
snapshot_chunk_bytes = 2**20  # a chunk closes at the first entry that takes it to this size
snapshot_chunks_max = 2**16  # 64 GiB of state
# The transaction index (`bakong.node.tx_index`): entries held in memory before they are written
# as a run (44 bytes each on disk, about 150 in memory: 3 MB; ten blocks at saturation), and
# how many runs of one level merge into one of the next (a look-up searches at most
# width - 1 runs per level; each entry is rewritten once per level).
tx_index_flush_entries = 20_000
tx_index_merge_width = 8
# Flushes handed to the index's worker and not yet written, before a block waits for one.
tx_index_flushes_queued_max = 4
# The state's pending writes (`bakong.node.pending_state`): a checkpoint every 256 blocks or
# once a twentieth as many keys as the state holds were written (at least 20,000, at most half
# the cap), whichever comes first; its sorted writes spread over the next blocks. A leaf page
# holds about 40 keys, so a checkpoint of a twentieth of the state writes about 85 % of the
# leaves, about 0.4 of a page per key, at any size (before: 1.6 pages per changed account at
# 10^7, its leaf and its branches); below 400,000 keys the minimum writes every leaf for
# fewer keys. At most about 1.5 times that is pending, about 300 bytes each in memory (225 MB
# at 10^7 accounts), and the snapshot digest merges it at about 0.65 µs a key: 20 ms at 10^5
# accounts, where 1,000,000 keys made a local network's root, due 10 blocks after its height,
# come late (1-2 s stalls at every carrier height) and 150,000 still lengthened the blocks after
# a snapshot height (docs/performance.md, session 18); at 10^7, 0.5 s beside a digest of tens
# of seconds. The cap is a safety valve: at it the next block writes the rest at once.
state_checkpoint_blocks = 256
state_checkpoint_share = 20
state_checkpoint_entries = 20_000
state_pending_entries_max = 2_000_000
# A clean close writes the pending state into `state` when it has at most this many keys:
# about 10 µs a key at 4 * 10^6 accounts (2.1 s for 183,701 keys, session 19), so under half the
# stop grace. A store closed with more reopens by replaying its write sets, as after a crash.
state_close_written_entries_max = 400_000
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
# A remembered signature is forgotten once its time is this far behind the server's clock:
# twice the skew, so that a server clock stepped back by up to the skew still refuses it.
request_memory_ms = 2 * request_skew_ms_max
# A signed request's target (path and query) is refused beyond this before it is hashed: far
# beyond any route of the API with its query.
request_target_chars_max = 2_048
# Fetching the transactions a compact proposal names and a follower lacks: a request names at
# most a block's hashes and an answer carries at most a block's bytes; a follower completes
# this many proposals at once (a round's proposals and some later rounds'), keeps this many
# fetched transactions for the height, and remembers what it asked for this long (so that
# a late answer to an earlier request is not taken for an unasked one).
fetch_hashes_max = block_txs_max
fetch_request_bytes_max = fetch_hashes_max * 34 + 16  # a bin8 header per hash, an array's
fetch_answer_bytes_max = block_bytes_max
incomplete_proposals_max = 4 * proposals_per_round_max
fetched_txs_max = 2 * block_txs_max
fetch_asked_remembered_max = 4 * block_txs_max
# Consensus messages a node keeps for heights it has not reached yet: the two votes of each of
# `validators_max` validators for about 20 rounds, enough to follow a short lag without catch-up.
later_messages_max = 4_096
# A node announces its height this often; a peer behind it asks for blocks (catch-up), and a
# node whose round waits this long relays what it has. Short against the block interval.
status_interval_ms = 500
# Gossip leaves in batches: one frame per peer per loop iteration, up to this many bytes
# (a loaded network's votes and transactions of one iteration, well under a frame).
gossip_batch_bytes_max = 2**20
# Refused and expired transactions the node remembers for `GET /v1/transactions/{hash}`:
# about 200 bytes each, so 20 MB each; a gateway polls within seconds of its submit.
rejected_txs_remembered_max = 100_000
expired_txs_remembered_max = 100_000
# Each memo table of decoded messages and verified signatures (`bakong.node.memo`): many
# rounds of votes of the largest network; when full it is emptied (a miss costs a recompute).
memo_entries_max = 50_000
# Signature checks are batched for the worker pool: a batch leaves after this wait, or as
# soon as it holds this many checks (a fraction of a second of one core's Ed25519).
verify_batch_wait_ms = 2
verify_batch_checks_max = 4_096
# ... and go to the workers in chunks of at most this many (a few ms of one core), one per
# worker at a time, so that a block's checks wait at most that long (`bakong.node.verifier`).
verify_chunk_checks_max = 256
# `mempool.verify_workers = "auto"` (the default) runs one worker per core but the event
# loop's, at most this many. One validator alone on 2 cores made 8,073 transfers/s with one
# worker against 6,667 inline, its event loop then spending 96.5 µs per transfer beside 48 µs
# of signature checks in the worker (docs/performance.md, session 19): an event loop keeps
# about half a core of checks busy, so more workers than this would wait.
verify_workers_auto_max = 4
# A count set explicitly, at most (each worker is a process of its own).
verify_workers_max = 64
# LMDB reserves address space, not disk: the file grows as it fills, so the map is generous.
lmdb_map_bytes_default = 64 * 2**30
# The consensus log's environment holds one height's inputs, proposals (whole blocks) among them.
lmdb_log_map_bytes = 16 * 2**30
# A stored block is a block (`block_bytes_max`), its commit and its results, with ample room.
stored_block_bytes_max = 64 * 2**20
# Files a node reads before it trusts them: its config.toml, its genesis, a key file (JSON of a
# hex seed and key, under 200 bytes). Each is refused beyond its bound before it is parsed.
config_bytes_max = 2**20
genesis_bytes_max = 4 * 2**20
key_file_bytes_max = 1_024
# A snapshot's manifest: its header and 34 bytes (a hash in msgpack) per chunk; a chunk is at
# most the target plus one entry (a key and a record are far below 1 MiB each); an offer is a
# manifest with the carrier block and its commit.
snapshot_manifest_bytes_max = 64 + 34 * snapshot_chunks_max + 1_024
snapshot_chunk_bytes_max = 2 * snapshot_chunk_bytes + 2**20
snapshot_offer_bytes_max = snapshot_manifest_bytes_max + 2 * block_bytes_max + 2**20
# A local network (`bakong localnet`) must commit its first block within this time of its
# start (process start-up and a first round), and a stopped validator exits within the grace
# before it is killed.
localnet_start_timeout_s = 60.0
localnet_stop_grace_s = 10.0
# Ports chosen for local services stay reserved by this process (`bakong.ports`); a test
# worker chooses a few per test, and a held socket is one file descriptor.
loopback_ports_held_max = 256

# Peer transport (bakong.node.transport). The Noise XX messages here are 32, 128 and 96 bytes.
handshake_message_bytes_max = 1_024
# A frame carries the node's message envelope around at most one proposal (a block) or a
# catch-up response (a block and its commit): the kind tag, the commit's signatures, the
# proposer's signature. 64 KiB holds a commit of `validators_max` signatures many times over.
frame_overhead_bytes_max = 64 * 1024
frame_bytes_max = proposal_bytes_max + frame_overhead_bytes_max
# Redial backoff doubles per failed attempt up to this exponent: 2**32 times the minimum delay
# is past any maximum, so the delay is capped by the maximum, never by overflow.
reconnect_doublings_max = 32

# HTTP API (bakong.node.api). A batch may fill one block; a body holds a block's bytes doubled
# for hex in JSON, plus room for the envelope.
api_batch_txs_max = block_txs_max
api_body_bytes_max = 2 * block_bytes_max + 64 * 1024
# A stream that cannot even be closed within this time is abandoned.
stream_close_timeout_s = 5.0

# Block stream (bakong.node.stream). Subscribers read the same few heights at once: the
# decoded blocks of the last few heights serve them all.
decoded_blocks_cached_max = 16
# A subscriber must take each message within this time, or it is closed (4408) rather than
# holding the node's memory: a healthy subscriber takes one in milliseconds.
stream_send_timeout_s = 30.0
# How long the feed waits for the next height before it looks again (a heartbeat block comes
# every few seconds, so this only bounds a wait on a stalled node).
stream_wait_s = 10.0

# Client SDK (bakong.client). A header carries the previous commit, and a commit at most
# `validators_max` signatures of ~100 bytes.
client_header_bytes_max = 64 * 1024
client_commit_bytes_max = 64 * 1024
# A stream message: a block doubled for hex, plus proofs and JSON punctuation.
client_stream_message_bytes_max = 2 * block_bytes_max + 4 * 2**20
# Stream reconnects back off from the minimum, doubling, to the maximum.
client_reconnect_delay_s_min = 0.1
client_reconnect_delay_s_max = 10.0
# One HTTP request; a wait for a commit (a few blocks of a loaded network).
client_request_timeout_s_default = 10.0
client_wait_timeout_s_default = 30.0
# Status polls while waiting back off from the minimum by the factor up to the maximum: the
# first poll sees a fast commit, a slow one costs a poll a second.
client_poll_delay_s_min = 0.05
client_poll_delay_s_max = 1.0
client_poll_backoff_factor = 1.5
# A non-JSON error body is quoted in the exception up to this many characters.
client_error_text_chars_max = 200

# QR images (bakong.qrimage): a 40-megapixel photo; Pillow's bomb guard stops far larger.
qr_image_pixels_max = 40_000_000

# Simulator (bakong.sim). Small networks (n = 3f + 1 with f >= 1) and small blocks ("a few per
# block" keeps Ed25519 cheap), so that 500 seeds run in minutes.
sim_validators_min = 4
sim_validators_max = 10
sim_block_txs_max = 16
sim_mempool_txs_max = 4_096
# A simulated chain snapshots often and soon, so that restores happen within a seed's heights.
sim_snapshot_interval = 20
sim_snapshot_lag = 3
# Simulated time a proposer takes to build and execute its block, and a gateway's request to
# reach a node, at most.
sim_block_build_ms_max = 5
sim_submit_ms_max = 20
# Each simulated node announces its height this often; an unanswered catch-up request may be
# sent again (to another peer) after the timeout.
sim_status_interval_ms = 500
sim_sync_request_timeout_ms = 1_000
# Partitions and crashes are drawn every tick; a link drops at most this share of packets.
sim_fault_tick_ms = 250
sim_loss_max = 0.3
# A simulated disk syncs at once beyond this many unsynced writes (a bounded write-back cache);
# a height's log longer than the maximum is a bug or an attack.
sim_pending_writes_max = 4_096
sim_wal_inputs_max = 50_000
# After the target height a run must settle within the drain time; once the faults stop, a new
# height must be committed at least every `sim_liveness_ms` (many rounds of timeouts).
sim_drain_ms_max = 60_000
sim_liveness_ms = 30_000
# The simulated gateways: a transaction not seen committed is sent again after
# `sim_resubmit_ms`, at most this many per tick; a gateway stops signing new ones beyond
# `sim_pending_txs_max` waiting (backpressure).
sim_resubmit_ms = 2_000
sim_resubmits_per_tick_max = 16
sim_pending_txs_max = 256
# A simulated hold lives a few seconds: long enough to be posted, short enough to expire
# within a seed's run (the ledger accepts `hold_expiry_ms_min` to `hold_expiry_ms_max`).
sim_hold_lifetime_ms_min = 3_000
sim_hold_lifetime_ms_max = 15_000
# Byzantine proposers replay transactions of the last blocks, and date an expired attack up to
# an hour outside the validity window.
sim_replay_depth_max = 20
sim_expired_offset_ms_max = 60 * 60 * 1000
# `bakong sim` prints its progress this often.
sim_progress_interval_s = 2.0

# Benchmarks (bakong.bench). The Ed25519 ceiling is measured for this long on every core.
bench_verify_ceiling_s = 2.0
# Benchmark transfers move 1..max riel, so no funded account ever runs dry.
bench_transfer_amount_max = 1_000
# The bulk state builder writes LMDB transactions of at most this many entries (bounded dirty
# memory per transaction).
bench_state_batch_entries_max = 250_000
#: `bench scale --history-txs`: the hashes are made and sorted in memory (about 100 B each).
bench_history_txs_max = 5 * 10**7
# The load generator: its expected run time plus this slack before it is killed; the monitor
# samples the validators this often.
bench_loadgen_slack_s = 120.0
bench_monitor_interval_s = 0.25
# A validator restored from a snapshot must have caught up within this time.
bench_restore_timeout_s = 120.0
# The official KHQR SDK's run under Node (thousands of codes).
bench_qr_sdk_timeout_s_max = 900.0
# `bakong bench gateway`: every customer's event stream must be open within the start timeout;
# a wallet API request waits for its block, so its timeout is the gateway's own wait plus slack.
# Registrations run this many at a time (each costs an argon2 hash and a block); after a
# phase, payments still on their way get the drain time to commit and be notified.
bench_gateway_start_timeout_s = 60.0
bench_gateway_request_timeout_s = 30.0
bench_gateway_registrations_parallel_max = 8
bench_gateway_drain_s = 15.0
# The benchmark's own HTTP/1.1 client (bakong.bench.http1): an answer's head and body (or one
# streamed line) at most these sizes; the gateway's answers are a few hundred bytes.
bench_http_head_bytes_max = 16 * 1024
bench_http_body_bytes_max = 1024 * 1024
# The load generator (bakong.bench.loadgen): a refused batch (429/503) is retried after a
# backoff that doubles from the minimum to the maximum; paced submits go out every tick.
loadgen_backoff_s_min = 0.01
loadgen_backoff_s_max = 0.5
loadgen_tick_s = 0.01
loadgen_request_timeout_s = 30.0
loadgen_stream_reconnects_max = 5
loadgen_stream_message_bytes_max = 64 * 2**20
# Without a stream follower the load generator polls a validator's height this often; during
# a measured window it samples its requests in flight this often.
loadgen_block_poll_s = 0.02
loadgen_sample_interval_s = 0.01
# The PostgreSQL central ledger (bakong.bench.central_ledger): PostgreSQL groups the fsyncs of
# concurrent commits, so the pool is wide; a deadlock or serialization failure is retried.
central_ledger_pool_size_default = 32
central_ledger_retries_max = 3
central_ledger_start_timeout_s = 60.0
central_ledger_stop_timeout_s = 10.0
# The throwaway PostgreSQL cluster (bakong.bench.postgres), and how much of its log an error quotes.
postgres_start_timeout_s = 60
postgres_log_tail_bytes = 4_000

# Gateway: the service (bakong.gateway db, app, projection, submission). An SQLite writer waits
# this long for another's lock instead of failing; the pool holds the request threads anyone
# would run (anyio's default thread limiter is 40).
gateway_sqlite_busy_ms = 10_000
# The cyclic collector runs on the young generation after this many new container objects
# (Python's default is 700; one payment request allocates a few thousand).
gateway_gc_young_objects = 20_000
# The same for a validator (`bakong.node.serve`): a 2,000-transaction block allocates tens of
# thousands of objects.
node_gc_young_objects = 20_000
gateway_db_pool_size = 40
gateway_db_pool_overflow = 10
# `/healthz` asks the core's `/healthz` and answers within this, reachable or not.
gateway_health_timeout_s = 2.0
# A submission waits this long for its commit; one not committed by then is sent again this
# often (the same signed bytes: the core applies a hash at most once), at most this many
# unfinished ones picked up per pass after a restart.
gateway_submit_wait_s = 10.0
gateway_resubmit_s = 2.0
# A sender parked until the projection applies its transaction's block asks the core for the
# status only after this long without a block waking it (a lagging or stalled stream).
gateway_wait_check_s = 2.0
# The projection looks up a block's transaction hashes among the submissions this many at a
# time (one query each: well under SQLite's bound of bound parameters per statement).
gateway_finish_batch_max = 500
# A gateway sends at most this many queued submissions to the core in one request.
gateway_submit_batch_max = 64
gateway_resume_batch_max = 1_000
# The projection restarts its stream after a failure, backing off up to this.
gateway_projection_retry_s_max = 10.0
# The alias HMAC key and the key-encryption key are files of 64 hex digits.
gateway_key_file_bytes_max = 1_024
# On SIGTERM, requests in flight get this long to finish.
gateway_shutdown_s = 10.0
# Local gateway processes (bakong.gateway.processes): one must answer /healthz with its core
# reachable within this (migrations, argon2 warm-up, first stream connection); the demo's
# loopback certificate is valid this long (a demo left running, or resumed later).
local_gateway_start_timeout_s = 60.0
local_gateway_certificate_days = 365
# A scripted customer's request waits for its block, so its timeout is the gateway's wait plus
# slack.
local_gateway_request_timeout_s = 30.0

# Gateway: customers and wallets (bakong.gateway otp, pins, sessions, wallets, parties).
# A one-time code has 6 digits and lives 10 minutes (issue 15); five wrong tries spend it, and
# a phone gets at most three codes an hour, so guessing one succeeds with odds below 1 in 60,000.
otp_digits = 6
otp_lifetime_ms = 10 * 60_000
otp_attempts_max = 5
otp_codes_per_window_max = 3
otp_window_ms = 60 * 60_000
# A configured SMS provider is handed the outbox every second, a batch at a time; after a round
# with a failed send the sender waits twice as long each time (at most a minute). A message
# older than a code's lifetime is not tried again: the code in it has expired.
sms_poll_s = 1.0
sms_backoff_s_max = 60.0
sms_batch_max = 50
sms_retry_window_ms = otp_lifetime_ms
# The HTTP SMS provider (bakong.gateway.sms_http): each POST waits at most the timeout; a send
# tries a busy or unreachable provider this many times, this long apart, before the outbox
# keeps the message for the sender's next round. Its URL, token and sender name are short.
sms_http_timeout_s = 10.0
sms_http_attempts = 3
sms_http_retry_s = 1.0
sms_http_url_chars_max = 2_048
sms_http_token_bytes_max = 4_096
sms_sender_chars_max = 11  # an alphanumeric sender ID is at most 11 characters (GSM 03.40)
# A registration the ledger refused and nobody sent again is undone (handle and phone freed)
# by a sweep every few seconds, once refused this long: a retry in flight undoes its own.
onboarding_sweep_s = 5.0
onboarding_sweep_grace_ms = 60_000
# A PIN has 6 to 12 digits; five wrong ones in a row lock the wallet for 15 minutes.
pin_digits_min = 6
pin_digits_max = 12
pin_failures_max = 5
pin_lockout_ms = 15 * 60_000
# A session token carries 256 random bits and lasts an hour; after that the customer logs in.
session_token_bytes = 32
session_lifetime_ms = 60 * 60_000
# A handle is `name@participant`; the name part is at least this long (the ledger bounds the
# whole ID). Names are a person's legal name as typed at onboarding.
handle_chars_min = 3
customer_name_chars_max = 100
phone_digits_max = 15  # E.164: at most 15 digits after the "+"
# Wallet API bodies are small JSON; an uploaded QR image is a phone photo.
wallet_body_bytes_max = 16 * 1024
history_page_default = 20
history_page_max = 100
qr_upload_bytes_max = 4 * 2**20
# Server-sent events: a stream holds at most this many undelivered events (a slower reader is
# dropped and reconnects), and sends a comment this often so proxies keep it open.
events_queue_max = 256
events_keepalive_s = 15.0
# A call to another bank's gateway for the payee's display name: a bank that does not answer
# in time leaves the name unknown rather than holding up the payer.
party_lookup_timeout_s = 5.0
# Gateways read the participant directory (URLs, gateway keys) from the core at most this
# often: a key rotation or a new URL is seen within this time, without a core call per lookup.
participant_directory_cache_ms = 10_000
# Logins and code requests per client address (`bakong.gateway.throttle`), each a token bucket
# on top of the per-wallet lockout and the per-phone code quota. Mobile carriers put many phones
# behind one address (carrier-grade NAT), so the buckets are wide: they stop one machine trying
# PINs across many wallets or texting many phones, not a busy carrier. The least recently seen
# address is forgotten beyond the tracked bound (memory stays bounded under a flood).
client_logins_per_min = 60
client_login_burst = 30
client_codes_per_min = 10
client_code_burst = 10
client_addresses_tracked_max = 100_000
# An officer's session (`bakong gateway officer-token`) lasts a shift by default, a day at most.
officer_session_lifetime_ms_default = 8 * 60 * 60_000
officer_session_lifetime_ms_max = 24 * 60 * 60_000
# An officer signs in by name (a staff login, not a person's name) and a password of at least
# 12 characters (NIST SP 800-63B asks 8 of a memorised secret; staff reach every customer's
# data, so more); a generated one is 120 random bits. A reason an officer gives is a sentence.
officer_name_chars_min = 3
officer_name_chars_max = 32
officer_password_chars_min = 12
officer_password_chars_max = 128
officer_password_generated_bytes = 15
officer_reason_chars_max = 500
# A customer's page shows their latest payments; the actions log is read a page at a time.
officer_recent_payments_max = 20
officer_actions_page_default = 50
officer_actions_page_max = 200

# Gateway: merchants, webhooks and the Open API (bakong.gateway merchants, webhooks, open_api).
# A dynamic KHQR lives at most 10 minutes (NBC's QR Pay integration guide) and at least long
# enough to be scanned and paid; a bill number is 80 random bits in hex (KHQR allows 25 chars).
khqr_expiry_ms_min = 30_000
khqr_expiry_ms_max = 10 * 60_000
khqr_expiry_ms_default = 5 * 60_000
bill_number_bytes = 10
merchant_body_bytes_max = 16 * 1024
merchant_payments_page_max = 100
# A day's sales list at most this many payments (the totals count them all). The store card
# is A6 (105 x 148 mm) at 300 dpi: sharp when printed, small as a file.
merchant_sales_page_max = 500
store_card_width_px = 1240
store_card_dpi = 300
# Webhooks: delivered at least once, retried after 1 s, 2 s, 4 s ... capped at an hour, 16
# attempts in all (about five hours), each waiting at most 10 s for an answer. The worker looks
# for due events every second, a bounded batch at a time. A receiver refuses a signature whose
# timestamp is further than the skew from its clock (a replayed old delivery).
webhook_url_chars_max = 2048
webhook_secret_bytes = 32
webhook_attempts_max = 16
webhook_backoff_ms_min = 1_000
webhook_backoff_ms_max = 60 * 60_000
webhook_timeout_s = 10.0
webhook_poll_s = 1.0
webhook_batch_max = 100
webhook_skew_ms_max = 5 * 60_000
# Open API: a bearer token carries 256 random bits and expires after 90 days as NBC's do; a
# body is a lookup or a list of at most 50 (NBC's bulk limit) of 255-character fields.
open_api_token_bytes = 32
open_api_token_lifetime_ms = 90 * 24 * 60 * 60_000
open_api_body_bytes_max = 32 * 1024
open_api_field_chars_max = 255
open_api_list_max = 50
# A short-hash check scans the merchant's latest transfers of that exact amount and currency.
open_api_short_hash_candidates_max = 10_000

# Console (bakong.console): a staff session lasts a shift (an HttpOnly cookie); a form is small
# and has few fields; a reason or a reserve reference is a sentence; a page shows at most a few
# hundred rows. The live rate counts the last minute's committed transactions. An approved
# command waits this long for its commit before the page says "submitted" (the stream finishes
# it later); a broken stream is reopened after at most this long.
console_session_lifetime_ms = 8 * 60 * 60_000
console_body_bytes_max = 8 * 1024
console_reason_chars_max = 500
console_page_rows_max = 200
console_search_rows_max = 500
console_rate_window_ms = 60_000
console_supervision_window_ms = 60 * 60_000  # the supervision page's last hour
# The links page (issue 20): positions of the last 7 Phnom Penh days, the latest 50 failures.
console_links_days = 7
console_links_failed_max = 50
console_submit_wait_s = 10.0
console_follow_retry_s_max = 10.0
console_form_fields_max = 20
# The console's analytics (bakong.console.analytics): heights per Parquet export batch (a batch's
# rows stream through one CSV file into DuckDB), the days the figures cover by default and at
# most, and the bars a chart of participants draws (the rest are summed as "others").
analytics_export_heights_batch = 50_000
analytics_days_default = 30
analytics_days_max = 366
analytics_chart_bars_max = 12
# Console: monitoring rules (bakong.console.monitoring). A supervisor keeps a few dozen rules,
# each named in a word; a rule looks back at most a month (the longest pattern it looks for)
# and counts at most this many payments; an alert carries at most this many movements of
# evidence, the rest counted (a report a person reads, not a dump).
aml_rules_max = 64
aml_rule_name_chars_max = 64
aml_window_ms_max = 31 * 24 * 60 * 60_000
aml_count_max = 10_000
aml_evidence_max = 200
# Console: the monitor looks at newly stored blocks about once a second (alerts and low balances
# are for a person, who needs them in seconds, not in the block); the liquidity page shows a
# week of settlement positions, a day a column.
console_monitor_interval_s = 1.0
# A pass evaluates at most this many blocks (a console catching up works in steps, each its own
# database transaction) and names at most this many accounts in one query.
console_monitor_blocks_per_pass = 1_000
console_monitor_accounts_per_query = 500
console_position_days = 7

# Gateway: pages (bakong.gateway.pages). The static files (CSS, JS, icons) are read into memory
# at start: each is small, and their count is bounded so a stray file cannot bloat a gateway.
# A URL that carries the file's content hash is cached for a year (it never changes); any other
# is revalidated each time. The language cookie lasts a year; the page to return to after a
# language switch is a path of this gateway, kept short.
page_static_file_bytes_max = 512 * 1024
page_static_files_max = 200
page_static_cache_s = 365 * 86_400
page_lang_cookie_s = 365 * 86_400
page_next_chars_max = 512

# Gateway: the USSD service (bakong.gateway.ussd). A session lasts 180 s and waits at most 60 s
# for each input (Africa's Talking's figures: reference channels.md section 1.2). A screen is
# 160 bytes: 182 GSM-7 characters, or 80 UCS-2 units once one character (Khmer) needs UCS-2;
# an SMS segment is 160 GSM-7 characters or 70 UCS-2 units.
ussd_session_ms = 180_000
ussd_input_ms = 60_000
ussd_screen_gsm7_chars_max = 182
ussd_screen_ucs2_units_max = 80
sms_segment_gsm7_chars_max = 160
sms_segment_ucs2_units_max = 70
# An aggregator's callback is a small form or JSON body. A session takes at most 40 inputs (a
# long session is a handful of screens, each retried a few times), each at most 20 keys (a
# phone number typed with its international prefix "00"); the text joins them with "*".
ussd_body_bytes_max = 4 * 1024
ussd_inputs_max = 40
ussd_input_chars_max = 20
ussd_text_chars_max = ussd_inputs_max * (ussd_input_chars_max + 1)
ussd_session_id_chars_max = 128
ussd_service_code_chars_max = 32
ussd_network_code_chars_max = 16
# An aggregator's shared secret is at least 128 random bits in hex (the config keeps only its
# SHA-256); a gateway serves a handful of aggregators.
ussd_secret_chars_min = 32
ussd_secret_chars_max = 128
ussd_aggregators_max = 16
# What a keypad types: a wallet name of 4 to 12 digits, an amount of at most 9 digits (whole
# riel or dollars, far above any daily limit), a shop's short code.
ussd_handle_digits_min = 4
ussd_handle_digits_max = 12
ussd_amount_digits_max = 9
ussd_shop_code_digits_max = 8
# A name, account or bank printed on a screen is cut to this many characters first (and more
# when the screen would not fit otherwise).
ussd_label_chars_max = 24
# A USSD payment waits for its block less than the aggregator's 15 s answer timeout.
ussd_payment_wait_s = 8.0
# Default daily caps of USSD-originated payments (a bank's config sets its own, never above the
# central bank's basic-tier limit): KHR 400,000 and USD 100.00, in minor units. Today's USSD
# payments are summed from at most this many of the customer's latest.
ussd_daily_cap_khr_default = 400_000
ussd_daily_cap_usd_default = 10_000
ussd_payments_counted_max = 500
# A screen lists at most 3 cash-out requests and the 5 latest payments (the mini statement).
ussd_approvals_shown_max = 3
ussd_statement_entries_max = 5
# The claim menu lists the banks a claim may be held at five to a screen (9 turns the page):
# five 8-letter codes fit a Khmer screen under its title.
ussd_banks_per_page = 5
# A session's row outlives its expiry by 10 minutes (an aggregator's late retry is still known
# as a replay), then is deleted: every 30 s, a bounded batch at a time.
ussd_session_kept_ms = 10 * 60_000
ussd_sweep_s = 30.0
ussd_sweep_batch_max = 1_000
# Merchants' numeric short codes (paid by USSD) count up from here: four digits at first.
merchant_short_code_first = 1001
# `bakong phone` waits this long for a screen: a registration or a payment waits for its block.
phone_request_timeout_s = 30.0
# A cash-out request waits at most 10 minutes for the customer's approval.
cash_out_approval_ms_max = 10 * 60_000

# Gateway: claims and cash agents (bakong.gateway claims, claiming, agents). Money sent to a
# phone with no wallet is held for a claim period the bank configures: at most the ledger's
# longest hold, less the five minutes a transaction's clock may run ahead of the block's (the
# ledger measures a hold's life from the block's time); at least long enough to claim in a
# test. A claim is refused in its last 30 s, so that its post commits before the hold expires.
claim_period_ms_min = 2_000
claim_period_ms_max = hold_expiry_ms_max - tx_future_ms_max
claim_redeem_margin_ms = 30_000
# A claim's id is 128 random bits; its code is 10 digits derived from the id under a key only
# the bank holds (Vodacom's cash token has 11, Wing's 8); the payer's secret for an agent is
# 4 to 8 digits (Vodacom: 5). Five wrong tries lock a claim: it then returns at expiry.
claim_id_bytes = 16
claim_code_digits = 10
claim_secret_digits_min = 4
claim_secret_digits_max = 8
claim_attempts_max = 5
# The holding bank waits this long for each of a claim's two blocks (the post, the transfer)
# before it answers "claiming"; the claimant's bank waits for that answer this long.
claim_step_wait_s = 6.0
claim_request_timeout_s = 20.0
claim_body_bytes_max = 4 * 1024
# The claims worker looks every 2 s for holds placed, expired and claims to drive, a bounded
# batch at a time; a payer's list of claims is read a page at a time.
claims_sweep_s = 2.0
claims_sweep_batch_max = 200
claims_page_max = 100
# An agent's own daily caps of cash-in and of cash-out, per asset (the bank sets each agent's;
# the ledger's tier limits bound them anyway): the full tier's KHR 40,000,000 / USD 10,000 by
# default. A float under KHR 400,000 or USD 100 alerts the agent, once per crossing.
agent_daily_cap_khr_default = 40_000_000
agent_daily_cap_usd_default = 10_000_00
agent_float_alert_khr_default = 400_000
agent_float_alert_usd_default = 100_00
# A day's statement lists at most this many movements (its totals count them all).
agent_statement_rows_max = 5_000
# A customer is shown at most this many cash-out requests waiting for a decision.
approvals_listed_max = 20

# Gateway: onboarding by ID card and selfie (bakong.gateway.kyc; docs/kyc.md). The page sends
# each card side at most 1,600 px on its long side as a JPEG (a few hundred KB) and each selfie
# frame at 640 px; the gateway takes at most 1.5 MB and 4,000 px a side per image (a phone's
# full photo, sent by an older page), at least 200 px (below that nothing is legible). A
# challenge is 3 to 8 frames (a blink needs open, closed, open). The JSON body carries the
# images in base64 (4/3 of their size) and a little more.
kyc_image_bytes_max = 1_500_000
kyc_image_side_min = 200
kyc_image_side_max = 4_000
kyc_selfie_frames_min = 3
kyc_selfie_frames_max = 8
kyc_body_bytes_max = (2 + kyc_selfie_frames_max) * kyc_image_bytes_max * 4 // 3 + 64 * 1024
# A customer may submit 5 times a day: enough for retakes, too few to probe the face matcher.
kyc_submissions_per_day_max = 5
kyc_submissions_window_ms = 24 * 60 * 60_000
# dlib looks for faces in a copy at most 800 px on its long side (its HOG detector costs in
# proportion to the pixels; an ID photo on a 1,600 px card is still 250 px tall there).
kyc_face_side_max = 800
# The face distance (dlib's 128-d embeddings, Euclidean) at or under which the ID photo and the
# selfie are taken for one person when `[kyc] face_distance_max` is not configured: calibrated
# in docs/kyc.md (dlib's own 0.6 is its LFW figure; 0.5 trades more officer reviews for fewer
# false matches). Every frame of a challenge must be the same face as the first, within 0.6.
kyc_face_distance_default = 0.5
kyc_frames_distance_max = 0.6
# Tesseract gets 30 s per image (a 1,600 px card side takes 1 to 3 s on one core); it reads at
# most this much text from a side.
kyc_ocr_timeout_s = 30.0
kyc_ocr_text_chars_max = 4_000
# One check runs at a time per gateway (dlib and Tesseract are CPU-bound: a burst of
# submissions waits in the queue instead of starving the payment path). The worker looks for
# new submissions every second (a submission also wakes it), and retries one whose tier change
# the ledger did not take after 10 s.
kyc_checks_parallel_max = 1
kyc_worker_poll_s = 1.0
kyc_worker_retry_ms = 10_000
kyc_queue_page_max = 50
# `bakong audit pii` searches the chain for personal values of at least this many characters:
# a shorter one (a two-letter name) would match everywhere and prove nothing. A national
# phone number's digits alone are 8 or 9.
audit_pii_value_chars_min = 6
# A scan lists at most this many findings (it counts them all): one is already a failure.
audit_pii_findings_max = 1_000
# `bakong audit verify` opens a validator's store read-only with room for its named databases
# (`bakong.node.store` has seven), and shows its progress on a terminal every so many blocks.
audit_store_dbs_max = 16
audit_progress_blocks = 100

# Gateway: wallet <-> bank account and the sample core bank (bakong.corebank,
# bakong.gateway.corebanking; docs/core-banking.md). The core bank reads a config of a few
# lines and bodies of one posting; amounts stay below 10^15 minor units (a BIGINT with room to
# sum a day's journal); references and holder names are short text; a fault switch is a word
# and a number, a slow answer at most two minutes. The journal is read 1,000 entries a page.
corebank_config_bytes_max = 16 * 1024
corebank_body_bytes_max = 4 * 1024
corebank_amount_max = 10**15
corebank_reference_chars_max = 64
corebank_holder_chars_max = 80
corebank_fault_chars_max = 64
corebank_fault_slow_s_max = 120.0
corebank_journal_page_max = 1_000
corebank_accounts_listed_max = 10_000
corebank_start_timeout_s = 30.0
# The gateway waits 5 s for the core bank by default (a core-banking call is a database
# transaction away): at least 0.2 s, at most a minute. A wallet links at most 5 accounts.
core_banking_timeout_s_default = 5.0
core_banking_timeout_s_min = 0.2
core_banking_timeout_s_max = 60.0
bank_links_per_wallet_max = 5
# A bank transfer's hold lives 30 minutes by default: long enough for the core bank to come
# back from a restart, short enough that money stuck behind a dead core bank returns the same
# day. At least 2 s (tests of expiry), at most a claim's longest period (the ledger's longest
# hold less the clock skew it allows).
bank_transfer_hold_ms_default = 30 * 60_000
bank_transfer_hold_ms_min = 2_000
bank_transfer_hold_ms_max = hold_expiry_ms_max - tx_future_ms_max
# A transfer's request waits up to 6 s for each of its ledger steps before answering 202; the
# worker drives unfinished transfers every second, a bounded batch at a time. A wallet's list
# is read 50 at a time.
bank_transfer_step_wait_s = 6.0
bank_transfers_sweep_s = 1.0
bank_transfers_sweep_batch_max = 200
bank_transfers_page_max = 50
bank_transfer_body_bytes_max = 4 * 1024
# Cross-border outbound (issue 20, `gateway.crossborder`): the gateway waits 5 s for the link
# by default (0.2 s to a minute). A foreign QR is at most a KHQR's length; a link's answer at
# most 16 KiB; a foreign amount at most 10^15 minor units. A payment's request waits up to 6 s
# per step before answering 202; the worker drives unfinished payments every second, a bounded
# batch at a time. The link's quote lives at most 15 minutes (the wallet must see it ticking).
link_timeout_s_default = 5.0
link_timeout_s_min = 0.2
link_timeout_s_max = 60.0
link_answer_bytes_max = 16 * 1024
foreign_amount_max = 10**15
foreign_text_chars_max = 140
foreign_quote_lifetime_ms_max = 15 * 60_000
foreign_payment_body_bytes_max = 4 * 1024
foreign_payment_step_wait_s = 6.0
foreign_payments_sweep_s = 1.0
foreign_payments_sweep_batch_max = 200
# The daily reconciliation looks once a minute whether yesterday's report is stored (every 2 s
# while the projection is still applying that day); a day's report compares at most 100,000
# entries a side.
reconcile_run_s = 60.0
reconcile_retry_s = 2.0
reconcile_entries_max = 100_000

assert account_name_chars_max + 1 + participant_code_chars_min == account_id_chars_max
assert ussd_input_ms < ussd_session_ms and ussd_payment_wait_s < ussd_input_ms / 1_000
assert ussd_text_chars_max == ussd_inputs_max * (ussd_input_chars_max + 1)
assert ussd_handle_digits_min >= handle_chars_min and ussd_handle_digits_max <= 28
assert 10**ussd_amount_digits_max * 100 <= amount_max  # dollars to cents cannot overflow
assert 0 < ussd_secret_chars_min <= ussd_secret_chars_max
assert 0 < ussd_approvals_shown_max <= 9 and 0 < ussd_statement_entries_max  # one key each
assert 0 < ussd_banks_per_page < 9  # one key each, and 9 for the next page
assert gateway_submit_wait_s < phone_request_timeout_s  # a registration answers in time
assert participant_code_chars_min <= participant_code_chars_max
assert hold_expiry_ms_min < claim_period_ms_min <= claim_period_ms_max <= hold_expiry_ms_max
assert claim_attempts_max * 1_000_000 < 10**claim_code_digits  # guessing a code is hopeless
assert claim_step_wait_s * 2 < claim_request_timeout_s
assert 0 < agent_float_alert_khr_default and 0 < agent_float_alert_usd_default
assert gateway_resubmit_s < gateway_submit_wait_s < tx_past_ms_max / 1_000
assert 0 < gateway_wait_check_s < gateway_submit_wait_s
assert gateway_submit_batch_max <= api_batch_txs_max  # a full batch fits one request's body
assert gateway_submit_batch_max * (2 * tx_bytes_max + 8) + 64 * 1024 <= api_body_bytes_max
assert otp_attempts_max * otp_codes_per_window_max * 1_000 < 10**otp_digits
assert 0 < sms_poll_s <= sms_backoff_s_max and sms_batch_max >= 1
assert onboarding_sweep_grace_ms >= 2 * gateway_submit_wait_s * 1_000 and onboarding_sweep_s > 0
assert 6 <= pin_digits_min <= pin_digits_max and pin_failures_max >= 1
assert session_token_bytes >= 16 and history_page_default <= history_page_max
# Cross-border messages (bakong.crossborder.messages) and the foreign switch simulators
# (bakong.foreignsim; docs/foreign-switches.md). Ids are ISO 20022 Max35Text; names Max140Text
# cut to what a QR carries (25) with room; free text (reasons, remittance) Max140Text. An
# amount stays below 10^15 minor units (a BIGINT with room to sum a day). A message is one
# small JSON object; a statement lists at most 10,000 entries of one day.
iso_id_chars_max = 35
iso_name_chars_max = 70
iso_text_chars_max = 140
iso_amount_max = 10**15
iso_body_bytes_max = 8 * 1024
iso_statement_entries_max = 10_000
# A simulator reads a config of a few lines; its fault switch is a word and a number, a slow
# answer at most two minutes; `timeout` holds the answer for 5 minutes, longer than any caller
# waits. It waits 10 s for the link to answer a lookup or a pacs.008, 30 s for a child to start.
foreignsim_config_bytes_max = 16 * 1024
foreignsim_fault_chars_max = 64
foreignsim_fault_slow_s_max = 120.0
foreignsim_timeout_fault_s = 300.0
foreignsim_link_timeout_s = 10.0
foreignsim_start_timeout_s = 30.0
# The link service (bakong.crossborder): it waits 5 s for a foreign switch per message. A quote
# lives a minute by default; the payer's hold two minutes, so the foreign round trip fits
# inside it, and a hold seen with less than 10 s left is voided rather than sent abroad. A
# spread is at most 10 %; a rate has at most 12 significant digits; a link runs at most 16
# corridors. A gateway's request is at most 8 KiB. An inbound pacs.008 waits up to 4 s for
# its ledger transfer before answering ACSP; the worker drives unfinished payments every
# half second, a bounded batch at a time. A hold announced to a payment but never seen on the
# ledger is given up 30 s after the quote's hold expiry.
link_switch_timeout_s = 5.0
link_quote_ms_default = 60_000
link_hold_ms_default = 120_000
link_hold_margin_ms = 10_000
link_spread_bps_max = 1_000
link_rate_digits_max = 12
link_corridors_max = 16
link_request_body_bytes_max = 8 * 1024
link_answer_wait_s = 4.0
link_sweep_s = 0.5
link_sweep_batch_max = 200
link_hold_grace_ms = 30_000
# `bakong demo`'s link process answers within 30 s of its start (as a switch simulator must),
# and the demo funds its corridor account with 100,000,000 riel (25,000 USD) of liquidity.
link_start_timeout_s = 30.0
link_demo_liquidity_khr = 100_000_000

assert 0 < client_logins_per_min and 0 < client_login_burst and client_addresses_tracked_max > 0
assert 0 < client_codes_per_min and 0 < client_code_burst
assert kyc_image_side_min < kyc_face_side_max <= kyc_image_side_max
assert 3 <= kyc_selfie_frames_min <= kyc_selfie_frames_max
assert 0 < kyc_face_distance_default <= kyc_frames_distance_max < 1
assert 0 < officer_session_lifetime_ms_default <= officer_session_lifetime_ms_max
assert 0 < officer_name_chars_min <= officer_name_chars_max
assert 8 <= officer_password_chars_min <= officer_password_chars_max
assert 4 * officer_password_generated_bytes // 3 >= officer_password_chars_min  # base64url
assert officer_actions_page_default <= officer_actions_page_max
assert session_lifetime_ms <= officer_session_lifetime_ms_max  # `open_session` takes either
assert handle_chars_min + 1 + participant_code_chars_max <= account_id_chars_max
assert 0 < khqr_expiry_ms_min <= khqr_expiry_ms_default <= khqr_expiry_ms_max
assert 2 * bill_number_bytes <= 25  # hex in KHQR tag 62 sub-tag 01
assert 0 < webhook_backoff_ms_min <= webhook_backoff_ms_max and webhook_attempts_max >= 2
assert open_api_body_bytes_max >= open_api_list_max * (open_api_field_chars_max + 3)
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
assert compact_proposal_bytes_max < proposal_bytes_max
assert fetch_answer_bytes_max <= block_bytes_max
assert proposals_per_round_max >= 2  # the first proposal and the evidence against it
assert votes_per_round_max >= 4 * validators_max
assert 0 < block_time_drift_ms_max < tx_future_ms_max
assert sync_blocks_max * block_bytes_max <= 2**31  # a catch-up response stays framable
assert 0 < alias_lookups_per_s <= alias_lookup_burst
assert alias_lookups_page_max <= alias_lookups_retained_max
assert request_memory_ms >= 2 * request_skew_ms_max  # a clock stepped back still refuses
assert api_submitters_remembered_max >= rejected_txs_remembered_max
assert stored_block_bytes_max >= 2 * block_bytes_max  # a block with its commit and results
assert snapshot_chunk_bytes_max > snapshot_chunk_bytes
assert frame_bytes_max >= block_bytes_max + frame_overhead_bytes_max
assert validators_max * 200 < frame_overhead_bytes_max  # a commit's signatures
assert api_batch_txs_max <= block_txs_max
assert api_body_bytes_max >= 2 * block_bytes_max
assert client_header_bytes_max >= validators_max * 200  # a header carries the last commit
assert client_commit_bytes_max >= validators_max * 200
assert client_stream_message_bytes_max >= 2 * block_bytes_max
assert 0 < client_reconnect_delay_s_min <= client_reconnect_delay_s_max
assert 0 < client_poll_delay_s_min <= client_poll_delay_s_max and client_poll_backoff_factor > 1
assert 4 <= sim_validators_min <= sim_validators_max <= validators_max  # n = 3f + 1, f >= 1
assert sim_block_txs_max <= sim_mempool_txs_max
assert 0 < sim_snapshot_lag < sim_snapshot_interval
assert sim_sync_request_timeout_ms >= sim_status_interval_ms > 0
assert hold_expiry_ms_min <= sim_hold_lifetime_ms_min <= sim_hold_lifetime_ms_max
assert sim_hold_lifetime_ms_max <= hold_expiry_ms_max
assert 0 <= sim_loss_max < 1
assert 0 < loadgen_backoff_s_min <= loadgen_backoff_s_max
assert loadgen_stream_message_bytes_max >= client_stream_message_bytes_max
assert gateway_submit_wait_s < bench_gateway_request_timeout_s  # a payment answers in time
assert gateway_submit_wait_s < local_gateway_request_timeout_s  # so does a scripted one
assert hold_expiry_ms_min <= bank_transfer_hold_ms_min < bank_transfer_hold_ms_max
assert core_banking_timeout_s_min <= core_banking_timeout_s_default <= core_banking_timeout_s_max
assert link_timeout_s_min <= link_timeout_s_default <= link_timeout_s_max
assert 0 < state_checkpoint_entries <= state_pending_entries_max // 2  # the cap is the valve
