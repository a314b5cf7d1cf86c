"""The holder's Web Push subscription: the wallet asks for the hub's VAPID
public key, subscribes its service worker with it (PushManager.subscribe)
and hands the subscription over here; uses of the holder's data are then
pushed to it (exchange.webpush.service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from exchange.webpush import service as web_push
from exchange.webpush.config import MAX_ENDPOINT_LENGTH, WebPushConfig
from exchange.webpush.keys import vapid_key
from identity.deps import HolderDep
from registry.config import RegistryConfig
from storage.base import utcnow
from storage.sessions import SessionDep
from wiring import service

router = APIRouter(prefix="/api/v1/holders/me/web-push", tags=["holders"])

ConfigDep = Annotated[WebPushConfig, service(WebPushConfig)]
RegistryDep = Annotated[RegistryConfig, service(RegistryConfig)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)  # a PushSubscription's JSON has more


class WebPushKeysIn(_Body):
    p256dh: str = Field(min_length=80, max_length=100, description="the user agent's P-256 key, base64url")
    auth: str = Field(min_length=16, max_length=40, description="the 16-byte authentication secret, base64url")


class WebPushSubscriptionIn(_Body):
    """What PushSubscription.toJSON() gives (W3C Push API)."""

    endpoint: str = Field(min_length=10, max_length=MAX_ENDPOINT_LENGTH)
    keys: WebPushKeysIn


class WebPushEndpointIn(_Body):
    endpoint: str = Field(min_length=10, max_length=MAX_ENDPOINT_LENGTH)


class WebPushRead(BaseModel):
    enabled: bool = Field(description="false: this platform allows no push service (the polled feed still works)")
    public_key: str | None = Field(description="the VAPID public key (RFC 8292): PushManager.subscribe's "
                                               "applicationServerKey, base64url")
    subscriptions: int = Field(description="how many browsers of this holder are subscribed")


@router.get("", response_model=WebPushRead)
def my_web_push(session: SessionDep, holder: HolderDep, config: ConfigDep, registry: RegistryDep) -> WebPushRead:
    if not config.enabled:
        return WebPushRead(enabled=False, public_key=None, subscriptions=0)
    key = vapid_key(session=session, key_secret=registry.key_secret)
    return WebPushRead(enabled=True, public_key=key.public_key,
                       subscriptions=web_push.count_for(session=session, holder_code=holder.holder_code))


@router.post("/subscriptions", status_code=201)
def subscribe_web_push(body: WebPushSubscriptionIn, session: SessionDep, holder: HolderDep, config: ConfigDep) -> dict:
    """Push each use of my data to this browser. The endpoint must be on a
    push service the platform allows (else 422 push_endpoint_refused)."""
    web_push.subscribe(session=session, config=config, holder_code=holder.holder_code, endpoint=body.endpoint,
                       p256dh=body.keys.p256dh, auth=body.keys.auth, now=utcnow())
    return {"subscribed": True}


@router.post("/subscriptions/remove", status_code=204)
def unsubscribe_web_push(body: WebPushEndpointIn, session: SessionDep, holder: HolderDep) -> Response:
    """Stop pushing to this browser (idempotent)."""
    web_push.unsubscribe(session=session, holder_code=holder.holder_code, endpoint=body.endpoint)
    return Response(status_code=204)
