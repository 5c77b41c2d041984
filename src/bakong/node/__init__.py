"""The validator node (design section 7): the I/O around the pure ledger and consensus cores.

Runtime loop, peer transport, mempool, LMDB block and state store, catch-up and snapshots,
and the core HTTP API. Everything here performs what the pure cores decide; no consensus or
ledger rule lives in this package.
"""
