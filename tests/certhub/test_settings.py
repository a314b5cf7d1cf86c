import pytest

from certhub.settings import DEMO_SECRET, Settings, SettingsError


def test_defaults_are_embedded(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{(tmp_path / 'certhub.sqlite3').resolve()}"
    assert settings.redis_url is None


def test_environment_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("CERTHUB_DATABASE_URL", "postgresql://db.example/certhub")
    monkeypatch.setenv("CERTHUB_REDIS_URL", "redis://cache.example:6379/0")
    monkeypatch.setenv("CERTHUB_DEMO", "true")
    settings = Settings()
    assert settings.effective_database_url == "postgresql://db.example/certhub"
    assert settings.redis_url == "redis://cache.example:6379/0"
    assert settings.demo


@pytest.mark.parametrize("secret", ["", "changeme", DEMO_SECRET, "short-but-not-placeholder"])
def test_production_refuses_missing_placeholder_or_short_secrets(secret):
    with pytest.raises(SettingsError, match="CERTHUB_SECRET_KEY"):
        Settings(secret_key=secret).require_usable_secret()


def test_a_real_secret_is_accepted():
    Settings(secret_key="k" * 48).require_usable_secret()


def test_demo_mode_runs_without_a_secret():
    settings = Settings(demo=True)
    settings.require_usable_secret()
    assert settings.secret_bytes() == DEMO_SECRET.encode()


def test_secret_is_not_shown_in_repr():
    assert "super-secret-value" not in repr(Settings(secret_key="super-secret-value" * 3))


def test_the_apps_sqlite_engine_takes_the_write_lock_when_a_transaction_begins(tmp_path):
    # Request handlers read, then write (a use record): on SQLite a deferred
    # transaction would fail with "database is locked" if another connection
    # committed in between, so the app's engine begins IMMEDIATE; jobs don't.
    import sqlite3

    from sqlalchemy import text

    from certhub.db import create_db_engine

    path = tmp_path / "lock.sqlite3"
    for serve_requests, locks in ((True, True), (False, False)):
        engine = create_db_engine(f"sqlite:///{path}", serve_requests=serve_requests)
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                if locks:
                    with pytest.raises(sqlite3.OperationalError, match="locked"):
                        other.execute("BEGIN IMMEDIATE")
                else:
                    other.execute("BEGIN IMMEDIATE")
                    other.execute("ROLLBACK")
        finally:
            other.close()
            engine.dispose()


def test_read_replicas_are_a_comma_separated_list_of_postgresql_standbys(monkeypatch, tmp_path):
    monkeypatch.setenv("CERTHUB_DATABASE_URL", "postgresql://db.example/certhub")
    monkeypatch.setenv("CERTHUB_DATABASE_REPLICA_URLS",
                       "postgresql://standby-1.example/certhub, postgresql://standby-2.example/certhub")
    monkeypatch.setenv("CERTHUB_DATABASE_REPLICA_MAX_LAG_SECONDS", "2.5")
    settings = Settings(data_dir=tmp_path)
    assert settings.database_replica_urls == ["postgresql://standby-1.example/certhub",
                                              "postgresql://standby-2.example/certhub"]
    assert settings.database_replica_max_lag_seconds == 2.5


@pytest.mark.parametrize(("overrides", "message"), [
    ({"database_replica_urls": "postgresql://standby.example/certhub"}, "needs CERTHUB_DATABASE_URL to be PostgreSQL"),
    ({"database_url": "postgresql://db.example/c", "database_replica_urls": "sqlite:///x.db"}, "each a postgresql"),
    ({"database_url": "postgresql://db.example/c", "database_replica_urls": "postgresql://db.example/c"}, "not the primary"),
    ({"database_url": "postgresql://db.example/c", "database_replica_urls": "postgresql://s.example/c",
      "database_replica_check_seconds": 5, "database_replica_max_lag_seconds": 5}, "must be below"),
])
def test_read_replica_settings_that_cannot_work_are_refused(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        Settings(data_dir=tmp_path, **overrides)


@pytest.mark.parametrize("url", ["redis://cache.example:6379/0", "redis+cluster://r1.example:6379,r2.example:6379",
                                 "redis+sentinel://s1.example:26379/certhub-cache/0"])
def test_the_redis_url_names_one_server_a_cluster_or_a_sentinel(tmp_path, url):
    assert Settings(data_dir=tmp_path, redis_url=url).redis_url == url


def test_an_unknown_redis_scheme_is_refused(tmp_path):
    with pytest.raises(ValueError, match="redis\\+cluster://"):
        Settings(data_dir=tmp_path, redis_url="memcached://cache.example:11211")
