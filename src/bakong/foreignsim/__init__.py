"""Foreign switch simulators (issue 20; docs/foreign-switches.md): one process per scheme family
(thai, vietnam, malaysia, laos, china) with its own books of merchants, wallets and the link's
nostro, speaking the ISO 20022-shaped protocol of `bakong.crossborder.messages` to the link.

- `families`: the families, their sample merchants and wallets, their schemes' real QR codes.
- `books`: the double-entry store, idempotent on end-to-end ids, recalls, the daily statement.
- `home`: the simulator's home (config, signing key, API secret, books).
- `app`: its signed `/iso/...` API, its own `/sim/...` API and the fault switch.
- `outbound`: a wallet here paying a KHQR through the link.
- `process`: run it as a child process (tests, `bakong demo`), kill it, start it again.
"""
