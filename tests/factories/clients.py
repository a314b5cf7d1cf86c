"""API clients and their tokens: a department system holding private_key_jwt
keys, the token request it makes, an admin's headers, and the CLI on a
database of its own holding the test catalog."""

from __future__ import annotations

import json
import secrets
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from identity import clients
from identity.client_assertions import ASSERTION_TYPE
from tests.factories.catalog import CITY_SAMR, catalog_mapping
from tests.factories.settings import REGISTRY_ID

TOKEN_URL = REGISTRY_ID + "/api/v1/oauth/token"


def public_pem(private_key) -> str:
    return private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


class Department:
    """A private_key_jwt client and the keys its system holds."""

    def __init__(self, db_session, scopes=("exchange:query", "licence:issue")):
        new = clients.create(session=db_session, department_code=CITY_SAMR, name="signing system",
                             scopes=list(scopes), auth_method="private_key_jwt")
        self.client_id = new.client_id
        self.keys: dict[str, tuple[object, str]] = {}
        self.add(db_session, "es-1", ec.generate_private_key(ec.SECP256R1()), "ES256")
        db_session.commit()

    @classmethod
    def signing_for(cls, client_id: str, keys: dict[str, tuple[object, str]]) -> Department:
        """The signer of an existing client, which holds these keys."""
        signer = cls.__new__(cls)
        signer.client_id, signer.keys = client_id, dict(keys)
        return signer

    def add(self, db_session, kid, private_key, alg):
        clients.add_key(session=db_session, client_id=self.client_id, public_key=public_pem(private_key), kid=kid)
        self.keys[kid] = (private_key, alg)

    def assertion(self, kid="es-1", *, signer=None, alg=None, aud=TOKEN_URL, exp_in=120, iat_in=0, jti=None,
                  iss=None, sub=None, **extra) -> str:
        private_key, key_alg = self.keys.get(kid, (None, "ES256"))
        now = int(time.time())
        claims = {"iss": iss or self.client_id, "sub": sub or self.client_id, "aud": aud, "iat": now + iat_in,
                  "exp": now + exp_in, "jti": jti or secrets.token_urlsafe(16), **extra}
        return jwt.encode(claims, signer or private_key, algorithm=alg or key_alg, headers={"kid": kid})


def token_request(client, assertion, **extra):
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion, **extra}
    return client.post("/api/v1/oauth/token", data=data)


def admin_headers(client, db_session):
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="hub admin", scopes=["catalog:admin"])
    db_session.commit()
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(new.client_id, new.client_secret)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def cli_on_a_loaded_catalog(tmp_path, monkeypatch):
    """The CLI on an embedded database of its own holding the test catalog:
    ``run(*args)`` gives the output of a command that must succeed."""
    from certhub.cli import app as cli

    monkeypatch.setenv("CERTHUB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CERTHUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("CERTHUB_REDIS_URL", raising=False)
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("db", "upgrade")
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(catalog_mapping()), encoding="utf-8")
    run("catalog", "load", str(catalog_file))
    return run
