"""bakong: an open national retail payment system (ledger, consensus, KHQR, gateways)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
