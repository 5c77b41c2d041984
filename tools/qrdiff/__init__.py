"""Differential testing of `bakong.khqr` against the official KHQR SDK running under Node.

`oracle` runs npm `bakong-khqr@1.0.20` in one Node process that answers JSON lines; `cases`
makes seeded inputs (generated codes and mutations of them); `compare` states what agreement
means, including the few documented places where the SDK has no usable answer. `python -m
tools.qrdiff --count N --seed S` runs a long one from the checkout.
"""
