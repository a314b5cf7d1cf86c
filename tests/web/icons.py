"""The favicon's ICO is the SVG drawn by Chromium: one picture, two formats.

``python -m tests.web.icons`` draws static/favicon.svg at 16, 32 and 48 px
and writes certhub/web/favicon.ico (run it after changing the SVG);
tests/web/test_pages.py draws it again and compares the two.
"""

from __future__ import annotations

import base64
import io

from PIL import Image

from certhub.web.pages import FAVICON_ICO, STATIC_DIR

ICON_SIZES = (16, 32, 48)


def draw_svg_icon(browser, size: int) -> Image.Image:
    """static/favicon.svg as Chromium draws it at ``size`` × ``size`` px, on a transparent ground."""
    svg = base64.b64encode((STATIC_DIR / "favicon.svg").read_bytes()).decode()
    context = browser.new_context(viewport={"width": size, "height": size}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.set_content(f'<body style="margin:0"><img src="data:image/svg+xml;base64,{svg}" '
                         f'width="{size}" height="{size}" style="display:block"></body>')
        page.wait_for_function("document.images[0].complete")
        picture = page.screenshot(omit_background=True)
    finally:
        context.close()
    return Image.open(io.BytesIO(picture)).convert("RGBA")


def ico_bytes(browser) -> bytes:
    drawn = [draw_svg_icon(browser, size) for size in ICON_SIZES]
    out = io.BytesIO()
    drawn[-1].save(out, format="ICO", sizes=[(size, size) for size in ICON_SIZES], append_images=drawn[:-1])
    return out.getvalue()


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            FAVICON_ICO.write_bytes(ico_bytes(browser))
        finally:
            browser.close()


if __name__ == "__main__":
    main()
