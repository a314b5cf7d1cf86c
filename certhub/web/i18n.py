"""The pages' languages: Simplified Chinese (the default) and English.

Every string a page shows lives in one catalog per language,
``certhub/web/messages/<language>.json`` (a flat map of key to text). The
templates render from it on the server (``t("wallet.sign_in")``); the scripts
read the same catalog, served as a small script of its own
(``/web/messages/<language>.<hash>.js``, only the keys the scripts use) that
defines ``window.certhubMessages`` before any page script runs; nothing is
restated in the scripts. The visitor's choice is kept in a cookie; until
there is one, the browser's Accept-Language decides.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

WEB_DIR = Path(__file__).parent
MESSAGES_DIR = WEB_DIR / "messages"
SCRIPTS_DIR = WEB_DIR / "static" / "js"

DEFAULT_LANGUAGE = "zh-CN"
LANGUAGES = ("zh-CN", "en")
LANGUAGE_COOKIE = "certhub_lang"
_COOKIE_MAX_AGE_S = 365 * 24 * 3600
_IMMUTABLE = "public, max-age=31536000, immutable"
# Where the language switch may send the visitor back to: the pages, never another site.
RETURN_PATHS = frozenset({"/", "/wallet", "/counter", "/audit", "/console", "/statistics"})

# A key as the scripts name it: CH.t("wallet.sign_in"). The same pattern finds the
# keys to serve and, in the tests, the keys in use.
SCRIPT_KEY = re.compile(r"""\bCH\.t\(\s*"([a-z0-9_]+\.[a-z0-9_]+)"\s*\)""")

router = APIRouter(prefix="/web", include_in_schema=False)


@lru_cache(maxsize=len(LANGUAGES))
def catalog(language: str) -> dict[str, str]:
    """The catalog of one language; a key it lacks raises KeyError (a bug to fix, never a blank on the page)."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    return json.loads((MESSAGES_DIR / f"{language}.json").read_text(encoding="utf-8"))


def translate(language: str, key: str) -> str:
    return catalog(language)[key]


@lru_cache(maxsize=1)
def script_keys() -> frozenset[str]:
    """The keys the page scripts use."""
    found: set[str] = set()
    for path in sorted(SCRIPTS_DIR.glob("*.js")):
        found.update(SCRIPT_KEY.findall(path.read_text(encoding="utf-8")))
    return frozenset(found)


@lru_cache(maxsize=len(LANGUAGES))
def messages_script(language: str) -> bytes:
    """The script that hands the page scripts their strings in ``language``."""
    messages = {key: text for key, text in catalog(language).items() if key in script_keys()}
    payload = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return ("window.certhubMessages=" + payload + ";\n").encode()


@lru_cache(maxsize=len(LANGUAGES))
def messages_digest(language: str) -> str:
    return hashlib.sha256(messages_script(language)).hexdigest()[:12]


def messages_url(language: str) -> str:
    """The script's URL: its content hash is part of it, so it can be cached for a year."""
    return f"/web/messages/{language}.{messages_digest(language)}.js"


# SPEC: RFC 9110 §12.5.4 (Accept-Language) and §12.4.2 (quality values); RFC 4647 §3.3.1 (basic filtering).
_LANGUAGE_RANGE = re.compile(r"\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*")
_MAX_HEADER = 512
_MAX_RANGES = 20


def _supported(tag: str) -> str | None:
    primary = tag.lower().split("-", 1)[0]
    if primary == "zh":
        # Traditional-script Chinese readers are better served by simplified Chinese than by English.
        return "zh-CN"
    if primary == "en":
        return "en"
    return None


def negotiate(accept_language: str | None) -> str:
    """The supported language the header prefers most; the default when it
    names none of them, is missing, malformed or oversized."""
    if not accept_language or len(accept_language) > _MAX_HEADER:
        return DEFAULT_LANGUAGE
    choices: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")[:_MAX_RANGES]):
        match = _LANGUAGE_RANGE.fullmatch(item)
        if match is None:
            continue
        quality = float(match[2]) if match[2] else 1.0
        language = DEFAULT_LANGUAGE if match[1] == "*" else _supported(match[1])
        if language is not None and quality > 0:
            choices.append((-quality, position, language))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE


def request_language(request: Request) -> str:
    """The visitor's language: the cookie set by the language switch, else Accept-Language."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return negotiate(request.headers.get("accept-language"))


@router.get("/language/{language}")
def switch_language(language: str,
                    back: Annotated[str, Query(alias="next", max_length=32)] = "/") -> RedirectResponse:
    """Remember the visitor's language and return to the page they came from
    (a link, so the switch works without scripts)."""
    if language not in LANGUAGES:
        raise HTTPException(status_code=404)
    response = RedirectResponse(back if back in RETURN_PATHS else "/", status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=_COOKIE_MAX_AGE_S, path="/", samesite="lax", httponly=True)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/messages/{language}.{digest}.js")
def messages(language: str, digest: str) -> Response:
    if language not in LANGUAGES or digest != messages_digest(language):
        raise HTTPException(status_code=404)
    return Response(messages_script(language), media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": _IMMUTABLE, "X-Content-Type-Options": "nosniff"})
