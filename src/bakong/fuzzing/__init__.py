"""Fuzzers for the decoders of outside input: one module per decoder, each a click command."""
