"""HTTP API of push subscriptions: a department manages its own
subscriptions and dead letters (scope exchange:query)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from adapters.models import WebhookDelivery
from adapters.webhooks import standard_webhooks_secret
from exchange.subscriptions import service
from exchange.subscriptions.callbacks import CallbackPolicy
from exchange.subscriptions.models import Subscription
from identity.deps import require_scopes
from identity.tokens import Principal
from registry.config import RegistryConfig
from storage.base import utcnow
from storage.sessions import SessionDep
from wiring import service as found_service

router = APIRouter(prefix="/api/v1/exchange/subscriptions", tags=["exchange: subscriptions"])

Subscriber = Annotated[Principal, Depends(require_scopes("exchange:query"))]
SubscriptionId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EventKind = Literal["issued", "changed", "suspended", "resumed", "revoked", "cancelled", "expired"]


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    callback_url: str = Field(max_length=2000, description="https URL the hub POSTs signed events to")
    event_kinds: list[EventKind] = Field(min_length=1, max_length=7)
    licence_type_codes: list[Annotated[str, Field(max_length=21)]] = Field(min_length=1, max_length=50)


class SubscriptionRead(BaseModel):
    id: int
    callback_url: str
    event_kinds: list[str]
    licence_type_codes: list[str]
    status: str
    created_at: datetime
    updated_at: datetime


class SubscriptionSecret(SubscriptionRead):
    secret: str = Field(description="HMAC-SHA256 key (its UTF-8 bytes) for X-Certhub-Signature; shown only now")
    standard_webhooks_secret: str = Field(
        description="the same key in the Standard Webhooks form (whsec_ + base64), for webhook-signature; shown only now")


class DeadLetterRead(BaseModel):
    id: int
    event_id: str
    status: str  # dead, or pending once redelivery is asked for
    attempts: int
    last_error: str | None
    created_at: datetime
    payload: dict


def _read(subscription: Subscription) -> SubscriptionRead:
    return SubscriptionRead(
        id=subscription.id, callback_url=subscription.callback_url, event_kinds=subscription.event_kinds,
        licence_type_codes=subscription.licence_type_codes, status=subscription.status,
        created_at=subscription.created_at, updated_at=subscription.updated_at,
    )


def _with_secret(new: service.NewSubscription) -> SubscriptionSecret:
    return SubscriptionSecret(**_read(new.subscription).model_dump(), secret=new.secret,
                              standard_webhooks_secret=standard_webhooks_secret(new.secret.encode("utf-8")))


def _dead_letter(delivery: WebhookDelivery) -> DeadLetterRead:
    return DeadLetterRead(id=delivery.id, event_id=delivery.event_id, status=delivery.status,
                          attempts=delivery.attempts,
                          last_error=delivery.last_error, created_at=delivery.created_at, payload=delivery.payload)


@router.post("", response_model=SubscriptionSecret, status_code=201)
def create_subscription(body: SubscriptionCreate, session: SessionDep, principal: Subscriber,
                        policy: Annotated[CallbackPolicy, found_service(CallbackPolicy)],
                        registry: Annotated[RegistryConfig, found_service(RegistryConfig)]):
    new = service.create(
        session=session, department_code=principal.department_code, client_id=principal.client_id,
        callback_url=body.callback_url, event_kinds=body.event_kinds, licence_type_codes=body.licence_type_codes,
        policy=policy, key_secret=registry.key_secret, now=utcnow(),
    )
    return _with_secret(new)


@router.get("", response_model=list[SubscriptionRead])
def list_subscriptions(session: SessionDep, principal: Subscriber):
    return [_read(s) for s in service.list_(session=session, department_code=principal.department_code)]


@router.get("/{subscription_id}", response_model=SubscriptionRead)
def get_subscription(subscription_id: SubscriptionId, session: SessionDep, principal: Subscriber):
    return _read(service.get_owned_or_raise(
        session=session, subscription_id=subscription_id, department_code=principal.department_code
    ))


@router.delete("/{subscription_id}", status_code=204)
def cancel_subscription(subscription_id: SubscriptionId, session: SessionDep, principal: Subscriber) -> Response:
    service.cancel(session=session, subscription_id=subscription_id, department_code=principal.department_code,
                   now=utcnow())
    return Response(status_code=204)


@router.post("/{subscription_id}/secret", response_model=SubscriptionSecret)
def rotate_subscription_secret(subscription_id: SubscriptionId, session: SessionDep, principal: Subscriber,
                               registry: Annotated[RegistryConfig, found_service(RegistryConfig)]):
    new = service.rotate_secret(session=session, subscription_id=subscription_id,
                                department_code=principal.department_code,
                                key_secret=registry.key_secret, now=utcnow())
    return _with_secret(new)


@router.get("/{subscription_id}/dead-letters", response_model=list[DeadLetterRead])
def list_dead_letters(subscription_id: SubscriptionId, session: SessionDep, principal: Subscriber):
    subscription = service.get_owned_or_raise(
        session=session, subscription_id=subscription_id, department_code=principal.department_code
    )
    return [_dead_letter(d) for d in service.dead_letters(session=session, subscription=subscription)]


@router.post("/{subscription_id}/dead-letters/{delivery_id}/redeliver", response_model=DeadLetterRead)
def redeliver_dead_letter(subscription_id: SubscriptionId, delivery_id: SubscriptionId, session: SessionDep,
                          principal: Subscriber):
    """Put a dead letter back on the retry schedule (after fixing the receiver)."""
    subscription = service.get_owned_or_raise(
        session=session, subscription_id=subscription_id, department_code=principal.department_code
    )
    delivery = service.redeliver(session=session, subscription=subscription, delivery_id=delivery_id, now=utcnow())
    return _dead_letter(delivery)
