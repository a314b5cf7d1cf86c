"""End to end with the deployment's keys in a PKCS#11 token (SoftHSM2,
tests/softhsm.py): the app configured by CERTHUB_KEY_TOKEN_* issues a
licence, signs its status list token and publishes a log checkpoint, each
with a key generated in the token that never left it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from certhub.cli import app as cli
from certhub.settings import Settings, SettingsError
from exchange.auditlog import log_origin, publish_checkpoint
from exchange.auditlog.models import LogSigningKey
from identity.errors import AuthError
from identity.tokens import TokenAuthority
from signing.algorithms import Algorithm
from signing.hsm import ACCESS_TOKENS_MAC, KeySecret, Pkcs11Token, TokenConfig, TokenError, parse_object_id, token_of
from signing.models import SigningKey
from signing.sealed import SealSignature, verify_sealed_record
from signing.statuses import KeyPurpose
from signing.statuslist import verify_trusted_status_list_token
from signing.transparency.note import NoteVerifier, open_note
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import (
    REGISTRY_ID,
    build_world,
    business_licence_body,
    citizen_id,
    token_headers,
    trust_store,
)
from tests.factories.settings import app_settings

NEVER_LEFT = {"sensitive": True, "extractable": False, "always_sensitive": True, "never_extractable": True}


@pytest.fixture
def settings(tmp_path, softhsm_config, softhsm_token) -> Settings:
    """The app's settings with the token configured; the PIN from a file, as an operator would mount it.
    The token's MAC keys made first, as `certhub signing init` makes them before a server starts."""
    softhsm_token.ensure_mac_keys()
    pin_file = tmp_path / "token.pin"
    pin_file.write_text(softhsm_config.pin + "\n")
    return app_settings(tmp_path, key_token_module=softhsm_config.module_path,
                        key_token_label=softhsm_config.token_label, key_token_pin_file=pin_file)


def _row_for(db_session, kid: str) -> SigningKey:
    [row] = db_session.scalars(select(SigningKey).where(SigningKey.kid == kid)).all()
    return row


def test_settings_choose_the_token_driver(settings, softhsm_token):
    secret = settings.secret_bytes()
    assert isinstance(secret, KeySecret) and token_of(secret) is softhsm_token
    assert "314159" not in repr(secret) and "314159" not in repr(softhsm_token.config)
    assert token_of(app_settings(settings.data_dir).secret_bytes()) is None  # the embedded default: software


def test_half_a_token_configuration_is_refused(tmp_path, softhsm_config):
    with pytest.raises(ValueError, match="CERTHUB_KEY_TOKEN_LABEL"):
        app_settings(tmp_path, key_token_module=softhsm_config.module_path, key_token_pin="1")
    with pytest.raises(ValueError, match="CERTHUB_KEY_TOKEN_MODULE"):
        app_settings(tmp_path, key_token_label="x", key_token_pin="1")
    with pytest.raises(SettingsError, match="PIN_FILE"):
        app_settings(tmp_path, key_token_module=softhsm_config.module_path, key_token_label="x",
                     key_token_pin_file=tmp_path / "missing").secret_bytes()


def test_licence_status_list_and_checkpoint_signed_by_keys_that_never_left_the_token(
    client, db_session, settings, softhsm_token
):
    key_secret = settings.secret_bytes()
    anchors, _seal = build_world(db_session, key_secret=key_secret)
    city = token_headers(client, db_session, CITY_SAMR)

    # The access token was MACed in the token: the key derived from the secret (the software default) refuses it.
    access_token = city["Authorization"].split()[1]
    with pytest.raises(AuthError):
        TokenAuthority(secret=key_secret, issuer=REGISTRY_ID).verify(access_token)
    assert softhsm_token.mac_key(ACCESS_TOKENS_MAC).protection() == {"sensitive": True, "extractable": False}

    # A licence issued through the API, sealed by the city's seal key.
    response = client.post("/api/v1/licences", json=business_licence_body(), headers=city)
    assert response.status_code == 201, response.text
    issued = response.json()
    trust = trust_store(client, anchors)
    signature = SealSignature.from_dict(issued["seal_signature"])
    assert verify_sealed_record(record=issued["record"], signature=signature, trust=trust) == issued["record"]
    seal_row = _row_for(db_session, signature.kid)

    # Its status list token, signed by the registry's status-list key.
    list_uri = issued["status_list"]["uri"]
    served = client.get(f"/api/v1/status-lists/{list_uri.rsplit('/', 1)[1]}").text
    status_token = verify_trusted_status_list_token(served, trust_store=trust, subject=list_uri)
    status_row = _row_for(db_session, status_token.kid)
    assert status_row.purpose == KeyPurpose.STATUS_LIST

    # The trust list itself, signed by the trust root (the store above pinned it and checked it).
    [root_row] = db_session.scalars(select(SigningKey).where(SigningKey.purpose == str(KeyPurpose.TRUST_ROOT))).all()

    # A checkpoint of the authorized-use log, signed by the log's Ed25519 key.
    origin = log_origin(REGISTRY_ID)
    published = publish_checkpoint(session=db_session, key_secret=key_secret, origin=origin)
    log_row = db_session.scalars(select(LogSigningKey).where(LogSigningKey.name == origin)).one()
    assert open_note(published.note, verifiers=[NoteVerifier.from_key_string(log_row.verifier_key)])

    for row in (seal_row, status_row, root_row):
        assert row.algorithm in (Algorithm.ES256, Algorithm.EDDSA)
        assert row.encrypted_private_key is None and row.token_object is not None
        assert softhsm_token.protection(parse_object_id(row.token_object)) == NEVER_LEFT
    assert log_row.encrypted_seed is None and log_row.token_object is not None
    assert softhsm_token.protection(parse_object_id(log_row.token_object)) == NEVER_LEFT

    # SM2 has no PKCS#11 mechanism: the seal maker's key is the one kept in software, by design.
    [maker_row] = db_session.scalars(select(SigningKey).where(SigningKey.purpose == str(KeyPurpose.SEAL_MAKER))).all()
    assert maker_row.algorithm == Algorithm.SM2 and maker_row.token_object is None


@pytest.mark.slow  # a database of its own, migrated first
def test_the_command_line_makes_and_lists_keys_in_the_token(tmp_path, monkeypatch, softhsm_config):
    for name, value in {"DATA_DIR": str(tmp_path), "SECRET_KEY": "cli-token-secret-" + "z" * 40,
                        "KEY_TOKEN_MODULE": softhsm_config.module_path, "KEY_TOKEN_LABEL": softhsm_config.token_label,
                        "KEY_TOKEN_PIN": softhsm_config.pin}.items():
        monkeypatch.setenv(f"CERTHUB_{name}", value)
    monkeypatch.delenv("CERTHUB_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    assert runner.invoke(cli, ["signing", "init"], catch_exceptions=False).exit_code == 0
    listing = runner.invoke(cli, ["signing", "keys"], catch_exceptions=False)
    assert listing.exit_code == 0, listing.output
    lines = listing.output.strip().splitlines()
    [root] = [line for line in lines if "trust_root" in line]
    [maker] = [line for line in lines if "seal_maker" in line]
    assert "ES256" in root and " token " in root and maker.endswith("software")
    assert softhsm_config.pin not in listing.output


def test_access_and_holder_tokens_are_maced_in_the_token(softhsm_token):
    """HS256 with the key in the token: the same JWS a software key makes, verified only through the token."""
    from identity.holder_auth import HolderAuthority

    softhsm_token.ensure_mac_keys()
    authority = TokenAuthority(secret=b"s" * 32, issuer=REGISTRY_ID, authenticator=softhsm_token.mac_key(ACCESS_TOKENS_MAC))
    token = authority.issue(client_id="c1", department_code=CITY_SAMR, scopes=["licence:issue"])
    assert authority.verify(token).client_id == "c1"
    header, payload, mac = token.split(".")
    forged = ".".join([header, payload, ("A" if mac[0] != "A" else "B") + mac[1:]])
    with pytest.raises(AuthError):
        authority.verify(forged)
    with pytest.raises(AuthError):  # the software key of the same secret is another key
        TokenAuthority(secret=b"s" * 32, issuer=REGISTRY_ID).verify(token)

    holders = HolderAuthority(secret=b"s" * 32, issuer=REGISTRY_ID,
                              authenticator=softhsm_token.mac_key("certhub holder sessions v1"))
    principal = holders.new_principal(holder_code=citizen_id(), holder_code_type="111",
                                      name="张三", auth_method="dev")
    session_token = holders.issue(principal=principal)
    assert holders.verify(session_token).session_id == principal.session_id
    with pytest.raises(AuthError):  # a holder session is no access token, whichever key made it
        authority.verify(session_token)


@pytest.mark.parametrize(("label", "pin"), [("certhub-tests", "000000"), ("no-such-token", "314159")])
def test_a_wrong_pin_or_label_stops_the_start_not_the_first_signature(softhsm_config, label, pin):
    token = Pkcs11Token(TokenConfig(module_path=softhsm_config.module_path, token_label=label, pin=pin))
    with pytest.raises(TokenError) as refused:
        token.ensure_open()  # what build_root calls before anything is served
    assert pin not in str(refused.value)
