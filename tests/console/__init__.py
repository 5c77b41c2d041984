"""Tests of the central bank's console (bakong.console)."""
