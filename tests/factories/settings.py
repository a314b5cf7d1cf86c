"""The application settings every test app runs with."""

from __future__ import annotations

from pathlib import Path

from certhub.settings import Settings

TEST_SECRET = "test-secret-" + "x" * 40
REGISTRY_ID = "https://registry.test"


def app_settings(data_dir: Path, **overrides) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=data_dir, registry_id=REGISTRY_ID, **overrides)
