"""Tests for bakong.consensus, mirroring its modules."""
