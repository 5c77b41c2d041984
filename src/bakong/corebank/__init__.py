"""A sample core-banking service: a bank's own books of customers' deposit accounts, in its own
process and database, that a gateway credits and debits when money moves between a wallet and
a bank account (issue 18; docs/core-banking.md).

- `books`: the double-entry store (accounts, postings, the journal), idempotent on posting ids.
- `home`: the service's home directory (config.toml, its API secret, sample customers).
- `app`: its authenticated JSON API, and the fault switches tests flip on a running process.
- `process`: run it as a child process (tests, `bakong demo`), kill it, start it again.
"""
