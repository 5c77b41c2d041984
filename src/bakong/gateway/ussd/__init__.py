"""The USSD service of a participant gateway: feature phones reach their wallets by dialling.

    menu        the pure menu state machine (screens in English and Khmer, within their limits)
    texts       what the screens and the SMS receipts say, and how long each may be
    adapters    the aggregators' callback shapes, parsed and answered (the seam for others)
    actions     what the menus ask done, through the gateway's services (PINs, payments, ...)
    service     the I/O edge: routes, aggregator authentication, sessions, SMS receipts
    config      the `[ussd]` table of the gateway's config.toml
    profiles    a phone's USSD profile (its language), under a keyed hash of the number

Cash-out requests live in `bakong.gateway.approvals`, shared with the app. `docs/ussd.md`
describes the menus, the seam, the security rules and the limits.
"""
