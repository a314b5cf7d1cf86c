"""`certhub licences issue --csv` and `certhub licences import` as a clerk
runs them: a real database, real files, the summary, the error report, the
exit codes — and a run killed (SIGKILL) halfway through, then rerun."""

from __future__ import annotations

import csv
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from adapters.imports.models import ImportRun
from certhub.cli import app
from certhub.db import create_db_engine, create_sessionmaker, upgrade
from registry.import_models import ImportedLicence
from registry.models import Licence, LicenceVersion
from tests.adapters.databases import BACKENDS, POSTGRES_URL
from tests.environment import REPO_ROOT
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR
from tests.factories.licences import RESIDENCE_PERMIT, build_world, citizen_id
from tests.factories.settings import TEST_SECRET

pytestmark = pytest.mark.slow  # imports whole files through the CLI

runner = CliRunner()
HEADER = ["source_key", "holder_name", "holder_code", "valid_from", "valid_until", "address", "floor_area"]


def resident_row(n: int, *, address: str | None = None) -> list[str]:
    code = citizen_id(f"3501021990{n % 12 + 1:02d}{n % 28 + 1:02d}{n % 1000:03d}")
    return [f"JZZ{n:06d}", "李四", code, "2025-01-01", "2028-12-31", address or f"福州市鼓楼区{n}号", str(30 + n % 50)]


def write_rows(path: Path, rows: list[list[str]], header=HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def prepare(url: str) -> None:
    engine = create_db_engine(url)
    upgrade(engine)
    with create_sessionmaker(engine)() as session:
        build_world(session)
    engine.dispose()


@pytest.fixture(scope="module")
def template_database(tmp_path_factory) -> Path:
    """A migrated SQLite database with the test world, built once and copied per test."""
    path = tmp_path_factory.mktemp("template") / "certhub.sqlite3"
    prepare(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def env(tmp_path, monkeypatch, template_database):
    monkeypatch.setenv("CERTHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CERTHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("CERTHUB_REGISTRY_ID", "https://registry.test")
    monkeypatch.delenv("CERTHUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("CERTHUB_DEMO", raising=False)
    shutil.copyfile(template_database, tmp_path / "certhub.sqlite3")
    url = f"sqlite:///{tmp_path / 'certhub.sqlite3'}"
    engine = create_engine(url)
    yield tmp_path, engine
    engine.dispose()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def count(engine, model) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model))


def test_bulk_issue_reports_bad_rows_and_reruns_without_duplicates(env):
    directory, engine = env
    rows = [resident_row(n) for n in range(1, 6)]
    rows[1][2] = rows[1][2][:17] + ("0" if rows[1][2][17] != "0" else "1")  # a wrong check digit
    rows[3][3] = "2025/02/30"  # not a date
    path = write_rows(directory / "jzz.csv", rows)
    report = directory / "errors.csv"
    first = run("licences", "issue", "--csv", path, "--type", RESIDENCE_PERMIT, "--issuer", CITY_SAMR,
                "--errors", report)
    assert first.exit_code == 1, first.output
    assert "issued 3, changed 0, unchanged 0, failed 2" in first.stdout
    assert "completed" in first.stdout and "rows/s" in first.stdout
    assert f"see {report}" in first.stderr
    assert "importing" in first.stderr and "5/5" in first.stderr and "rows/s" in first.stderr  # the progress bar
    with report.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert [(line["row"], line["field"], line["code"]) for line in lines] == [
        ("3", "holder.code", "invalid_holder"), ("5", "valid_from", "bad_date")]
    assert "wrong check character" in lines[0]["message"]
    assert "'2025/02/30' is not a date of the form YYYY-MM-DD" in lines[1]["message"]
    assert count(engine, Licence) == 3

    again = run("licences", "issue", "--csv", path, "--type", RESIDENCE_PERMIT, "--issuer", CITY_SAMR)
    assert again.exit_code == 1
    assert "issued 0, changed 0, unchanged 3, failed 2" in again.stdout
    assert "row 3" in again.stderr and "--errors" in again.stderr  # without a report file, the terminal gets them
    assert rows[1][2] not in again.stderr  # the holder code is not printed

    rows[1], rows[3] = resident_row(2), resident_row(4)
    rows[4] = resident_row(5, address="福州市仓山区新地址")
    fixed = run("licences", "issue", "--csv", write_rows(path, rows), "--type", RESIDENCE_PERMIT, "--issuer", CITY_SAMR)
    assert fixed.exit_code == 0, fixed.output
    assert "issued 2, changed 1, unchanged 2, failed 0" in fixed.stdout
    assert (count(engine, Licence), count(engine, LicenceVersion)) == (5, 6)


def test_whole_import_problems_exit_2_with_a_clear_message(env):
    directory, _engine = env
    path = write_rows(directory / "jzz.csv", [resident_row(1)])
    unknown_column = write_rows(directory / "odd.csv", [resident_row(1) + ["x"]], header=HEADER + ["colour"])
    cases = [
        (("--csv", unknown_column, "--type", RESIDENCE_PERMIT, "--issuer", CITY_SAMR), "column 'colour' is neither"),
        (("--csv", path, "--type", RESIDENCE_PERMIT[:-1] + "9", "--issuer", CITY_SAMR), "not found"),
        (("--csv", path, "--type", RESIDENCE_PERMIT, "--issuer", CITY_SAMR[:-1] + "0"), "may not issue"),
    ]
    for args, message in cases:
        result = run("licences", "issue", *args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr
    bad_map = directory / "bad.yaml"
    bad_map.write_text("version: 1\nsource: {system: x}\n", encoding="utf-8")
    result = run("licences", "import", "--mapping", bad_map, "--csv", path, "--type", RESIDENCE_PERMIT,
                 "--issuer", CITY_SAMR)
    assert result.exit_code == 2 and "source.key: Field required" in result.stderr
    neither = run("licences", "import", "--mapping", bad_map, "--type", RESIDENCE_PERMIT, "--issuer", CITY_SAMR)
    assert neither.exit_code == 2


BUSINESS_MAPPING = {
    "version": 1,
    "source": {"system": "fz-samr-legacy", "key": "注册号", "query": "SELECT * FROM qyxx WHERE djjg = :office",
               "params": {"office": "350100"}},
    "holder": {"name": "企业名称", "code": {"column": "统一社会信用代码", "transforms": ["strip", "upper"]},
               "code_type": {"value": "001"}},
    "face": {"uscc": {"column": "统一社会信用代码", "transforms": ["strip", "upper"]}, "name": "企业名称",
             "kind": {"column": "企业类型", "map": {"1": "有限责任公司", "2": "个体工商户"}},
             "founded": {"column": "成立日期", "date_format": "%Y%m%d"}},
}
BUSINESS_COLUMNS = ["注册号", "企业名称", "统一社会信用代码", "企业类型", "成立日期", "djjg"]


def business_rows(count_: int) -> list[list]:
    from identity.codes import uscc_check_character

    rows = []
    for n in range(1, count_ + 1):
        first17 = f"91350100MA{n:07d}"
        rows.append([f"3501{n:011d}", f"福州示例{n}有限公司", first17 + uscc_check_character(first17),
                     "1" if n % 3 else "2", f"2020{n % 12 + 1:02d}01", "350100"])
    return rows


def test_import_from_an_xlsx_sheet(env):
    directory, engine = env
    mapping = directory / "samr.yaml"
    mapping.write_text(yaml.safe_dump(BUSINESS_MAPPING, allow_unicode=True), encoding="utf-8")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(BUSINESS_COLUMNS)
    for row in business_rows(7):
        sheet.append([row[0], row[1], row[2], int(row[3]), row[4], row[5]])  # 企业类型 typed as a number
    path = directory / "qyxx.xlsx"
    workbook.save(path)
    args = ("licences", "import", "--mapping", mapping, "--xlsx", path, "--type", BUSINESS_LICENCE, "--issuer", CITY_SAMR)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "issued 7, changed 0, unchanged 0, failed 0" in result.stdout
    assert "issued 0, changed 0, unchanged 7, failed 0" in run(*args).stdout
    with engine.connect() as connection:
        faces = connection.scalars(select(LicenceVersion.face)).all()
    assert {face["kind"] for face in faces} == {"有限责任公司", "个体工商户"}


def test_import_from_an_sql_source(env, monkeypatch):
    directory, engine = env
    source_url = f"sqlite:///{directory / 'legacy.sqlite3'}"
    legacy = create_engine(source_url)
    with legacy.begin() as connection:
        connection.execute(text('CREATE TABLE qyxx ("注册号" TEXT, "企业名称" TEXT, "统一社会信用代码" TEXT, '
                                '"企业类型" TEXT, "成立日期" TEXT, djjg TEXT)'))
        rows = business_rows(6)
        rows[5][5] = "350200"  # another office: not selected by the query's parameter
        connection.execute(text("INSERT INTO qyxx VALUES (:a, :b, :c, :d, :e, :f)"),
                           [dict(zip("abcdef", row, strict=True)) for row in rows])
    legacy.dispose()
    mapping = directory / "samr.yaml"
    mapping.write_text(yaml.safe_dump(BUSINESS_MAPPING, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("LEGACY_DB_URL", source_url)
    result = run("licences", "import", "--mapping", mapping, "--sql-url-env", "LEGACY_DB_URL",
                 "--type", BUSINESS_LICENCE, "--issuer", CITY_SAMR)
    assert result.exit_code == 0, result.output
    assert "issued 5, changed 0, unchanged 0, failed 0" in result.stdout
    assert count(engine, Licence) == 5


# -- killed and rerun -------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def killable_database(request, tmp_path):
    """A certhub database another process can reach: a SQLite file, or a
    PostgreSQL schema of its own named in the URL's search_path."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'certhub.sqlite3'}"
        prepare(url)
        yield url
        return
    schema = f"certhub_kill_{secrets.token_hex(4)}"
    admin = create_db_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        prepare(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_an_import_killed_halfway_and_rerun_holds_exactly_the_source(killable_database, tmp_path, monkeypatch):
    total = 1000
    path = write_rows(tmp_path / "jzz.csv", [resident_row(n) for n in range(1, total + 1)])
    environment = {**os.environ, "CERTHUB_DATABASE_URL": killable_database, "CERTHUB_SECRET_KEY": TEST_SECRET,
                   "CERTHUB_REGISTRY_ID": "https://registry.test", "CERTHUB_DATA_DIR": str(tmp_path),
                   "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-c", "from certhub.cli import main; main()", "licences", "issue", "--csv", str(path),
               "--type", RESIDENCE_PERMIT, "--issuer", CITY_SAMR, "--batch-size", "20"]
    engine = create_db_engine(killable_database)
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        committed = 0
        deadline = time.monotonic() + 120
        while committed < 200 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
            with engine.connect() as connection:
                committed = connection.scalar(select(func.max(ImportRun.committed_position))) or 0
        assert process.poll() is None, "the import finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    with engine.connect() as connection:
        run_row = connection.execute(select(ImportRun)).one()
        licences_at_kill = connection.scalar(select(func.count()).select_from(Licence))
    assert run_row.status == "running" and 200 <= run_row.committed_position < total
    assert licences_at_kill == run_row.committed_position == run_row.issued  # the killed batch left nothing

    for name, value in environment.items():
        if name.startswith("CERTHUB_"):
            monkeypatch.setenv(name, value)
    result = run("licences", "issue", "--csv", path, "--type", RESIDENCE_PERMIT, "--issuer", CITY_SAMR)
    assert result.exit_code == 0, result.output
    # The summary gives this attempt's rows, rate and counts, then the whole run's.
    rest = total - run_row.committed_position
    attempt = re.search(rf"resumed after row {run_row.committed_position:,}\); ([\d,]+) source rows in "
                        r"([\d.]+) s \(([\d,]+) rows/s\)", result.stdout)
    assert attempt is not None, result.stdout
    rows, seconds, rate = int(attempt[1].replace(",", "")), float(attempt[2]), int(attempt[3].replace(",", ""))
    assert rows == rest
    assert rows / (seconds + 0.05) - 1 <= rate <= rows / max(seconds - 0.05, 0.001) + 1  # rows over this attempt's time
    assert f"issued {rest:,}, changed 0, unchanged 0, failed 0\n" in result.stdout
    assert f"the whole run: {total:,} source rows; issued {total:,}, changed 0, unchanged 0, failed 0" in result.stdout
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Licence)) == total
        assert connection.scalar(select(func.count()).select_from(LicenceVersion)) == total
        keys = connection.scalars(select(ImportedLicence.source_key)).all()
        holders = dict(connection.execute(select(ImportedLicence.source_key, Licence.holder_code)
                                          .join(Licence, Licence.id == ImportedLicence.licence_id)).all())
    assert sorted(keys) == [f"JZZ{n:06d}" for n in range(1, total + 1)]
    assert all(holders[f"JZZ{n:06d}"] == resident_row(n)[2] for n in range(1, total + 1))
    engine.dispose()


# -- hostile sources ----------------------------------------------------------------------------

SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
SHARED_STRINGS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def business_workbook(path: Path, rows: int = 3) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(BUSINESS_COLUMNS)
    for row in business_rows(rows):
        sheet.append(row)
    workbook.save(path)
    return path


def rewrite_workbook(source: Path, target: Path, *, edit=lambda name, data: data, drop=(), extra=None) -> Path:
    """A copy of the workbook with some parts edited or dropped; `extra(archive)`
    writes more parts into the new archive."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename not in drop:
                new.writestr(info.filename, edit(info.filename, old.read(info.filename)))
        if extra is not None:
            extra(new)
    return target


def shared_string_bomb(source: Path, target: Path, *, size: int) -> Path:
    """The workbook with its first header cell replaced by one shared string of
    `size` bytes, streamed into the archive in chunks: tiny on disk, huge inflated."""
    def edit(name: str, data: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            return re.sub(rb'<c r="A1"[^>]*>.*?</c>', b'<c r="A1" t="s"><v>0</v></c>', data, count=1)
        if name == "[Content_Types].xml":
            return data.replace(b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" '
                                f'ContentType="{SHARED_STRINGS_TYPE}"/></Types>'.encode())
        if name == "xl/_rels/workbook.xml.rels":
            return data.replace(b"</Relationships>", f'<Relationship Id="rIdBomb" Type="{SHARED_STRINGS_REL}" '
                                f'Target="sharedStrings.xml"/></Relationships>'.encode())
        return data

    def extra(archive: zipfile.ZipFile) -> None:
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
                       b'uniqueCount="1"><si><t>')
            chunk = b"A" * (1 << 20)
            for _ in range(size >> 20):
                part.write(chunk)
            part.write(b"</t></si></sst>")

    return rewrite_workbook(source, target, edit=edit, extra=extra)


def error_lines(result) -> list[str]:
    """The lines after the progress bar: exactly one `error:` line, no traceback."""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("importing ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines


def test_hostile_workbooks_exit_2_with_one_line_before_anything_is_loaded(env):
    directory, engine = env
    mapping = directory / "samr.yaml"
    mapping.write_text(yaml.safe_dump(BUSINESS_MAPPING, allow_unicode=True), encoding="utf-8")
    good = business_workbook(directory / "good.xlsx")
    bomb = shared_string_bomb(good, directory / "bomb.xlsx", size=64 << 20)
    assert bomb.stat().st_size < 200_000
    broken_sheet = rewrite_workbook(good, directory / "broken.xlsx", edit=lambda name, data: (
        data.replace(b"</row><row", b"</row><rowx", 1) if name == "xl/worksheets/sheet1.xml" else data))
    no_sheets = rewrite_workbook(good, directory / "empty.xlsx", edit=lambda name, data: (
        re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", data) if name == "xl/workbook.xml" else data))
    cases = [
        (bomb, "bomb.xlsx: refused as a zip bomb, its part xl/sharedStrings.xml would expand"),
        (broken_sheet, "broken.xlsx is damaged after row 1: the rest of its sheet cannot be read (ParseError)"),
        (no_sheets, "empty.xlsx has no sheets"),
    ]
    for path, message in cases:
        result = run("licences", "import", "--mapping", mapping, "--xlsx", path, "--type", BUSINESS_LICENCE,
                     "--issuer", CITY_SAMR)
        assert result.exit_code == 2, result.output
        [line] = error_lines(result)
        assert line.startswith(f"error: import_source_error: {message}"), line
    assert count(engine, Licence) == 0


def test_bytes_the_declared_encoding_cannot_decode_exit_2(env):
    directory, engine = env
    mapping = directory / "samr.yaml"
    declared = {**BUSINESS_MAPPING, "source": {**BUSINESS_MAPPING["source"], "encoding": "utf-8"}}
    mapping.write_text(yaml.safe_dump(declared, allow_unicode=True), encoding="utf-8")
    path = directory / "qyxx.csv"
    with path.open("w", encoding="gb18030", newline="") as handle:  # GB18030 bytes where UTF-8 is declared
        writer = csv.writer(handle)
        writer.writerow(BUSINESS_COLUMNS)
        writer.writerows(business_rows(3))
    result = run("licences", "import", "--mapping", mapping, "--csv", path, "--type", BUSINESS_LICENCE,
                 "--issuer", CITY_SAMR)
    assert result.exit_code == 2, result.output
    [line] = error_lines(result)
    assert "qyxx.csv is not utf-8 text as the mapping declares (undecodable bytes near byte 2)" in line
    assert count(engine, Licence) == 0
