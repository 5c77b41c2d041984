"""The console's schema versions."""
