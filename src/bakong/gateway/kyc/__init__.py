"""Onboarding by ID card and selfie (issue 18): a customer's photos of both sides of their
national ID card and selfie frames are read (`ocr`, `mrz`), matched (`faces`) and checked for
liveness (`liveness`); `pipeline` decides: the partial KYC tier at once, or a bank officer's
review. The images and what was read from them stay in the gateway's store, sealed (`store`);
the routes are in `api`. docs/kyc.md describes it all.
"""
