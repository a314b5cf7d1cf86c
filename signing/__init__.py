"""Electronic seals, keys, sealed records, QR codes, trust and status lists.

A standalone library: it imports nothing else of certhub, so an offline
verifier can depend on it alone.
"""
