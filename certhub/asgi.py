"""ASGI entry for process managers: `uvicorn --factory certhub.asgi:app_from_environment`."""

from __future__ import annotations

from fastapi import FastAPI

from certhub import logs
from certhub.app import create_app
from certhub.settings import Settings


def app_from_environment() -> FastAPI:
    logs.install()  # whatever log config the process manager gave uvicorn, identifiers are masked
    return create_app(Settings(), background_jobs=True)
