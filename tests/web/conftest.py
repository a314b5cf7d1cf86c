"""Fixtures of the web page tests: a live certhub on loopback and Debian's
Chromium driven by Playwright's Python driver (never `playwright install`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.environment import REPO_ROOT
from tests.web.browsing import Browsing
from tests.web.live import LiveCerthub, start_live_certhub

CHROMIUM = Path(os.environ.get("CERTHUB_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "web"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[LiveCerthub]:
    certhub, server = start_live_certhub(tmp_path_factory.mktemp("web-demo"))
    try:
        yield certhub
    finally:
        server.stop()
        if certhub.staff_provider is not None:
            certhub.staff_provider.close()
        if certhub.witness is not None:
            certhub.witness.stop()


# Per module, not per session: Playwright's sync API keeps an asyncio loop running in the
# main thread while it is started, and code a later module calls there (pyHanko's PDF
# signing runs asyncio.run) would find it. Started per module it is gone when the module is.
@pytest.fixture(scope="module")
def browser():
    # CI installs Debian's chromium (.ci/run); a missing browser is a failure, not a skip.
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install -y chromium) "
            "or set CERTHUB_TEST_CHROMIUM; the browser tests need a real browser",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def browsing(browser, live, artifacts):
    session = Browsing(browser, live, artifacts)
    yield session
    session.close()
    assert session.foreign == [], "pages must load nothing from outside certhub"
    assert session.errors == [], "pages logged script errors"
