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
