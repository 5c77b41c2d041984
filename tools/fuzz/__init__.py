"""Fuzzers for the decoders of outside input, one module per decoder, each a click command:
`python -m tools.fuzz tx --count N` and `python -m tools.fuzz qr --count N` from the checkout;
the tests run a short slice of each."""
