"""Fixtures of the web page tests: a live certhub on loopback and Debian's
Chromium driven by Playwright's Python driver (never `playwright install`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters import loopback
from tests.environment import REPO_ROOT
from tests.web.browsing import Browsing
from tests.web.live import LiveCerthub, start_live_certhub

CHROMIUM = Path(os.environ.get("CERTHUB_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# The Chinese font a phone may have: WenQuanYi Micro Hei, Debian's fonts-wqy-microhei (.ci/run installs it).
CJK_FONT = Path(os.environ.get("CERTHUB_TEST_CJK_FONT") or "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
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
        if certhub.push_service is not None:
            loopback.stop(certhub.push_service)


def _fonts_folder(folder: Path, *, with_cjk: bool) -> dict[str, str]:
    """The environment that shows Chromium only the fonts we choose: this
    machine's fonts less any Chinese one, plus, for a phone that has one,
    WenQuanYi Micro Hei. The pages are then tested on a known font set,
    whatever else the machine happens to have installed."""
    listed = subprocess.run(["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, check=True)
    chinese = subprocess.run(["fc-list", ":lang=zh", "--format", "%{file}\n"], capture_output=True, text=True,
                             check=True)
    fonts = set(listed.stdout.splitlines()) - set(chinese.stdout.splitlines())
    if with_cjk:
        if not CJK_FONT.is_file():
            pytest.fail(f"no Chinese font at {CJK_FONT}: install Debian's fonts-wqy-microhei or set "
                        "CERTHUB_TEST_CJK_FONT; the page-weight test needs a phone that has one", pytrace=False)
        fonts.add(str(CJK_FONT))
    (folder / "fonts").mkdir(parents=True)
    for number, font in enumerate(sorted(fonts)):
        (folder / "fonts" / f"{number}-{Path(font).name}").symlink_to(font)
    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{folder / 'fonts'}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n"
        '  <include ignore_missing="yes">/etc/fonts/conf.d</include>\n</fontconfig>\n', encoding="utf-8")
    env = {**os.environ, "FONTCONFIG_FILE": str(config)}
    # Chromium's processes would each scan the folder again without a cache; build it once here.
    subprocess.run(["fc-cache", str(folder / "fonts")], env=env, capture_output=True, check=True)
    return env


# Per module, not per session: Playwright's sync API keeps an asyncio loop running in the
# main thread while it is started, and code a later module calls there (pyHanko's PDF
# signing runs asyncio.run) would find it. Started per module it is gone when the module is.
@pytest.fixture(scope="module")
def playwright():
    # CI installs Debian's chromium (.ci/run); a missing browser is a failure, not a skip.
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's package (apt-get install -y chromium) "
            "or set CERTHUB_TEST_CHROMIUM; the browser tests need a real browser",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright, tmp_path_factory):
    """Chromium on a machine with no Chinese font (a fresh PC): the pages must bring their own."""
    env = _fonts_folder(tmp_path_factory.mktemp("fonts-without-cjk"), with_cjk=False)
    instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=env)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture(scope="module")
def browser_with_cjk_font(playwright, tmp_path_factory):
    """Chromium on a device that has a Chinese font of its own (most phones)."""
    env = _fonts_folder(tmp_path_factory.mktemp("fonts-with-cjk"), with_cjk=True)
    instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=env)
    try:
        yield instance
    finally:
        instance.close()


def _browse(browser, live, artifacts) -> Iterator[Browsing]:
    session = Browsing(browser, live, artifacts)
    yield session
    session.close()
    assert session.foreign == [], "pages must load nothing from outside certhub"
    assert session.errors == [], "pages logged script errors"


@pytest.fixture
def browsing(browser, live, artifacts):
    yield from _browse(browser, live, artifacts)


@pytest.fixture
def browsing_with_cjk_font(browser_with_cjk_font, live, artifacts):
    yield from _browse(browser_with_cjk_font, live, artifacts)
