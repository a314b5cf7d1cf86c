"""Push subscriptions: create, list, cancel, rotate the signing secret, and
the subscriber's dead letters.

A department subscribes only to licence types it holds an active sharing
agreement for (checked here and again for every event dispatched). The
callback URL is checked against SSRF (callbacks.py) when it is registered
and again, address by address, at every delivery.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from adapters.models import WebhookDelivery
from adapters.webhooks import requeue
from catalog.service import licence_types
from exchange.agreements import has_active_agreement
from exchange.subscriptions.callbacks import CallbackPolicy, check_callback_url
from exchange.subscriptions.errors import (
    DeadLetterNotFound,
    InvalidSubscription,
    NoAgreement,
    SubscriptionNotFound,
)
from exchange.subscriptions.models import Subscription

ACTIVE, CANCELLED = "active", "cancelled"
# Licence history actions (registry.service.lifecycle) and the event kind a subscriber sees.
KIND_BY_ACTION = {
    "issue": "issued",
    "change": "changed",
    "suspend": "suspended",
    "resume": "resumed",
    "revoke": "revoked",
    "cancel": "cancelled",
    "joint_cancel": "cancelled",
    "expire": "expired",
}
EVENT_KINDS = tuple(dict.fromkeys(KIND_BY_ACTION.values()))
MAX_TYPES = 50
MAX_ACTIVE_PER_DEPARTMENT = 20
SUBSCRIBER_PREFIX = "subscription-"
_SECRET_INFO = b"certhub webhook secret v1"


@dataclass(frozen=True)
class NewSubscription:
    subscription: Subscription
    secret: str  # shown once; derived again when signing, never stored


def subscriber_key(subscription_id: int) -> str:
    return f"{SUBSCRIBER_PREFIX}{subscription_id}"


def webhook_secret(*, key_secret: bytes, subscription: Subscription) -> str:
    """The subscription's HMAC key as text; receivers use its UTF-8 bytes."""
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=bytes.fromhex(subscription.secret_salt), info=_SECRET_INFO
    ).derive(key_secret)
    return base64.urlsafe_b64encode(derived).rstrip(b"=").decode("ascii")


def _check_kinds(kinds: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(kinds))
    unknown = [k for k in wanted if k not in EVENT_KINDS]
    if not wanted or unknown:
        raise InvalidSubscription(f"event_kinds: one or more of {', '.join(EVENT_KINDS)}")
    return [k for k in EVENT_KINDS if k in wanted]


def _check_types(*, session: Session, department_code: str, codes: Sequence[str], now: datetime) -> list[str]:
    wanted = list(dict.fromkeys(codes))
    if not 1 <= len(wanted) <= MAX_TYPES:
        raise InvalidSubscription(f"licence_type_codes: 1 to {MAX_TYPES} licence type codes")
    for code in wanted:
        if len(code) > 21 or licence_types.get_current(session=session, code=code) is None:
            raise InvalidSubscription(f"licence_type_codes: {code!r} is not a licence type in the catalog")
    missing = [
        code for code in wanted
        if not has_active_agreement(session=session, consumer_code=department_code, licence_type_code=code, now=now)
    ]
    if missing:
        raise NoAgreement(f"no active sharing agreement for licence type(s) {', '.join(missing)}: apply for one first")
    return wanted


def create(
    *,
    session: Session,
    department_code: str,
    client_id: str,
    callback_url: str,
    event_kinds: Sequence[str],
    licence_type_codes: Sequence[str],
    policy: CallbackPolicy,
    key_secret: bytes,
    now: datetime,
) -> NewSubscription:
    url = check_callback_url(callback_url, policy=policy)
    kinds = _check_kinds(event_kinds)
    types = _check_types(session=session, department_code=department_code, codes=licence_type_codes, now=now)
    active = session.execute(
        select(func.count()).select_from(Subscription).where(
            Subscription.department_code == department_code, Subscription.status == ACTIVE
        )
    ).scalar_one()
    if active >= MAX_ACTIVE_PER_DEPARTMENT:
        raise InvalidSubscription(f"a department may hold at most {MAX_ACTIVE_PER_DEPARTMENT} active subscriptions")
    subscription = Subscription(
        department_code=department_code, client_id=client_id, callback_url=url, event_kinds=kinds,
        licence_type_codes=types, secret_salt=secrets.token_hex(16), status=ACTIVE, created_at=now, updated_at=now,
    )
    session.add(subscription)
    session.flush()
    return NewSubscription(subscription, webhook_secret(key_secret=key_secret, subscription=subscription))


def list_(*, session: Session, department_code: str) -> list[Subscription]:
    query = select(Subscription).where(Subscription.department_code == department_code).order_by(Subscription.id)
    return list(session.scalars(query))


def get_owned_or_raise(
    *, session: Session, subscription_id: int, department_code: str, for_update: bool = False
) -> Subscription:
    """The department's own subscription; another's is 'not found' too."""
    query = select(Subscription).where(Subscription.id == subscription_id)
    if for_update:
        query = query.with_for_update()
    subscription = session.scalar(query)
    if subscription is None or subscription.department_code != department_code:
        raise SubscriptionNotFound(f"subscription {subscription_id} not found")
    return subscription


def cancel(*, session: Session, subscription_id: int, department_code: str, now: datetime) -> Subscription:
    """Stop the subscription; its pending deliveries become dead letters."""
    subscription = get_owned_or_raise(
        session=session, subscription_id=subscription_id, department_code=department_code, for_update=True
    )
    if subscription.status != CANCELLED:
        subscription.status, subscription.updated_at = CANCELLED, now
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.subscriber_key == subscriber_key(subscription.id), WebhookDelivery.status == "pending")
            .values(status="dead", last_error="subscription cancelled")
        )
    session.flush()
    return subscription


def rotate_secret(
    *, session: Session, subscription_id: int, department_code: str, key_secret: bytes, now: datetime
) -> NewSubscription:
    """A new signing secret from the next delivery on; the old one stops at once."""
    subscription = get_owned_or_raise(
        session=session, subscription_id=subscription_id, department_code=department_code, for_update=True
    )
    if subscription.status != ACTIVE:
        raise InvalidSubscription(f"subscription {subscription_id} is {subscription.status}")
    subscription.secret_salt, subscription.updated_at = secrets.token_hex(16), now
    session.flush()
    return NewSubscription(subscription, webhook_secret(key_secret=key_secret, subscription=subscription))


def dead_letters(*, session: Session, subscription: Subscription, limit: int = 100) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscriber_key == subscriber_key(subscription.id), WebhookDelivery.status == "dead")
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def redeliver(*, session: Session, subscription: Subscription, delivery_id: int, now: datetime) -> WebhookDelivery:
    """Put one of the subscription's dead letters back on the schedule."""
    if subscription.status != ACTIVE:
        raise InvalidSubscription(f"subscription {subscription.id} is {subscription.status}")
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.subscriber_key != subscriber_key(subscription.id) or delivery.status != "dead":
        raise DeadLetterNotFound(f"subscription {subscription.id} has no dead letter {delivery_id}")
    return requeue(session=session, delivery_id=delivery_id, now=now)


def secrets_by_subscriber(*, session: Session, key_secret: bytes):
    """The `secret_for` callable adapters.webhooks.deliver_due signs with:
    active subscriptions only (a cancelled one raises KeyError: not sent)."""
    cache: dict[str, bytes] = {}

    def secret_for(key: str) -> bytes:
        if key not in cache:
            if not key.startswith(SUBSCRIBER_PREFIX) or not key[len(SUBSCRIBER_PREFIX):].isdigit():
                raise KeyError(key)
            subscription = session.get(Subscription, int(key[len(SUBSCRIBER_PREFIX):]))
            if subscription is None or subscription.status != ACTIVE:
                raise KeyError(key)
            cache[key] = webhook_secret(key_secret=key_secret, subscription=subscription).encode("ascii")
        return cache[key]

    return secret_for
