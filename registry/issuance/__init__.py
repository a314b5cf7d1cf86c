"""OpenID for Verifiable Credential Issuance 1.0: licences issued to any wallet (docs/oid4vci.md)."""
