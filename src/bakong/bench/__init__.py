"""Benchmark harness: each module measures one thing and a baseline in the same run."""
