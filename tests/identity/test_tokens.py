"""Access tokens: verified once, then recognised until they expire."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from identity import tokens
from identity.errors import AuthError
from identity.tokens import TokenAuthority

DEPT = "11350000003591038H"


def _authority(**kwargs) -> TokenAuthority:
    return TokenAuthority(secret=b"s" * 32, issuer="https://registry.test", **kwargs)


def test_a_verified_token_is_recognised_again_without_a_second_check(monkeypatch):
    authority = _authority()
    token = authority.issue(client_id="c-1", department_code=DEPT, scopes=["exchange:query"])
    first = authority.verify(token)
    monkeypatch.setattr(tokens.jwt, "decode", lambda *a, **k: pytest.fail("verified twice"))
    assert authority.verify(token) == first and first.department_code == DEPT


def test_a_token_differing_in_one_character_is_not_taken_for_a_verified_one():
    authority = _authority()
    token = authority.issue(client_id="c-1", department_code=DEPT, scopes=["exchange:query"])
    authority.verify(token)
    head, payload, signature = token.split(".")
    forged = ".".join((head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]))
    with pytest.raises(AuthError):
        authority.verify(forged)


@pytest.mark.slow  # waits for a token to expire
def test_a_recognised_token_stops_working_when_it_expires():
    authority = _authority(ttl_seconds=600)
    # Issued so that it expires one to two seconds from now (exp is whole seconds).
    issued = datetime.now(UTC) - timedelta(seconds=598)
    token = authority.issue(client_id="c-1", department_code=DEPT, scopes=[], now=issued)
    authority.verify(token)
    time.sleep(2.1)
    with pytest.raises(AuthError, match="expired"):
        authority.verify(token)


def test_the_memory_of_verified_tokens_is_bounded(monkeypatch):
    monkeypatch.setattr(tokens, "VERIFIED_TOKENS_KEPT", 3)
    authority = _authority()
    for n in range(10):
        authority.verify(authority.issue(client_id=f"c-{n}", department_code=DEPT, scopes=[]))
        assert len(authority._verified) <= 3
