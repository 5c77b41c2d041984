"""Tests of the gateway's pages in headless Chromium (`harness` says how they run)."""
