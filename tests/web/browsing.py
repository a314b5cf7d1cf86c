"""Pages of one Chromium for the browser tests, watched for script errors and
for any request that leaves the certhub server (a helper module: the
`browsing` fixture in conftest.py hands it to every browser test module)."""

from __future__ import annotations

from pathlib import Path

from tests.web.live import LiveCerthub

PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 860}


class Browsing:
    """Pages of one browser, each in its own context, watched for script
    errors and for any request that leaves the certhub server."""

    def __init__(self, browser, live: LiveCerthub, artifacts: Path) -> None:
        self.browser = browser
        self.live = live
        self.artifacts = artifacts
        self.errors: list[str] = []
        self.foreign: list[str] = []
        self.contexts = []
        self.allowed = [live.base_url + "/", "data:", "blob:"]

    def allow(self, origin: str) -> None:
        """Let the pages reach another server too (the identity provider a sign-in goes through)."""
        self.allowed.append(origin.rstrip("/") + "/")

    def page(self, viewport: dict, *, mobile: bool = False, locale: str = "zh-CN"):
        """A page in a context of its own; ``locale`` is the browser's language (its Accept-Language)."""
        context = self.browser.new_context(viewport=viewport, locale=locale, is_mobile=mobile, has_touch=mobile,
                                           device_scale_factor=1)
        self.contexts.append(context)
        context.route("**/*", self._guard)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: self._console(page, message))
        return page

    def _console(self, page, message) -> None:
        # Chromium logs every non-2xx fetch ("Failed to load resource"); refusals
        # such as 409 replayed are answers the pages show, not script errors.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"{page.url}: {message.text}")

    def _guard(self, route) -> None:
        url = route.request.url
        if url.startswith(tuple(self.allowed)):
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def shot(self, page, name: str, *, full_page: bool = True) -> None:
        page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=full_page)

    def close(self) -> None:
        for context in self.contexts:
            context.close()
