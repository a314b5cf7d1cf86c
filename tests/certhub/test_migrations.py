"""Migrations that move data: up and down again, with rows in the tables."""

from __future__ import annotations

import os
import secrets

import pytest
from alembic import command
from sqlalchemy import inspect, text

from certhub.db import alembic_config, create_db_engine, upgrade
from signing.keys import generate_private_key
from tests.environment import DATABASE_BACKENDS, POSTGRES_URL, engine_on_schema


@pytest.fixture(params=DATABASE_BACKENDS)
def fresh_engine(request, tmp_path):
    """An empty database of its own (the migrations are what is tested)."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
        yield engine
        engine.dispose()
        return
    schema = f"certhub_migrations_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = engine_on_schema(POSTGRES_URL, schema)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _migrate(engine, verb: str, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)


_PRESENTATION = (
    "INSERT INTO registry_presentations (id, holder_code, holder_code_type, licence_identifiers, disclosure, kid,"
    " issued_at, expires_at{extra}) VALUES (:id, '350102199001011234', '111', '[\"L-1\"]', 'full', 'kid-1',"
    " '2026-01-01 08:00:00+00:00', '2026-01-01 08:01:00+00:00'{extra_value})"
)
_REDEMPTION = (
    "INSERT INTO registry_redemptions (presentation_id, department_code, client_id, operator_id, matter_code,"
    " purpose, request_hash, redeemed_at) VALUES (:id, '11350100MB0000001X', 'client-1', 'clerk-7', 'M-1',"
    " '核验', :hash, '2026-01-01 08:00:30+00:00')"
)


def _columns(engine) -> list[str]:
    return [column["name"] for column in inspect(engine).get_columns("registry_presentations")]


def test_the_redemption_time_lives_in_the_redemption_row_alone(fresh_engine):
    _migrate(fresh_engine, "upgrade", "0012")
    with fresh_engine.begin() as connection:
        for presentation_id in ("redeemed-code", "unused-code"):
            connection.execute(text(_PRESENTATION.format(extra=", redeemed_at", extra_value=", NULL")),
                               {"id": presentation_id})
        connection.execute(text(_REDEMPTION), {"id": "redeemed-code", "hash": "ab" * 32})

    upgrade(fresh_engine)  # the copy goes; the rows and what refers to them stay
    assert "redeemed_at" not in _columns(fresh_engine)
    with fresh_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM registry_presentations")).scalar() == 2
        assert connection.execute(text("SELECT presentation_id FROM registry_redemptions")).scalar() == "redeemed-code"

    _migrate(fresh_engine, "downgrade", "0012")  # and comes back, filled from the redemptions
    with fresh_engine.connect() as connection:
        times = dict(connection.execute(text("SELECT id, redeemed_at FROM registry_presentations")).all())
    assert times["unused-code"] is None
    assert str(times["redeemed-code"]).startswith("2026-01-01 08:00:30")


_STATUS_LIST = (
    "INSERT INTO registry_status_lists (id, size, bits, next_index, data, revision, token, kid, public_key,"
    " private_key_envelope, created_at, updated_at) VALUES (7, 64, 2, 10, :data, 1, 'a.b.c', 'kid-of-list', :spki,"
    " :envelope, '2026-01-01 08:00:00+00:00', '2026-01-01 08:00:00+00:00')"
)


def test_status_lists_move_their_keys_to_the_trust_list_and_keep_their_taken_indices(fresh_engine):
    _migrate(fresh_engine, "upgrade", "0013")
    spki = generate_private_key().public_key.spki_der
    with fresh_engine.begin() as connection:
        connection.execute(text(_STATUS_LIST), {"data": bytes(16), "spki": spki, "envelope": b"\x01secret"})

    _migrate(fresh_engine, "upgrade", "0014")
    columns = [column["name"] for column in inspect(fresh_engine).get_columns("registry_status_lists")]
    assert "private_key_envelope" not in columns and "next_index" not in columns
    with fresh_engine.connect() as connection:
        allocated, allocation = connection.execute(
            text("SELECT allocated, allocation FROM registry_status_lists WHERE id = 7")).one()
        key = connection.execute(text("SELECT kid, purpose, status, public_key, encrypted_private_key, retired_at"
                                      " FROM signing_keys")).one()
    assert allocated == 10 and bytes(allocation) == b"\xff\x03" + bytes(6)  # indices 0..9 were taken
    assert (key.kid, key.purpose, key.status, bytes(key.public_key)) == ("kid-of-list", "status_list", "retired", spki)
    assert key.encrypted_private_key is None and key.retired_at is not None

    _migrate(fresh_engine, "downgrade", "0013")  # sequential allocation resumes after the last index taken
    with fresh_engine.connect() as connection:
        assert connection.execute(text("SELECT next_index FROM registry_status_lists")).scalar() == 10
        assert connection.execute(text("SELECT count(*) FROM signing_keys")).scalar() == 0


_LOG_KEY = ("INSERT INTO auditlog_signing_keys (name, kid, verifier_key, encrypted_seed, created_at)"
            " VALUES ('log.test/authorized-use-log', 'kid-log', 'vkey', :seed, '2026-01-01 08:00:00+00:00')")


def test_keys_in_a_token_keep_a_reference_and_no_envelope(fresh_engine):
    _migrate(fresh_engine, "upgrade", "0015")
    with fresh_engine.begin() as connection:
        connection.execute(text(_LOG_KEY), {"seed": b"\x01envelope"})

    _migrate(fresh_engine, "upgrade", "0017")
    reference = "00" * 16
    with fresh_engine.begin() as connection:  # a token row: the reference, no envelope, no seed
        connection.execute(text(
            "INSERT INTO signing_keys (kid, algorithm, purpose, public_key, token_object, status, created_at)"
            " VALUES ('kid-tok', 'ES256', 'seal', :spki, :ref, 'active', '2026-01-01 08:00:00+00:00')"),
            {"spki": generate_private_key().public_key.spki_der, "ref": reference})
        connection.execute(text("UPDATE auditlog_signing_keys SET encrypted_seed = NULL, token_object = :ref"),
                           {"ref": reference})
        assert connection.execute(text("SELECT encrypted_private_key FROM signing_keys")).scalar() is None

    with pytest.raises(RuntimeError, match="PKCS#11 token"):  # downgrading would orphan the token's keys
        _migrate(fresh_engine, "downgrade", "0016")
    with fresh_engine.begin() as connection:
        connection.execute(text("DELETE FROM signing_keys"))
        connection.execute(text("UPDATE auditlog_signing_keys SET encrypted_seed = :seed, token_object = NULL"),
                           {"seed": b"\x01envelope"})
    _migrate(fresh_engine, "downgrade", "0016")
    assert "token_object" not in [column["name"] for column in inspect(fresh_engine).get_columns("signing_keys")]
    assert "token_object" not in [column["name"] for column in inspect(fresh_engine).get_columns("auditlog_signing_keys")]
