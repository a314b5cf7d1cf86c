"""The import runner: stream the source's rows through the mapper into a
sink in batches, one transaction per batch, with the batch's journal step in
the same transaction; report bad rows; report progress.

A run killed at any moment resumes from the last committed batch. Whatever
happens, the sink is what makes a rerun safe: it is idempotent by source
record key, so reading a row twice never issues a licence twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from adapters.imports import journal
from adapters.imports.mapping import MappedRow, RowMapper, RowProblem
from adapters.imports.models import RunStatus
from adapters.imports.readers import ImportSource
from adapters.imports.report import ErrorReport
from storage.base import utcnow

DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 10_000

Progress = Callable[[int, int | None], None]  # (source rows done, total when known)


class SinkOutcome(Protocol):
    ordinal: int
    outcome: str  # issued | changed | unchanged | failed
    field: str | None
    code: str | None
    message: str | None


class Sink(Protocol):
    """Where mapped rows go: the registry's licence importer, in the composition layer.

    It must not commit, and must be idempotent by (system, source key): a row
    written again with the same content changes nothing.
    """

    def write_batch(self, *, session: Session, rows: Sequence[MappedRow], run_key: str) -> Sequence[SinkOutcome]: ...


@dataclass(frozen=True)
class AttemptSummary:
    """What this attempt did, apart from the attempts before it: a resumed
    run's rate and counts are those of the rows it read itself."""

    rows: int  # source rows this attempt committed
    issued: int
    changed: int
    unchanged: int
    failed: int
    seconds: float  # from the first row read to the last batch committed


@dataclass(frozen=True)
class ImportSummary:
    run_key: str
    status: str
    total: int | None
    done: int  # source rows committed (cumulative over resumed attempts)
    resumed_from: int  # rows a previous attempt had committed and this one skipped
    issued: int  # issued ... failed: the run's, over all its attempts
    changed: int
    unchanged: int
    failed: int
    attempt: AttemptSummary


@dataclass
class _Tally:
    issued: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0


def run_import(
    *,
    sessions: sessionmaker[Session],
    source: ImportSource,
    mapper_for: Callable[[tuple[str, ...]], RowMapper],
    sink: Sink,
    type_code: str,
    issuer_code: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    report: ErrorReport | None = None,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> ImportSummary:
    """Run (or resume) one import. Whole-import problems raise
    (`InvalidMapping`, `ImportSourceError`, the sink's errors); bad rows go to
    `report` and count as failed."""
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be 1 to {MAX_BATCH_SIZE}")
    report = report or ErrorReport(None)
    with source.open() as opened:
        mapper = mapper_for(opened.columns)
        target = journal.RunTarget(
            fingerprint=_fingerprint(source, mapper, type_code=type_code, issuer_code=issuer_code),
            source_kind=source.kind, source_name=source.name, source_system=mapper.system, type_code=type_code,
            issuer_code=issuer_code, total_rows=source.total,
        )
        with sessions() as session:
            run = journal.start(session=session, target=target, restart_counts=not source.resumable, now=clock())
            session.commit()
            run_key, skip = run.run_key, run.committed_position
        batch = _Batch(sessions=sessions, sink=sink, run_key=run_key, report=report, clock=clock)
        if skip and progress is not None:
            progress(skip, source.total)  # where the bar starts: the skipped rows are no part of this attempt's rate
        started = time.monotonic()
        try:
            for row in opened.rows:
                if row.ordinal <= skip:
                    continue
                batch.add(row.ordinal, mapper.map(row))
                if batch.size >= batch_size:
                    batch.commit()
                    if progress is not None:
                        progress(batch.position, source.total)
            if batch.commit() and progress is not None:
                progress(batch.position, source.total)
            attempt = batch.attempt(seconds=time.monotonic() - started)
            return _finish(sessions, run_key=run_key, status=RunStatus.COMPLETED, clock=clock, resumed_from=skip,
                           attempt=attempt)
        except KeyboardInterrupt:
            _stopped(sessions, run_key=run_key, status=RunStatus.INTERRUPTED, clock=clock, error="interrupted")
            raise
        except Exception as exc:
            _stopped(sessions, run_key=run_key, status=RunStatus.FAILED, clock=clock, error=_describe(exc))
            raise
        finally:
            batch.close()


def _fingerprint(source: ImportSource, mapper: RowMapper, *, type_code: str, issuer_code: str) -> str:
    canonical = json.dumps(
        {"kind": source.kind, "source": source.fingerprint, "mapping": mapper.digest, "type": type_code,
         "issuer": issuer_code},
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Batch:
    """The rows read since the last commit; at most `batch_size` of them."""

    def __init__(self, *, sessions: sessionmaker[Session], sink: Sink, run_key: str, report: ErrorReport,
                 clock: Callable[[], datetime]) -> None:
        self._session = sessions()
        self._sink = sink
        self._run_key = run_key
        self._report = report
        self._clock = clock
        self._rows: list[MappedRow] = []
        self._problems: list[RowProblem] = []
        self._failed = 0
        self._done = _Tally()  # committed by this attempt
        self._rows_done = 0
        self.size = 0
        self.position = 0

    def add(self, ordinal: int, mapped: MappedRow | list[RowProblem]) -> None:
        if isinstance(mapped, MappedRow):
            self._rows.append(mapped)
        else:
            self._problems.extend(mapped)
            self._failed += 1
        self.size += 1
        self.position = ordinal

    def commit(self) -> bool:
        """Write and commit the rows read since the last commit; False when there were none."""
        if self.size == 0:
            return False
        session = self._session
        tally = _Tally(failed=self._failed)
        problems = list(self._problems)
        try:
            outcomes = (
                self._sink.write_batch(session=session, rows=self._rows, run_key=self._run_key) if self._rows else []
            )
            by_ordinal = {row.ordinal: row for row in self._rows}
            for outcome in outcomes:
                setattr(tally, outcome.outcome, getattr(tally, outcome.outcome) + 1)
                if outcome.outcome == "failed":
                    row = by_ordinal[outcome.ordinal]
                    problems.append(RowProblem(row.row, row.source_key, outcome.field, None,
                                               outcome.code or "refused", outcome.message or "refused"))
            journal.advance(session=session, run_key=self._run_key, position=self.position, issued=tally.issued,
                            changed=tally.changed, unchanged=tally.unchanged, failed=tally.failed, now=self._clock())
            session.commit()
        except BaseException:
            session.rollback()
            raise
        session.expunge_all()  # nothing from past batches stays in memory
        for name in ("issued", "changed", "unchanged", "failed"):
            setattr(self._done, name, getattr(self._done, name) + getattr(tally, name))
        self._rows_done += self.size
        for problem in sorted(problems, key=lambda p: p.row):
            self._report.add(row=problem.row, source_key=problem.source_key, field=problem.field,
                             column=problem.column, code=problem.code, message=problem.message)
        self._report.flush()
        self._rows, self._problems, self._failed, self.size = [], [], 0, 0
        return True

    def attempt(self, *, seconds: float) -> AttemptSummary:
        done = self._done
        return AttemptSummary(rows=self._rows_done, issued=done.issued, changed=done.changed,
                              unchanged=done.unchanged, failed=done.failed, seconds=seconds)

    def close(self) -> None:
        self._session.close()


def _finish(sessions: sessionmaker[Session], *, run_key: str, status: str, clock: Callable[[], datetime],
            resumed_from: int = 0, attempt: AttemptSummary | None = None, error: str | None = None) -> ImportSummary:
    with sessions() as session:
        run = journal.finish(session=session, run_key=run_key, status=status, now=clock(), error=error)
        summary = ImportSummary(
            run_key=run_key, status=run.status, total=run.total_rows, done=run.committed_position,
            resumed_from=resumed_from, issued=run.issued, changed=run.changed, unchanged=run.unchanged,
            failed=run.failed, attempt=attempt or AttemptSummary(0, 0, 0, 0, 0, 0.0),
        )
        session.commit()
        return summary


def _stopped(sessions: sessionmaker[Session], *, run_key: str, status: str, clock: Callable[[], datetime],
             error: str) -> None:
    """Best effort: when the database itself is gone the run stays `running`,
    which resumes just the same; the original error is what the caller sees."""
    try:
        _finish(sessions, run_key=run_key, status=status, clock=clock, error=error)
    except SQLAlchemyError:
        pass


def _describe(exc: BaseException) -> str:
    # Database errors quote the row's values; keep only their class. Our own
    # error families carry a code and messages free of personal data.
    if isinstance(exc, SQLAlchemyError):
        return f"{type(exc).__name__} (database error)"
    code = getattr(exc, "code", None)
    return f"{code or type(exc).__name__}: {exc}"
