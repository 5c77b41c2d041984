"""Cross-border QR payments (issue 20): Cambodians paying foreign merchants' QR codes and
visitors paying KHQR, through a link participant that speaks to foreign switches.

- `messages`: the ISO 20022-shaped JSON messages (pacs.008, pacs.002, camt.056, camt.029, the
  lookup and the daily statement) both sides exchange, and the Ed25519 body signatures.
- The link service (`bakong link`) lives beside it; the foreign switch simulators it talks to
  in tests and the demo are `bakong.foreignsim` (docs/foreign-switches.md).
"""
