"""Web Push of use notices: holders subscribe; each use of a holder's data
that the polled feed would tell them of (exchange.auditlog.notices.notice_of,
the one rule) is queued in the adapters' delivery outbox (channel
"web_push") and sent, encrypted to the subscription's keys, off the request
path with retries.

Why this is acceptable on a government platform although the push services
belong to browser vendors (docs/web.md "Use notices"):
- the payload is encrypted end to end (# SPEC: RFC 8291): the push service
  sees ciphertext, its size and its timing, never what it says;
- the payload is small and holds nothing the holder's own page does not show
  them: the kind of use, the department's name, the result and the time, no
  licence identifier, no purpose text, no code of theirs (the device may show
  it on a lock screen, and the page fetches the details after sign-in);
- only endpoints on the deployment's allow-list of push services are
  accepted and sent to (exchange.webpush.config), through the one egress
  client and its proxy; an empty list turns Web Push off.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPusher
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from adapters.models import WebhookDelivery
from adapters.webhooks import WEB_PUSH, DeliveryReport, Gone, RetryPolicy, deliver_channel, enqueue
from catalog.models import Department
from exchange.auditlog.models import LogEntry
from exchange.auditlog.notices import notice_of
from exchange.errors import InvalidExchangeRequest
from exchange.subscriptions.callbacks import CallbackPolicy, GuardedClient, delivery_client
from exchange.subscriptions.dispatcher import advance_cursor, locked_cursor
from exchange.subscriptions.models import DispatchCursor
from exchange.webpush.config import WebPushConfig
from exchange.webpush.keys import VapidKey, vapid_key
from exchange.webpush.models import WebPushSubscription
from storage.base import utcnow
from storage.egress import DIRECT, Egress, EgressError, EgressTimeout
from storage.units import write_lock

log = logging.getLogger("certhub.exchange.webpush")

CURSOR_NAME = "use-notices-web-push"
SUBSCRIBER_PREFIX = "webpush:"
MAX_PER_HOLDER = 10  # browsers and devices; the oldest goes when an eleventh subscribes
BATCH_SIZE = 2000  # log entries read per round
# A notice hours old is no longer news: fewer, shorter retries than webhooks.
PUSH_RETRIES = RetryPolicy(schedule=(10, 60, 300, 1800), max_attempts=5)
# How long the push service keeps a message for a device that is offline (# SPEC: RFC 8030 §5.2).
TTL_SECONDS = 24 * 3600
# The VAPID token's lifetime (# SPEC: RFC 8292 §2: "exp" no more than 24 hours ahead).
TOKEN_SECONDS = 12 * 3600
_P256_POINT = 65
_AUTH_SECRET = 16


def _b64url_bytes(text: str, *, what: str) -> bytes:
    if not isinstance(text, str) or not 0 < len(text) <= 100:
        raise InvalidExchangeRequest(f"keys.{what}: base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidExchangeRequest(f"keys.{what}: base64url text") from None


def _check_keys(*, p256dh: str, auth: str) -> None:
    """The user agent's keys as RFC 8291 §3 needs them: a P-256 point, uncompressed, and a 16-byte secret."""
    point = _b64url_bytes(p256dh, what="p256dh")
    if len(point) != _P256_POINT:
        raise InvalidExchangeRequest("keys.p256dh: an uncompressed P-256 point (65 bytes)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InvalidExchangeRequest("keys.p256dh: not a point of P-256") from None
    if len(_b64url_bytes(auth, what="auth")) != _AUTH_SECRET:
        raise InvalidExchangeRequest("keys.auth: 16 bytes")


def subscribe(*, session: Session, config: WebPushConfig, holder_code: str, endpoint: str, p256dh: str, auth: str,
              now: datetime) -> WebPushSubscription:
    """Keep the browser's subscription for the holder. The same endpoint
    subscribed again (the keys renewed, or another holder signed in on that
    browser) replaces the earlier row: one browser pushes to one holder."""
    config.check_endpoint(endpoint)
    _check_keys(p256dh=p256dh, auth=auth)
    write_lock(session=session)
    for _ in range(2):  # an insert that loses a race with the same endpoint updates the winner's row
        row = session.scalar(select(WebPushSubscription).where(WebPushSubscription.endpoint == endpoint)
                             .with_for_update())
        if row is not None:
            if row.holder_code != holder_code:
                # Another holder on this browser: what was queued for the first is never sent to the second.
                session.execute(delete(WebhookDelivery).where(
                    WebhookDelivery.channel == WEB_PUSH, WebhookDelivery.subscriber_key == subscriber_key(row.id),
                    WebhookDelivery.status == "pending"))
            row.holder_code, row.p256dh, row.auth, row.created_at = holder_code, p256dh, auth, now
            session.flush()
            break
        try:
            with session.begin_nested():
                row = WebPushSubscription(holder_code=holder_code, endpoint=endpoint, p256dh=p256dh, auth=auth,
                                          created_at=now)
                session.add(row)
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - the row that won the race was deleted meanwhile
        raise InvalidExchangeRequest("the subscription changed meanwhile; subscribe again")
    _keep_newest(session=session, holder_code=holder_code)
    return row


def _keep_newest(*, session: Session, holder_code: str) -> None:
    ids = session.scalars(select(WebPushSubscription.id).where(WebPushSubscription.holder_code == holder_code)
                          .order_by(WebPushSubscription.created_at.desc(), WebPushSubscription.id.desc())).all()
    if len(ids) > MAX_PER_HOLDER:
        session.execute(delete(WebPushSubscription).where(WebPushSubscription.id.in_(ids[MAX_PER_HOLDER:])))


def unsubscribe(*, session: Session, holder_code: str, endpoint: str) -> bool:
    """Forget the holder's subscription at `endpoint`; whether there was one."""
    result = session.execute(delete(WebPushSubscription).where(
        WebPushSubscription.holder_code == holder_code, WebPushSubscription.endpoint == endpoint))
    return bool(getattr(result, "rowcount", 0))


def count_for(*, session: Session, holder_code: str) -> int:
    return len(session.scalars(select(WebPushSubscription.id)
                               .where(WebPushSubscription.holder_code == holder_code)).all())


def subscriber_key(subscription_id: int) -> str:
    return f"{SUBSCRIBER_PREFIX}{subscription_id}"


def _subscription_id(key: str) -> int | None:
    tail = key[len(SUBSCRIBER_PREFIX):] if key.startswith(SUBSCRIBER_PREFIX) else ""
    return int(tail) if tail.isdigit() else None


@dataclass
class DispatchReport:
    entries: int = 0
    enqueued: int = 0
    cursor: int = 0


def dispatch(*, session: Session, now: datetime, batch_size: int = BATCH_SIZE) -> DispatchReport:
    """One round over the use log's entries after the cursor (and the ids it
    skipped: on PostgreSQL a lower id may commit after a higher one): each
    entry about a subscribed holder that the feed would tell them of is
    queued for each of their subscriptions made before it. The caller commits."""
    report = DispatchReport()
    if _nothing_new(session=session):
        return report  # no lock, no write: on SQLite a writer every few seconds would crowd out requests
    cursor = _start_cursor(session=session, now=now)
    gap_ids = [int(key) for key in cursor.gaps]
    unread = LogEntry.id > cursor.last_event_id
    if gap_ids:
        unread = unread | LogEntry.id.in_(gap_ids)
    rows = session.execute(
        select(LogEntry.id, LogEntry.subject_code)
        .where(unread)
        .order_by(LogEntry.id).limit(batch_size)).all()
    subjects = {subject for _, subject in rows if subject is not None}
    subscriptions: dict[str, list[WebPushSubscription]] = {}
    if subjects:
        for subscription in session.scalars(select(WebPushSubscription)
                                            .where(WebPushSubscription.holder_code.in_(subjects))):
            subscriptions.setdefault(subscription.holder_code, []).append(subscription)
    wanted = [entry_id for entry_id, subject in rows if subject in subscriptions]
    names: dict[str, str] = {}
    for entry in session.scalars(select(LogEntry).where(LogEntry.id.in_(wanted)).order_by(LogEntry.id)) if wanted else ():
        notice = notice_of(basis=entry.basis, entry=entry.entry, now=now)
        if notice is None:
            continue
        payload = _payload(session=session, notice=notice, names=names)
        for subscription in subscriptions[entry.subject_code or ""]:
            if subscription.created_at > entry.recorded_at:
                continue  # a subscription starts when it is made
            enqueue(session=session, event_id=f"use-{entry.id}", subscriber_key=subscriber_key(subscription.id),
                    url=subscription.endpoint, payload=payload, now=now, channel=WEB_PUSH)
            report.enqueued += 1
    advance_cursor(cursor, seen=[entry_id for entry_id, _ in rows], now=now)
    session.flush()
    report.entries, report.cursor = len(rows), cursor.last_event_id
    return report


def _nothing_new(*, session: Session) -> bool:
    """Nobody subscribed, or the log has not moved: the round writes nothing."""
    if session.scalar(select(WebPushSubscription.id).limit(1)) is None:
        return True
    seen = session.execute(select(DispatchCursor.last_event_id, DispatchCursor.gaps)
                           .where(DispatchCursor.name == CURSOR_NAME)).first()
    if seen is None or seen.gaps:
        return False
    return (session.scalar(select(func.max(LogEntry.id))) or 0) <= seen.last_event_id


def _start_cursor(*, session: Session, now: datetime) -> DispatchCursor:
    """The cursor, locked; made the first time just before the first
    subscription: no backlog is read for subscriptions that did not exist, and
    a use recorded between the first subscription and the first round (up to
    a round's interval) is not skipped. Runs once, so its scan of the log by
    time is paid once."""
    made = session.scalar(select(DispatchCursor.id).where(DispatchCursor.name == CURSOR_NAME)) is None
    cursor = locked_cursor(session=session, now=now, name=CURSOR_NAME)
    if made and cursor.last_event_id == 0 and not cursor.gaps:  # two first rounds at once both start here
        first_subscribed = session.scalar(select(func.min(WebPushSubscription.created_at)))
        before_it = select(func.max(LogEntry.id))
        if first_subscribed is not None:
            before_it = before_it.where(LogEntry.recorded_at < first_subscribed)
        cursor.last_event_id = int(session.scalar(before_it) or 0)
    return cursor


def _due(*, session: Session, now: datetime) -> bool:
    return session.scalar(select(WebhookDelivery.id).where(
        WebhookDelivery.channel == WEB_PUSH, WebhookDelivery.status == "pending",
        WebhookDelivery.next_attempt_at <= now).limit(1)) is not None


def _payload(*, session: Session, notice: dict, names: dict[str, str]) -> dict:
    """What the push says: no more than the holder's own page shows them, and
    less (no licence identifier, no purpose text): the device may show it on
    a lock screen, and the wallet fetches the rest after sign-in."""
    code = str(notice.get("department") or "")
    if code not in names:
        names[code] = session.scalar(select(Department.name).where(Department.code == code)) or ""
    return {"type": "use", "kind": notice.get("kind"), "result": notice.get("result"), "time": notice.get("time"),
            "department": names[code]}


def send_one(delivery: WebhookDelivery, *, session: Session, config: WebPushConfig, vapid: VapidKey,
             client: GuardedClient) -> str | Gone | None:
    """Encrypt the delivery's payload to its subscription (# SPEC: RFC 8291,
    aes128gcm of RFC 8188, by pywebpush/http_ece), authorise it with the
    hub's VAPID key (# SPEC: RFC 8292) and POST it to the push service
    (# SPEC: RFC 8030 §5) through the egress client."""
    subscription_id = _subscription_id(delivery.subscriber_key)
    subscription = session.get(WebPushSubscription, subscription_id) if subscription_id is not None else None
    if subscription is None:
        return Gone("subscription removed")
    try:
        endpoint = config.check_endpoint(subscription.endpoint)
    except InvalidExchangeRequest:
        return Gone("push service no longer allowed")
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}})
    encrypted = pusher.encode(body, content_encoding="aes128gcm")["body"]
    claims = {"aud": config.origin_of(endpoint), "exp": int(time.time()) + TOKEN_SECONDS, "sub": config.contact}
    headers = {**vapid.signer.sign(claims), "TTL": str(TTL_SECONDS), "Content-Encoding": "aes128gcm",
               "Content-Type": "application/octet-stream", "Urgency": "normal"}
    try:
        with client.request("POST", endpoint, body=encrypted, headers=headers) as response:
            if 200 <= response.status < 300:
                return None
            if response.status in (404, 410):  # # SPEC: RFC 8030 §7.3: the subscription expired
                return Gone(f"HTTP {response.status}")
            return f"HTTP {response.status}"
    except EgressTimeout:
        return "timeout"
    except EgressError as error:
        return f"transport error ({error.reason})"


def deliver(*, session: Session, now: datetime, config: WebPushConfig, vapid: VapidKey, client: GuardedClient,
            policy: RetryPolicy = PUSH_RETRIES) -> DeliveryReport:
    """Send what is due; drop the subscriptions whose push service says they are gone."""
    report = deliver_channel(session=session, now=now, channel=WEB_PUSH, policy=policy,
                             send=lambda d: send_one(d, session=session, config=config, vapid=vapid, client=client))
    gone = [sid for sid in (_subscription_id(key) for key in report.gone) if sid is not None]
    if gone:
        session.execute(delete(WebPushSubscription).where(WebPushSubscription.id.in_(gone)))
        session.flush()
    return report


@dataclass
class WebPushWorker:
    """Dispatch, then deliver: the app's background thread does it every round."""

    sessions: sessionmaker[Session]
    key_secret: bytes
    config: WebPushConfig
    policy: CallbackPolicy
    egress: Egress = DIRECT
    retry_policy: RetryPolicy = field(default_factory=lambda: PUSH_RETRIES)

    def __post_init__(self) -> None:
        self._client = delivery_client(policy=self.policy, egress=self.egress)

    def ensure_key(self) -> str:
        """Make the VAPID key if there is none yet (at start-up); its public half."""
        with self.sessions() as session, session.begin():
            return vapid_key(session=session, key_secret=self.key_secret).public_key

    def run_once(self, *, now: datetime | None = None) -> tuple[DispatchReport, DeliveryReport]:
        now = now or utcnow()
        with self.sessions() as session, session.begin():
            dispatched = dispatch(session=session, now=now)
        with self.sessions() as session, session.begin():
            if not _due(session=session, now=now):
                return dispatched, DeliveryReport()
            vapid = vapid_key(session=session, key_secret=self.key_secret)
            delivered = deliver(session=session, now=now, config=self.config, vapid=vapid, client=self._client,
                                policy=self.retry_policy)
        return dispatched, delivered

    def run(self, *, interval_s: float, stop: threading.Event) -> None:
        """Until `stop` is set; a failed round is logged (no payloads, no endpoints) and retried."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as error:  # noqa: BLE001 - the loop must survive to retry
                log.error("web push round failed: %s", type(error).__name__)
            stop.wait(interval_s)

    def close(self) -> None:
        self._client.close()
