"""The gateway's link to its bank's core-banking system (issue 18, "Wallet <-> bank account").

- `config`: the `[core_banking]` table of the gateway's config.toml.
- `adapter`: the `CoreBanking` protocol (account lookup, credit, debit, posting status,
  reversal, the day's journal) and its HTTP implementation for `bakong.corebank`.
- `transfers`: linking a bank account to a wallet, and money between them as two-phase
  operations on ledger holds that survive crashes, timeouts and retries.
- `reconcile`: the daily comparison of the ledger's movements with the core bank's journal.
"""
