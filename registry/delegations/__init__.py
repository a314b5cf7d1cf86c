"""Delegations over HTTP: a holder lets another party present a licence."""
