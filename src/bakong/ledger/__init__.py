"""The ledger: accounts, assets, commands, the validation ladder and block execution (pure)."""
