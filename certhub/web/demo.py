"""Demo mode only: one-click sign-in for the counter and auditor pages.

`certhub demo` prints the demo platform client's secret in the terminal; a
new user on the landing page should not have to copy it to see the whole
flow. Like the holders' development login, this exists only when the app
says it is a demo (fail closed), and the token it gives carries just the one
scope the page needs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.exceptions import HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from certhub.demo.seed import DEMO_CLIENT_NAME
from identity.config import IdentityConfig
from identity.models import ApiClient
from identity.tokens import TokenAuthority
from storage.sessions import SessionDep
from wiring import service

router = APIRouter(prefix="/web/api/demo", tags=["web pages"])

ROLE_SCOPES = {"counter": "presentation:redeem", "audit": "audit:read"}


class DemoTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["counter", "audit"]


@router.post("/department-token")
def demo_department_token(
    body: DemoTokenRequest, session: SessionDep, config: Annotated[IdentityConfig, service(IdentityConfig)],
    authority: Annotated[TokenAuthority, service(TokenAuthority)],
) -> dict:
    if config.demo is not True:
        raise HTTPException(
            status_code=403,
            detail={"error": "login_unavailable", "message": "the demo sign-in exists only in demo mode"},
        )
    scope = ROLE_SCOPES[body.role]
    client = session.scalar(
        select(ApiClient)
        .where(ApiClient.name == DEMO_CLIENT_NAME, ApiClient.active.is_(True))
        .order_by(ApiClient.id.desc())
        .limit(1)
    )
    if client is None or scope not in client.scopes:
        raise HTTPException(
            status_code=409,
            detail={"error": "no_demo_client", "message": "run `certhub demo` to create the demo client"},
        )
    token = authority.issue(client_id=client.client_id, department_code=client.department_code, scopes=[scope])
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": authority.ttl_seconds,
        "scope": scope,
        "client_id": client.client_id,
        "department_code": client.department_code,
    }
