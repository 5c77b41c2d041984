"""The participant gateway: a bank's service for its customers' wallets, merchants and the
Bakong Open API. It holds personal data (the ledger holds none), keeps custodial keys sealed,
and talks to the core only through `bakong.client`."""
