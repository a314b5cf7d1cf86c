"""Aggregation sources: CSV in the encodings legacy systems export, XLSX
sheets, and one SQL query on a real SQLite file and the CI PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from adapters.imports import ImportSourceError, csv_source, sql_source, xlsx_source
from adapters.imports.readers import ArchiveLimits, check_query
from tests.adapters.databases import BACKENDS, provider_database

TEXT = "编号,姓名,地址\nA1,张三,福州市鼓楼区\n\nA2,\"李,四\",\"多行\n地址\"\nA3,王五,厦门\n"


def read_all(source):
    with source.open() as opened:
        return opened.columns, list(opened.rows)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    path = tmp_path / "legacy.csv"
    path.write_bytes(TEXT.encode(encoding))
    source = csv_source(path)
    columns, rows = read_all(source)
    assert columns == ("编号", "姓名", "地址")
    assert [(r.ordinal, r.row, r.values["编号"]) for r in rows] == [(1, 2, "A1"), (2, 4, "A2"), (3, 5, "A3")]
    assert rows[1].values == {"编号": "A2", "姓名": "李,四", "地址": "多行\n地址"}
    assert source.total == 3 and source.resumable
    assert source.fingerprint == hashlib.sha256(path.read_bytes()).hexdigest()


def test_csv_rows_with_too_many_or_too_few_cells(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2\n1,2,3,,\n1,2,3,4\n", encoding="utf-8")
    _columns, rows = read_all(csv_source(path))
    assert rows[0].values == {"a": "1", "b": "2", "c": ""} and rows[0].problem is None
    assert rows[1].problem is None  # trailing empty cells are no problem
    assert "4 cells but the header names 3" in rows[2].problem


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"a,b,a\n1,2,3\n", "appears twice"),
        (b"a,,b\n", "has no name"),
        (b"a,b\n\xff\xfe\xfa\xfb\n", "neither UTF-8 nor GB18030"),
    ],
)
def test_csv_that_cannot_be_read_is_refused_as_a_whole(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ImportSourceError, match=message):
        read_all(csv_source(path))


def test_malformed_quoting_names_the_row(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('a,b\n1,2\n3,"x"y\n', encoding="utf-8")
    with pytest.raises(ImportSourceError, match="row 3"):
        read_all(csv_source(path, count_rows=False))


def test_xlsx_sheet_values_keep_their_types(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "证照"
    sheet.append(["编号", "成立日期", "注册资本", "代码"])
    sheet.append(["Q1", datetime(2020, 5, 1), 500, 913501001234567890])
    sheet.append([None, None, None, None])
    sheet.append(["Q2", "2021-01-01", 12.5, "91350100MA0000001X"])
    other = workbook.create_sheet("其他")
    other.append(["x"])
    path = tmp_path / "legacy.xlsx"
    workbook.save(path)
    source = xlsx_source(path)
    columns, rows = read_all(source)
    assert columns == ("编号", "成立日期", "注册资本", "代码")
    assert [(r.ordinal, r.row) for r in rows] == [(1, 2), (2, 4)]
    assert rows[0].values["成立日期"] == datetime(2020, 5, 1) and rows[0].values["注册资本"] == 500
    assert source.total == 3  # from the sheet's dimension; blank rows are skipped when read
    assert read_all(xlsx_source(path, sheet="其他"))[0] == ("x",)
    with pytest.raises(ImportSourceError, match="no sheet '缺少'"):
        xlsx_source(path, sheet="缺少")


def test_a_file_that_is_no_workbook_is_refused(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportSourceError, match="not a readable .xlsx"):
        xlsx_source(path)


@pytest.mark.slow
def test_a_workbook_is_measured_against_its_limits_before_it_is_parsed(tmp_path):
    path = tmp_path / "book.xlsx"
    workbook = Workbook()
    workbook.active.append(["名称"] + [f"列{n}" for n in range(40)])
    for n in range(200):
        workbook.active.append([f"row {n}"] + ["同一个值" * 10] * 40)
    workbook.save(path)
    with zipfile.ZipFile(path) as archive:
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
        theme = archive.getinfo("xl/theme/theme1.xml")  # the largest part besides the sheet
    assert read_all(xlsx_source(path))[0][0] == "名称"  # the defaults leave an ordinary workbook alone
    cases = [
        (ArchiveLimits(max_total=sheet.file_size), "the workbook would expand to"),
        (ArchiveLimits(max_sheet=sheet.file_size - 1), "its part xl/worksheets/sheet1.xml would expand to"),
        (ArchiveLimits(max_part=theme.file_size - 1),
         f"its part xl/theme/theme1.xml would expand to {theme.file_size:,} bytes (at most {theme.file_size - 1:,}"),
        (ArchiveLimits(ratio_grace=0, max_ratio=sheet.file_size // sheet.compress_size - 1),
         "refused as a zip bomb, its part xl/worksheets/sheet1.xml"),
        (ArchiveLimits(max_members=3), "members (at most 3)"),
    ]
    for limits, message in cases:
        with pytest.raises(ImportSourceError, match=re.escape(message)):
            xlsx_source(path, limits=limits)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sql_source_streams_one_parametrized_query(backend, tmp_path):
    with provider_database(backend, tmp_path) as db:
        db.run("CREATE TABLE {schema}.licences (reg_no VARCHAR(20), name VARCHAR(100), founded DATE, "
               "capital NUMERIC(12, 2), region VARCHAR(6))")
        db.run("INSERT INTO {schema}.licences VALUES (:reg_no, :name, :founded, :capital, :region)", [
            {"reg_no": f"R{n:03d}", "name": f"企业{n}", "founded": date(2020, 1, n % 28 + 1),
             "capital": float(Decimal("100.50") * n), "region": "350100" if n % 2 else "350200"} for n in range(1, 8)
        ])
        source = sql_source(db.url, query=f"SELECT reg_no, name, founded, capital FROM {db.table('licences')} "
                                          "WHERE region = :region ORDER BY reg_no", params={"region": "350100"},
                            fetch_size=2)
        columns, rows = read_all(source)
        assert columns == ("reg_no", "name", "founded", "capital")
        assert [r.values["reg_no"] for r in rows] == ["R001", "R003", "R005", "R007"]
        assert [(r.ordinal, r.row) for r in rows] == [(1, 1), (2, 2), (3, 3), (4, 4)]
        assert not source.resumable and source.total is None
        first = rows[0].values
        assert str(first["founded"]).startswith("2020-01-02") and Decimal(str(first["capital"])) == Decimal("100.50")
        assert "password" not in source.name

        broken = sql_source(db.url, query="SELECT nothing FROM missing_table")
        with pytest.raises(ImportSourceError, match="the source query failed"):
            read_all(broken)


@pytest.mark.parametrize(
    ("query", "params", "message"),
    [
        ("DELETE FROM t", {}, "must be a SELECT"),
        ("SELECT 1; DROP TABLE t", {}, "single statement"),
        ("SELECT * FROM t WHERE a = :a", {}, "bound parameters"),
        ("SELECT * FROM t", {"a": 1}, "bound parameters"),
    ],
)
def test_queries_are_checked_before_anything_runs(query, params, message):
    with pytest.raises(ImportSourceError, match=message):
        check_query(query, params=params)
