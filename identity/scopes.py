"""The scopes a department's API client may hold."""

from __future__ import annotations

KNOWN_SCOPES: dict[str, str] = {
    "catalog:admin": "Edit the catalog: departments, licence types, data items, matters",
    "licence:issue": "Issue licences of the types the department issues",
    "licence:manage": "Change, suspend, revoke and cancel the department's licences",
    "licence:dispute": "Report a wrong field (纠错) of a licence the department issued, was shown or queried",
    "seal:admin": "Create and manage electronic seals and keys",
    "presentation:redeem": "Redeem holders' 亮证 codes at a counter",
    "presentation:verify": "As a registered relying party, ask holders' wallets for credentials (OpenID4VP) and read what they presented",
    "exchange:query": "Query licences and shared data through the hub",
    "exchange:provide": "Decide on sharing agreements as a provider",
    "usage:read": "Read the department's own use statistics (its own use records, counted), never another's",
    "clients:manage": "Manage the department's own API clients: list them, rotate a secret (shown once), disable one",
    "audit:read": "Read and export the authorized-use log",
    "metrics:read": "Scrape the server's Prometheus metrics (GET /metrics); an operator's monitoring, not a department's",
}


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - KNOWN_SCOPES.keys())
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(KNOWN_SCOPES)}")
    return sorted(set(scopes))
