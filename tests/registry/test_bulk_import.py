"""Aggregation end to end in one process: a CSV through adapters' runner and
mapper into the registry's importer. Killed halfway and rerun, the registry
holds exactly the source's licences; a rerun changes nothing; one changed
row makes one new version; memory stays flat on a large file."""

from __future__ import annotations

import csv
import gc
import tracemalloc
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.imports import ErrorReport, RowMapper, csv_source, run_import
from adapters.imports.mapping import parse_mapping
from adapters.imports.models import ImportRun
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from registry.import_models import ImportedLicence
from registry.models import Licence, LicenceVersion
from registry.service.bulk import LicenceImporter
from tests.factories.licences import CITY_IMPORTER, RESIDENCE_PERMIT, SIGNER, build_world, citizen_id

pytestmark = pytest.mark.slow  # imports whole files

HEADER = ["编号", "姓名", "身份证号", "居住地址", "面积", "起始日期", "有效期至"]
MAPPING = {
    "version": 1,
    "source": {"system": "fz-jzz-legacy", "key": "编号"},
    "holder": {"name": "姓名", "code": {"column": "身份证号", "transforms": ["strip", "upper"]},
               "code_type": {"value": "111"}},
    "valid_from": {"column": "起始日期", "date_format": ["%Y%m%d", "%Y-%m-%d"]},
    "valid_until": {"column": "有效期至", "date_format": "%Y%m%d"},
    "face": {"address": "居住地址", "floor_area": "面积", "moved_in": {"column": "起始日期", "date_format": "%Y%m%d"}},
}


def source_row(n: int, *, address: str | None = None) -> list[str]:
    first17 = f"3501021990{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}"
    return [f"JZZ{n:07d}", "王小明", citizen_id(first17), address or f"福州市鼓楼区五四路{n}号", str(40 + n % 100),
            "20250101", "20280101"]


def write_csv(path: Path, count: int, *, encoding: str = "utf-8", changes: dict[int, str] | None = None) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(1, count + 1):
            writer.writerow(source_row(n, address=(changes or {}).get(n)))
    return path


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def run(session_factory, path: Path, *, sink=None, batch_size: int = 50, report: ErrorReport | None = None,
        progress=None):
    from catalog.service import licence_types

    with session_factory() as session:
        licence_type = licence_types.get_or_raise(session=session, code=RESIDENCE_PERMIT)
    mapping = parse_mapping(MAPPING)
    return run_import(
        sessions=session_factory, source=csv_source(path),
        mapper_for=lambda columns: RowMapper(mapping, licence_type=licence_type, columns=columns),
        sink=sink or LicenceImporter(actor=CITY_IMPORTER, type_code=RESIDENCE_PERMIT, source_system="fz-jzz-legacy",
                                     signer=SIGNER),
        type_code=RESIDENCE_PERMIT, issuer_code=CITY_IMPORTER.department_code, batch_size=batch_size, report=report,
        progress=progress,
    )


class CrashingSink:
    """The real importer, until the batch holding row `at` — then the process "dies" mid-batch."""

    def __init__(self, at: int) -> None:
        self.inner = LicenceImporter(actor=CITY_IMPORTER, type_code=RESIDENCE_PERMIT, source_system="fz-jzz-legacy",
                                     signer=SIGNER)
        self.at = at

    def write_batch(self, *, session, rows, run_key):
        outcomes = self.inner.write_batch(session=session, rows=rows, run_key=run_key)  # written, not yet committed
        if any(row.ordinal >= self.at for row in rows):
            raise RuntimeError("simulated crash")
        return outcomes


def registry_matches_source(session, count: int, *, changes: dict[int, str] | None = None) -> None:
    """Exactly one live licence per source row, with the row's content."""
    assert session.scalar(select(func.count()).select_from(Licence)) == count
    pairs = session.execute(
        select(ImportedLicence.source_key, Licence, LicenceVersion)
        .join(Licence, Licence.id == ImportedLicence.licence_id)
        .join(LicenceVersion, (LicenceVersion.licence_id == Licence.id)
              & (LicenceVersion.version == Licence.current_version))
    ).all()
    assert len(pairs) == count
    for key, licence, version in pairs:
        n = int(key[3:])
        expected = source_row(n, address=(changes or {}).get(n))
        assert licence.holder_code == expected[2] and licence.valid_until == date(2028, 1, 1)
        assert version.face == {"address": expected[3], "floor_area": int(expected[4]), "moved_in": "2025-01-01"}


def test_killed_halfway_and_rerun_holds_exactly_the_source(tmp_path, session_factory, db_session, world):
    path = write_csv(tmp_path / "jzz.csv", 430)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(session_factory, path, sink=CrashingSink(at=237))
    journal = db_session.scalar(select(ImportRun))
    assert (journal.status, journal.committed_position, journal.issued) == ("failed", 200, 200)
    assert db_session.scalar(select(func.count()).select_from(Licence)) == 200  # the crashed batch left nothing

    summary = run(session_factory, path)
    assert (summary.status, summary.resumed_from, summary.done, summary.issued, summary.failed) == (
        "completed", 200, 430, 430, 0)
    assert summary.run_key == journal.run_key
    registry_matches_source(db_session, 430)
    assert db_session.scalar(select(func.count()).select_from(LicenceVersion)) == 430

    rerun = run(session_factory, path)
    assert (rerun.issued, rerun.changed, rerun.unchanged, rerun.resumed_from) == (0, 0, 430, 0)
    assert rerun.run_key != summary.run_key
    assert db_session.scalar(select(func.count()).select_from(LicenceVersion)) == 430

    changed = write_csv(tmp_path / "jzz-2.csv", 430, changes={321: "福州市台江区新港路7号"})
    after = run(session_factory, changed)
    assert (after.issued, after.changed, after.unchanged) == (0, 1, 429)
    registry_matches_source(db_session, 430, changes={321: "福州市台江区新港路7号"})
    assert db_session.scalar(select(func.count()).select_from(LicenceVersion)) == 431


def test_a_crash_before_the_first_commit_and_an_interrupt_both_resume(tmp_path, session_factory, db_session, world):
    path = write_csv(tmp_path / "jzz.csv", 120)
    with pytest.raises(RuntimeError):
        run(session_factory, path, sink=CrashingSink(at=1))

    class Interrupting(CrashingSink):
        def write_batch(self, *, session, rows, run_key):
            if any(row.ordinal >= self.at for row in rows):
                raise KeyboardInterrupt
            return self.inner.write_batch(session=session, rows=rows, run_key=run_key)

    with pytest.raises(KeyboardInterrupt):
        run(session_factory, path, sink=Interrupting(at=90))
    runs = db_session.scalars(select(ImportRun)).all()
    assert [(r.status, r.committed_position, r.attempts) for r in runs] == [("interrupted", 50, 2)]
    summary = run(session_factory, path)
    assert (summary.resumed_from, summary.issued, summary.done) == (50, 120, 120)
    registry_matches_source(db_session, 120)


def test_progress_is_reported_per_batch(tmp_path, session_factory, world):
    path = write_csv(tmp_path / "jzz.csv", 120)
    seen = []
    run(session_factory, path, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(50, 120), (100, 120), (120, 120)]


def test_memory_stays_flat_as_rows_grow(tmp_path):
    """Traced Python memory while importing 4,000 rows in batches of 200:
    the peak over rows 801-4,000 is no higher than over the first 800 —
    memory does not grow with the source. (One backend suffices: the bound
    is the runner's and the importer's, which hold a batch at most.)"""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'memory.sqlite3'}")
    upgrade(engine)
    sessions = create_sessionmaker(engine)
    with sessions() as session:
        build_world(session)
    count, warm_up = 4_000, 800
    path = write_csv(tmp_path / "large.csv", count)
    peaks = []

    def progress(done, _total):
        if done == warm_up or done == count:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.reset_peak()

    gc.collect()
    tracemalloc.start()
    try:
        summary = run(sessions, path, batch_size=200, progress=progress)
    finally:
        tracemalloc.stop()
    assert summary.issued == count and len(peaks) == 2
    first, rest = peaks
    # Five times the rows, no more memory (keeping the licences would add ~2 KB a row: 10 MB).
    assert rest < first * 1.25 + 512 * 1024, f"peaks {first / 1e6:.1f} MB then {rest / 1e6:.1f} MB"
    assert rest < 16 * 1024 * 1024
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Licence)) == count
    engine.dispose()
