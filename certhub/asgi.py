"""ASGI entry for process managers: `uvicorn --factory certhub.asgi:app_from_environment`."""

from __future__ import annotations

from fastapi import FastAPI

from certhub.app import create_app
from certhub.settings import Settings


def app_from_environment() -> FastAPI:
    return create_app(Settings(), background_jobs=True)
