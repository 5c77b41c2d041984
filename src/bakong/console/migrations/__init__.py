"""Alembic migrations of the console's store (`bakong.console.store.migrate` runs them)."""
