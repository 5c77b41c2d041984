"""Tests of the participant gateway (bakong.gateway)."""
