"""Browser pages: the holder's wallet (/wallet), the counter (/counter), the
auditor console (/audit) and the landing page (/), with their scripts,
styles and CJK web font served by certhub itself (no CDN: government
networks often have no internet)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from certhub.web import demo, fonts, i18n, logcheck, pages, scan, staff_login

_IMMUTABLE = "public, max-age=31536000, immutable"


class VersionedStaticFiles(StaticFiles):
    """Static files, each at its hashed name only (``js/wallet.<hash>.js``,
    ``pages.asset_url``): it never changes under that URL, so it may be
    cached for a year (SPEC: RFC 8246 immutable). Any other name is a 404."""

    async def get_response(self, path: str, scope: Scope):
        relative = pages.unhashed(path)
        if relative is None:
            raise HTTPException(status_code=404)
        response = await super().get_response(relative, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = _IMMUTABLE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install(app: FastAPI) -> None:
    """Add the pages, their helper endpoints and the static files to ``app``."""
    app.include_router(pages.router)
    app.include_router(fonts.router)
    app.include_router(i18n.router)
    app.include_router(scan.router)
    app.include_router(logcheck.router)
    app.include_router(demo.router)
    app.include_router(staff_login.router)
    app.mount("/static", VersionedStaticFiles(directory=str(pages.STATIC_DIR)), name="static")
