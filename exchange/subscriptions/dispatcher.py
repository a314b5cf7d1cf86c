"""The event dispatcher: turns licence history rows into webhook deliveries
(transactional outbox).

One round, in one transaction: lock the cursor row; read the licence
events after it (and the ids it skipped, see `gaps`); enqueue one delivery
per event and matching subscription in adapters' outbox; move the cursor.
A crash before the commit loses nothing (the cursor did not move either)
and a repeated round enqueues nothing twice (the outbox is unique per
event id and subscriber). Delivery itself is adapters.webhooks.deliver_due.

Event ids are "evt-<registry tag>-<history row id>": the registry tag is the
first 16 hex digits of SHA-256(registry id), so ids from two registries never
collide and one licence event keeps one id however often it is sent.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from adapters.webhooks import DeliveryReport, RetryPolicy, deliver_due, enqueue
from exchange.agreements import has_active_agreement
from exchange.subscriptions.callbacks import CallbackPolicy, GuardedClient, delivery_client
from exchange.subscriptions.models import DispatchCursor, Subscription
from exchange.subscriptions.service import ACTIVE, KIND_BY_ACTION, secrets_by_subscriber, subscriber_key
from registry.models import Licence, LicenceEvent, LicenceVersion
from storage.base import utcnow
from storage.egress import DIRECT, Egress, Requester
from storage.units import write_lock

log = logging.getLogger("certhub.exchange.subscriptions")

CURSOR_NAME = "licence-events"
BATCH_SIZE = 500
MAX_GAPS = 1000
# A transaction still open this long after a later id committed is presumed
# rolled back: its id will never appear.
GAP_TIMEOUT = timedelta(minutes=10)


@dataclass
class DispatchReport:
    events: int = 0
    enqueued: int = 0
    skipped_no_agreement: int = 0
    cursor: int = 0
    gaps: int = 0
    event_ids: list[str] = field(default_factory=list)


def registry_tag(registry_id: str) -> str:
    return hashlib.sha256(registry_id.encode("utf-8")).hexdigest()[:16]


def event_id(*, registry_id: str, event: LicenceEvent) -> str:
    return f"evt-{registry_tag(registry_id)}-{event.id}"


def event_payload(*, registry_id: str, event: LicenceEvent, licence: Licence, identifier: str | None) -> dict:
    """What a subscriber learns: which licence, what happened, when. No holder
    name or code, no face data, no reason text, no operator (docs/clients.md)."""
    kind = KIND_BY_ACTION[event.action]
    return {
        "id": event_id(registry_id=registry_id, event=event),
        "type": f"licence.{kind}",
        "kind": kind,
        "registry": registry_id,
        "licence": licence.base_identifier,
        "identifier": identifier,
        "version": event.version,
        "licence_type": licence.type_code,
        "issuer": licence.issuer_code,
        "status": event.to_status,
        "previous_status": event.from_status,
        "occurred_at": event.at.isoformat().replace("+00:00", "Z"),
    }


def locked_cursor(*, session: Session, now: datetime, name: str = CURSOR_NAME) -> DispatchCursor:
    """The named cursor row, locked until the caller's transaction ends (created at 0 the first time)."""
    write_lock(session=session)  # SQLite has no row locks: two dispatchers take turns
    query = select(DispatchCursor).where(DispatchCursor.name == name).with_for_update()
    cursor = session.scalar(query)
    if cursor is not None:
        return cursor
    try:
        with session.begin_nested():
            session.add(DispatchCursor(name=name, last_event_id=0, gaps={}, updated_at=now))
    except IntegrityError:
        pass  # another dispatcher created it first
    return session.execute(query.execution_options(populate_existing=True)).scalar_one()  # it exists now


def _subscriptions_by_kind_and_type(*, session: Session) -> dict[tuple[str, str], list[Subscription]]:
    index: dict[tuple[str, str], list[Subscription]] = {}
    for subscription in session.scalars(select(Subscription).where(Subscription.status == ACTIVE)):
        for kind in subscription.event_kinds:
            for type_code in subscription.licence_type_codes:
                index.setdefault((kind, type_code), []).append(subscription)
    return index


def _next_events(*, session: Session, cursor: DispatchCursor, batch_size: int):
    gap_ids = [int(k) for k in cursor.gaps]
    condition = LicenceEvent.id > cursor.last_event_id
    if gap_ids:
        condition = or_(condition, LicenceEvent.id.in_(gap_ids))
    query = (
        select(LicenceEvent, Licence, LicenceVersion.identifier)
        .join(Licence, Licence.id == LicenceEvent.licence_id)
        .outerjoin(
            LicenceVersion,
            (LicenceVersion.licence_id == LicenceEvent.licence_id) & (LicenceVersion.version == LicenceEvent.version),
        )
        .where(condition)
        .order_by(LicenceEvent.id)
        .limit(batch_size)
    )
    return list(session.execute(query))


def advance_cursor(cursor: DispatchCursor, *, seen: list[int], now: datetime) -> None:
    """Move the cursor past what was read; remember skipped ids as gaps."""
    gaps = {int(k): v for k, v in cursor.gaps.items()}
    for event_id_ in seen:
        gaps.pop(event_id_, None)
    newer = [i for i in seen if i > cursor.last_event_id]
    if newer:
        top, seen_set = max(newer), set(newer)
        missing = [i for i in range(cursor.last_event_id + 1, top) if i not in seen_set]
        for missing_id in missing[-MAX_GAPS:]:
            gaps.setdefault(missing_id, now.isoformat())
        cursor.last_event_id = top
    horizon = now - GAP_TIMEOUT
    gaps = {i: at for i, at in gaps.items() if datetime.fromisoformat(at) > horizon}
    if len(gaps) > MAX_GAPS:
        log.warning("dispatcher %s: %d skipped ids pending; keeping the newest %d", cursor.name, len(gaps), MAX_GAPS)
        gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
    cursor.gaps = {str(i): at for i, at in sorted(gaps.items())}
    cursor.updated_at = now


def dispatch(*, session: Session, registry_id: str, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> DispatchReport:
    """One round; the caller commits (the cursor moves with the deliveries)."""
    now = now or utcnow()
    report = DispatchReport()
    cursor = locked_cursor(session=session, now=now)
    rows = _next_events(session=session, cursor=cursor, batch_size=batch_size)
    index = _subscriptions_by_kind_and_type(session=session) if rows else {}
    agreed: dict[tuple[str, str], bool] = {}
    for event, licence, identifier in rows:
        report.events += 1
        kind = KIND_BY_ACTION.get(event.action)
        if kind is None:
            continue
        payload = None
        for subscription in index.get((kind, licence.type_code), []):
            if event.at < subscription.created_at:
                continue  # a subscription starts when it is made; it is not a history export
            # The agreement is checked per event: a revoked or expired one stops the pushes.
            key = (subscription.department_code, licence.type_code)
            if key not in agreed:
                agreed[key] = has_active_agreement(
                    session=session, consumer_code=key[0], licence_type_code=key[1], now=now
                )
            if not agreed[key]:
                report.skipped_no_agreement += 1
                continue
            payload = payload or event_payload(registry_id=registry_id, event=event, licence=licence, identifier=identifier)
            enqueue(session=session, event_id=payload["id"], subscriber_key=subscriber_key(subscription.id),
                    url=subscription.callback_url, payload=payload, now=now)
            report.enqueued += 1
            report.event_ids.append(payload["id"])
    advance_cursor(cursor, seen=[row[0].id for row in rows], now=now)
    session.flush()
    report.cursor, report.gaps = cursor.last_event_id, len(cursor.gaps)
    return report


@dataclass
class WebhookWorker:
    """Dispatch, then deliver: what `certhub webhooks run` and the app's
    background thread do every round."""

    sessions: sessionmaker[Session]
    key_secret: bytes
    registry_id: str
    policy: CallbackPolicy
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    client: Requester | None = None
    egress: Egress = DIRECT  # the proxy of the client built here, when none is given

    def __post_init__(self) -> None:
        self._owns_client = self.client is None
        if self.client is None:
            self.client = delivery_client(policy=self.policy, egress=self.egress)
        self._client: Requester = self.client  # the one in use, given or made here

    def run_once(self, *, now: datetime | None = None) -> tuple[DispatchReport, DeliveryReport]:
        now = now or utcnow()
        with self.sessions() as session, session.begin():
            dispatched = dispatch(session=session, registry_id=self.registry_id, now=now)
        with self.sessions() as session, session.begin():
            delivered = deliver_due(
                session=session, now=now, client=self._client,
                secret_for=secrets_by_subscriber(session=session, key_secret=self.key_secret),
                policy=self.retry_policy,
            )
        return dispatched, delivered

    def run(self, *, interval_s: float, stop: threading.Event) -> None:
        """Until `stop` is set; failures are logged (no payloads) and retried next round."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as error:  # noqa: BLE001 - the loop must survive to retry
                log.error("webhook round failed: %s", type(error).__name__)
            stop.wait(interval_s)

    def close(self) -> None:
        if self._owns_client and isinstance(self.client, GuardedClient):
            self.client.close()
