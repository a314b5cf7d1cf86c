"""certhub as an OpenID4VP 1.0 verifier for registered relying parties (docs/oid4vp.md).

A relying party asks, in DCQL, for exactly the claims it needs; certhub makes the
authorization request (by reference, for a QR or an `openid4vp://` link), receives the
wallet's `vp_token` at its response endpoint (direct_post), verifies each SD-JWT VC
presentation with the offline library (signing/sdjwt), logs the use, and hands the relying
party the disclosed claims, once.
"""
