"""Demo mode only: the demo's staff identity provider.

A real deployment signs staff in through the province's OpenID provider
(identity.staff_api). The demo has none, so it signs in one of a few
fictitious staff (certhub/demo/staff.yaml) directly: a counter clerk and a
department officer of 福州市公安局, and an auditor of the platform. Like the
holders' development login this exists only when the app says it is a demo
(fail closed), and it can sign in only those listed, with their roles.
A department's client secret never reaches a browser.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from identity.config import IdentityConfig
from identity.errors import LoginUnavailable, UnknownClient
from identity.staff_api import StaffSessionOut, staff_session
from identity.staff_auth import StaffAuthority
from wiring import service

log = logging.getLogger(__name__)

router = APIRouter(prefix="/web/api/demo", tags=["web pages"])

STAFF_FILE = Path(__file__).parents[1] / "demo" / "staff.yaml"


@lru_cache(maxsize=1)
def demo_staff() -> tuple[dict, ...]:
    """The demo's staff, as listed in certhub/demo/staff.yaml."""
    entries = yaml.safe_load(STAFF_FILE.read_text(encoding="utf-8")).get("staff") or []
    return tuple(entries)


def demo_staff_for(page: str) -> dict | None:
    """The demo account a page offers to sign in with one click."""
    return next((entry for entry in demo_staff() if entry.get("page") == page), None)


class DemoStaffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    staff_id: str = Field(min_length=1, max_length=64, description="one of the demo's staff (certhub/demo/staff.yaml)")


@router.post("/staff-session", response_model=StaffSessionOut)
def demo_staff_session(
    body: DemoStaffRequest, config: Annotated[IdentityConfig, service(IdentityConfig)],
    authority: Annotated[StaffAuthority, service(StaffAuthority)],
) -> StaffSessionOut:
    """Demo mode only: sign in as one of the demo's staff, without an identity provider."""
    if config.demo is not True:
        raise LoginUnavailable("the demo staff sign-in exists only in demo mode (CERTHUB_DEMO=true)")
    entry = next((entry for entry in demo_staff() if entry["staff_id"] == body.staff_id), None)
    if entry is None:
        raise UnknownClient("no such demo staff member (certhub/demo/staff.yaml)")
    principal = authority.new_principal(staff_id=entry["staff_id"], department_code=entry["department"],
                                        roles=entry["roles"], name=entry["name"], auth_method="dev")
    log.info("staff session opened via the demo sign-in (session %s)", principal.session_id)
    return staff_session(authority, principal)
