"""The gateway's side of cross-border QR payments (issue 20): a wallet paying a foreign merchant.

- `config`: the `[crossborder]` table of the gateway's config.toml (where the link is, its key).
- `link`: the gateway's client of the link service (`bakong.crossborder`): quotes, payments and
  their status, each request signed with the gateway key and addressed to the link's key.
- `payments`: the wallet's outbound foreign payment, a stored state machine on a ledger hold
  toward the link's account that survives crashes, timeouts and retries, and its JSON routes.
"""
