"""Access tokens already issued stop counting when their credentials are
withdrawn: a revoked signing key, a disabled client, a secret erased by the
move to private_key_jwt; in this process at once, in others by message or
poll."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from catalog.service import document
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from identity import clients, token_revocations
from identity.errors import AuthError
from identity.token_revocations import WithdrawalWatch, Withdrawn, WithdrawnCredentials, load, refusal
from identity.tokens import TokenAuthority
from storage.base import utcnow
from storage.cache import InProcessCache, RedisCache
from tests.environment import CACHE_BACKENDS, REDIS_URL
from tests.factories.catalog import CITY_SAMR, catalog_mapping
from tests.factories.clients import Department, admin_headers, cli_on_a_loaded_catalog, public_pem, token_request

AGREEMENTS = "/api/v1/exchange/agreements"


def _bearer(response) -> dict:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _secret_token(client, db_session) -> tuple[str, dict]:
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="secret system",
                         scopes=["exchange:query"])
    db_session.commit()
    response = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(new.client_id, new.client_secret))
    return new.client_id, _bearer(response)


def _refused(response, why: str) -> None:
    assert response.status_code == 401, response.text
    assert why in response.json()["message"], response.json()


# -- in the process that withdrew them: at once ---------------------------------

@pytest.mark.slow
def test_revoking_a_key_ends_the_tokens_issued_for_it_and_no_others(client, db_session, dept):
    dept.add(db_session, "es-2", ec.generate_private_key(ec.SECP256R1()), "ES256")
    db_session.commit()
    first = _bearer(token_request(client, dept.assertion("es-1")))
    second = _bearer(token_request(client, dept.assertion("es-2")))
    assert client.get(AGREEMENTS, headers=first).status_code == 200

    clients.revoke_key(session=db_session, client_id=dept.client_id, kid="es-1", reason="laptop stolen")
    db_session.commit()

    _refused(client.get(AGREEMENTS, headers=first), "the signing key was revoked")
    assert client.get(AGREEMENTS, headers=second).status_code == 200


@pytest.mark.slow
def test_a_revocation_rolled_back_ends_nothing(client, db_session, dept):
    token = _bearer(token_request(client, dept.assertion()))
    clients.revoke_key(session=db_session, client_id=dept.client_id, kid="es-1", reason="wrong key")
    db_session.flush()
    db_session.rollback()
    # The session's next commit carries no trace of the revocation undone.
    clients.create(session=db_session, department_code=CITY_SAMR, name="another system", scopes=[])
    db_session.commit()
    assert client.get(AGREEMENTS, headers=token).status_code == 200


@pytest.mark.slow
def test_disabling_a_client_through_the_api_ends_its_tokens(client, db_session, dept):
    admin = admin_headers(client, db_session)
    token = _bearer(token_request(client, dept.assertion()))
    disabled = client.post(f"/api/v1/oauth/clients/{dept.client_id}/disable", headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json() == {"client_id": dept.client_id, "active": False}

    _refused(client.get(AGREEMENTS, headers=token), "the client is disabled")
    assert token_request(client, dept.assertion()).status_code == 401  # and it gets no new one
    assert client.get(AGREEMENTS, headers=admin).status_code == 200  # other clients go on
    assert client.post("/api/v1/oauth/clients/no-such-client/disable", headers=admin).status_code == 404


@pytest.mark.slow
def test_disabling_needs_the_admin_scope(client, db_session, dept):
    token = _bearer(token_request(client, dept.assertion()))
    assert client.post(f"/api/v1/oauth/clients/{dept.client_id}/disable", headers=token).status_code == 403
    assert client.get(AGREEMENTS, headers=token).status_code == 200


@pytest.mark.slow
def test_moving_to_private_key_jwt_ends_the_secrets_tokens_not_the_assertions(client, db_session):
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    client_id, secret_token = _secret_token(client, db_session)
    clients.add_key(session=db_session, client_id=client_id, kid="k1",
                    public_key=public_pem(key := ec.generate_private_key(ec.SECP256R1())))
    clients.use_private_key_jwt(session=db_session, client_id=client_id)
    db_session.commit()

    _refused(client.get(AGREEMENTS, headers=secret_token), "the client's secret was withdrawn")
    signer = Department.signing_for(client_id, {"k1": (key, "ES256")})
    assert client.get(AGREEMENTS, headers=_bearer(token_request(client, signer.assertion("k1")))).status_code == 200


def test_only_a_withdrawal_is_told_to_the_other_processes(client, db_session, dept, migrated_engine):
    told = []
    stop_telling = token_revocations.withdrawn_for(migrated_engine).add_announcer(lambda: told.append(True))
    try:
        for _ in range(2):  # each token writes the client and its key (last_used_at)
            _bearer(token_request(client, dept.assertion()))
        assert told == []
        clients.revoke_key(session=db_session, client_id=dept.client_id, kid="es-1", reason="exposed")
        db_session.commit()
        assert told == [True]
    finally:
        stop_telling()


def test_a_token_that_names_its_key_says_which(app, client, dept):
    token = token_request(client, dept.assertion()).json()["access_token"]
    assert app.state.services.find(TokenAuthority).verify(token).key_id == "es-1"


# -- the rules, and the list itself --------------------------------------------

def test_what_each_withdrawal_ends():
    withdrawn = Withdrawn(disabled_clients=frozenset({"off"}), key_only_clients=frozenset({"signs"}),
                          revoked_keys=frozenset({("signs", "old")}))
    assert refusal(withdrawn, client_id="off", key_id="any") == "the client is disabled"
    assert refusal(withdrawn, client_id="off", key_id=None) == "the client is disabled"
    assert refusal(withdrawn, client_id="signs", key_id=None) == "the client's secret was withdrawn"
    assert refusal(withdrawn, client_id="signs", key_id="old") == "the signing key was revoked"
    assert refusal(withdrawn, client_id="signs", key_id="new") is None
    assert refusal(withdrawn, client_id="other", key_id="old") is None  # a kid is the client's own
    assert refusal(withdrawn, client_id="other", key_id=None) is None


def test_a_note_outlives_a_read_that_began_before_it_then_gives_way_to_the_database():
    now = [100.0]
    credentials = WithdrawnCredentials(clock=lambda: now[0])
    credentials.note(Withdrawn(disabled_clients=frozenset({"c1"})), keep_seconds=60)
    credentials.replace(Withdrawn())  # a read that did not see the commit yet
    assert credentials.refusal(client_id="c1", key_id=None) == "the client is disabled"
    now[0] += 61
    credentials.replace(Withdrawn(revoked_keys=frozenset({("c2", "k")})))
    assert credentials.refusal(client_id="c1", key_id=None) is None
    assert credentials.refusal(client_id="c2", key_id="k") == "the signing key was revoked"


def test_verification_consults_the_list_even_for_a_token_verified_before():
    credentials = WithdrawnCredentials()
    authority = TokenAuthority(secret=b"s" * 32, issuer="https://registry.test", revocations=credentials)
    token = authority.issue(client_id="c1", department_code=CITY_SAMR, scopes=["exchange:query"], key_id="k1")
    assert authority.verify(token).key_id == "k1"
    credentials.note(Withdrawn(revoked_keys=frozenset({("c1", "k1")})), keep_seconds=60)
    with pytest.raises(AuthError, match="no longer valid: the signing key was revoked"):
        authority.verify(token)


def test_a_token_with_a_malformed_key_claim_is_refused():
    authority = TokenAuthority(secret=b"s" * 32, issuer="https://registry.test")
    token = authority.issue(client_id="c1", department_code=CITY_SAMR, scopes=[], key_id="x" * 65)
    with pytest.raises(AuthError, match="access token invalid"):
        authority.verify(token)


def test_an_announcer_that_fails_does_not_undo_the_commit(caplog):
    credentials = WithdrawnCredentials()

    def broken() -> None:
        raise ConnectionError("redis down")

    credentials.add_announcer(broken)
    credentials.announce()
    assert "could not announce withdrawn client credentials: ConnectionError" in caplog.text


# -- other processes: read from the database, woken by a message -------------

@pytest.fixture
def own_database(tmp_path):
    """A database of this test's own: what is committed here is what another
    process would have committed (the shared test engine never commits)."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'own.sqlite3'}")
    upgrade(engine)
    sessions = create_sessionmaker(engine)
    with sessions() as session:
        document.load(session=session, document=document.parse_mapping(catalog_mapping()))
        session.commit()
    yield engine, sessions
    engine.dispose()


def _withdraw_everything(sessions) -> tuple[str, str, str]:
    """A disabled client, a key-only client with a revoked key, and a key
    revoked too long ago to matter."""
    with sessions() as session:
        off = clients.create(session=session, department_code=CITY_SAMR, name="off", scopes=[]).client_id
        signs = clients.create(session=session, department_code=CITY_SAMR, name="signs", scopes=[],
                               auth_method="private_key_jwt").client_id
        for kid in ("old", "ancient", "live"):
            clients.add_key(session=session, client_id=signs, kid=kid,
                            public_key=public_pem(ec.generate_private_key(ec.SECP256R1())))
        clients.deactivate(session=session, client_id=off)
        clients.revoke_key(session=session, client_id=signs, kid="old", reason="exposed")
        ancient = clients.revoke_key(session=session, client_id=signs, kid="ancient", reason="exposed")
        ancient.revoked_at = utcnow() - timedelta(seconds=600) - timedelta(minutes=6)
        session.commit()
    return off, signs, "old"


def test_the_database_says_what_is_withdrawn_within_a_tokens_lifetime(own_database):
    _, sessions = own_database
    off, signs, old = _withdraw_everything(sessions)
    with sessions() as session:
        withdrawn = load(session=session, token_ttl_seconds=600)
    assert withdrawn.disabled_clients == {off}
    assert withdrawn.key_only_clients == {signs}
    assert withdrawn.revoked_keys == {(signs, old)}  # not "ancient": no token of it is alive


@pytest.mark.parametrize("backend", CACHE_BACKENDS)
def test_another_processs_withdrawal_counts_once_its_message_arrives(own_database, backend):
    engine, sessions = own_database
    # This process's list, fed only by the watch: nothing is noted here.
    credentials = WithdrawnCredentials()
    watch = WithdrawalWatch(sessions, credentials, token_ttl_seconds=600, poll_seconds=300)
    watch.refresh()
    assert not credentials.current
    prefix = f"certhub-test:{time.time_ns()}:"
    ours = InProcessCache() if backend == "memory" else RedisCache(REDIS_URL, prefix=prefix)
    theirs = ours if backend == "memory" else RedisCache(REDIS_URL, prefix=prefix)
    stop = threading.Event()
    ours.subscribe(watch.wake)
    thread = threading.Thread(target=watch.run, args=(stop,), daemon=True)
    thread.start()
    try:
        off, signs, old = _withdraw_everything(sessions)
        theirs.publish(token_revocations.TOPIC, "")
        assert _eventually(lambda: credentials.refusal(client_id=off, key_id=None) is not None)
        assert credentials.refusal(client_id=signs, key_id=old) == "the signing key was revoked"
        assert credentials.refusal(client_id=signs, key_id="live") is None
    finally:
        stop.set()
        watch.wake()
        thread.join(timeout=10)
        ours.close()
        if theirs is not ours:
            theirs.close()
    assert not thread.is_alive()


def test_without_a_message_the_poll_reads_the_list(own_database):
    _, sessions = own_database
    credentials = WithdrawnCredentials()
    watch = WithdrawalWatch(sessions, credentials, token_ttl_seconds=600, poll_seconds=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=watch.run, args=(stop,), daemon=True)
    thread.start()
    try:
        off, _, _ = _withdraw_everything(sessions)
        assert _eventually(lambda: credentials.refusal(client_id=off, key_id=None) is not None)
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_failed_read_keeps_the_last_list_and_says_so_once(caplog):
    credentials = WithdrawnCredentials()
    credentials.replace(Withdrawn(disabled_clients=frozenset({"off"})))
    attempts = []

    def unavailable():
        attempts.append(1)
        raise ConnectionRefusedError("database down")

    watch = WithdrawalWatch(unavailable, credentials, token_ttl_seconds=600, poll_seconds=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=watch.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert _eventually(lambda: len(attempts) >= 3)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert credentials.refusal(client_id="off", key_id=None) == "the client is disabled"
    assert caplog.text.count("could not read withdrawn client credentials: ConnectionRefusedError") == 1


def test_the_app_reads_the_list_before_its_first_request(settings, own_database):
    from fastapi.testclient import TestClient

    from certhub.app import create_app

    engine, sessions = own_database
    off, _, _ = _withdraw_everything(sessions)
    # A server started after the change: an engine of its own, on which
    # nothing was noted, so only reading the database can tell it.
    server_engine = create_db_engine(engine.url.render_as_string(hide_password=False))
    try:
        application = create_app(settings, engine=server_engine, cache=InProcessCache())
        assert not token_revocations.withdrawn_for(server_engine).current
        token = application.state.services.find(TokenAuthority).issue(client_id=off, department_code=CITY_SAMR, scopes=[])
        with TestClient(application) as test_client:
            _refused(test_client.get(AGREEMENTS, headers={"Authorization": f"Bearer {token}"}),
                     "the client is disabled")
    finally:
        server_engine.dispose()


def _eventually(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


# -- the CLI -------------------------------------------------------------------

def test_cli_disables_a_client_and_says_when_its_tokens_stop(tmp_path, monkeypatch):
    from certhub.cli import app as cli

    run = cli_on_a_loaded_catalog(tmp_path, monkeypatch)
    client_id = run("clients", "create", "-d", CITY_SAMR, "-n", "system", "-s", "exchange:query") \
        .split("client_id:", 1)[1].split()[0]
    said = run("clients", "disable", client_id)
    assert said.strip() == (f"{client_id} is disabled; the access tokens already issued stop counting "
                            "within 5 s (the servers' poll)")
    assert f"{client_id}\t{CITY_SAMR}\tdisabled\t" in run("clients", "list")
    missing = CliRunner().invoke(cli, ["clients", "disable", "no-such-client"])
    assert missing.exit_code == 1 and "no-such-client" in missing.output


def test_cli_says_when_it_could_not_tell_the_servers(tmp_path, monkeypatch):
    run = cli_on_a_loaded_catalog(tmp_path, monkeypatch)
    client_id = run("clients", "create", "-d", CITY_SAMR, "-n", "system", "-s", "exchange:query") \
        .split("client_id:", 1)[1].split()[0]
    monkeypatch.setenv("CERTHUB_REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    said = run("clients", "disable", client_id)
    assert said.strip() == (f"{client_id} is disabled; the servers could not be told (ConnectionError): "
                            "the access tokens already issued stop counting within 5 s")
    assert f"{client_id}\t{CITY_SAMR}\tdisabled\t" in run("clients", "list")  # the change stands


@pytest.mark.skipif(REDIS_URL is None, reason="needs CERTHUB_TEST_REDIS_URL (Redis); CI sets it")
def test_cli_tells_the_servers_through_redis(tmp_path, monkeypatch):
    run = cli_on_a_loaded_catalog(tmp_path, monkeypatch)
    client_id = run("clients", "create", "-d", CITY_SAMR, "-n", "system", "-s", "exchange:query") \
        .split("client_id:", 1)[1].split()[0]
    monkeypatch.setenv("CERTHUB_REDIS_URL", REDIS_URL)
    server = RedisCache(REDIS_URL)  # a server's cache: the same channel as the CLI's
    heard = threading.Event()
    server.subscribe(lambda topic, message: topic == token_revocations.TOPIC and heard.set())
    try:  # (subscribe sends SUBSCRIBE before it returns)
        said = run("clients", "disable", client_id)
        assert said.strip() == f"{client_id} is disabled; the access tokens already issued stop counting now"
        assert heard.wait(10)
    finally:
        server.close()
