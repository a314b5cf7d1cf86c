"""Streaming row readers for aggregation sources: CSV, XLSX and one SQL query.

Every reader yields one row at a time and holds at most one row (plus the
driver's buffer) in memory, whatever the size of the source. A source is
described up front (kind, a fingerprint of what will be read, a row count
when it is cheap to know) and opened once per run.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from adapters.external_db import create_external_engine
from adapters.imports.errors import ImportSourceError

_CHUNK = 1 << 20
MAX_COLUMNS = 1000
MAX_COLUMN_NAME = 200
_SELECT_RE = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One record of the source.

    `ordinal` counts data rows from 1 (what a resumed run skips by); `row`
    is where a clerk finds the record: the spreadsheet row (the header is
    row 1) or the record number of a query.
    """

    ordinal: int
    row: int
    values: Mapping[str, Any]
    problem: str | None = None  # the reader could not split this row; values may be partial


@dataclass(frozen=True)
class OpenedSource:
    columns: tuple[str, ...]
    rows: Iterator[SourceRow]


@dataclass(frozen=True)
class ImportSource:
    kind: str  # csv | xlsx | sql
    name: str  # for the journal and messages: a file name, or a URL without its password
    fingerprint: str  # SHA-256 over what will be read (file bytes, or URL + query + parameters)
    total: int | None  # data rows, when known before reading
    # Whether a rerun may skip the rows a previous run committed: only when
    # the fingerprint pins the content (a file), not for a live database.
    resumable: bool
    _opener: Callable[[], AbstractContextManager[OpenedSource]] = field(repr=False)

    def open(self) -> AbstractContextManager[OpenedSource]:
        return self._opener()


# -- CSV ---------------------------------------------------------------------------------------


def csv_source(path: Path, *, delimiter: str = ",", encoding: str | None = None, count_rows: bool = True) -> ImportSource:
    """A CSV file in UTF-8 (with or without BOM) or GB18030 (GBK, GB2312),
    detected from the bytes unless `encoding` is given."""
    path = Path(path)
    if len(delimiter) != 1 or delimiter in "\r\n\"":
        raise ImportSourceError("the CSV delimiter must be one character other than a quote or a line break")
    if encoding is not None:
        _check_encoding_name(encoding)
        digest = _sha256(path)
        _check_decodes(path, encoding, declared=True)
        chosen = encoding
    else:
        digest, chosen = _scan(path)

    @contextmanager
    def opener() -> Iterator[OpenedSource]:
        with _open_text(path, chosen) as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            header = _csv_header(reader, path=path)
            yield OpenedSource(columns=header, rows=_csv_rows(reader, header))

    total = _count_csv_rows(path, chosen, delimiter) if count_rows else None
    return ImportSource(kind="csv", name=path.name, fingerprint=digest, total=total, resumable=True, _opener=opener)


def _scan(path: Path) -> tuple[str, str]:
    """SHA-256 of the file and its encoding: UTF-8 when every byte decodes
    as UTF-8 (utf-8-sig with a BOM), else GB18030 when that decodes."""
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, bom = True, False
    try:
        with path.open("rb") as handle:
            first = handle.read(_CHUNK)
            bom = first.startswith(codecs.BOM_UTF8)
            chunk = first
            while chunk:
                digest.update(chunk)
                if is_utf8:
                    try:
                        utf8.decode(chunk)
                    except UnicodeDecodeError:
                        is_utf8 = False
                chunk = handle.read(_CHUNK)
            if is_utf8:
                try:
                    utf8.decode(b"", final=True)
                except UnicodeDecodeError:
                    is_utf8 = False
    except OSError as exc:
        raise ImportSourceError(f"cannot read {path.name}: {exc.strerror or type(exc).__name__}") from None
    if is_utf8:
        return digest.hexdigest(), "utf-8-sig" if bom else "utf-8"
    _check_decodes(path, "gb18030")
    return digest.hexdigest(), "gb18030"


def _check_decodes(path: Path, encoding: str, *, declared: bool = False) -> None:
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                what = (f"is not {encoding} text as the mapping declares" if declared
                        else "is neither UTF-8 nor GB18030 text")
                raise ImportSourceError(
                    f"{path.name} {what} (undecodable bytes near byte {offset + exc.start}); "
                    "save it as UTF-8 CSV" + (" or correct source.encoding" if declared else "")
                ) from None
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportSourceError(f"{path.name} ends in the middle of a character; the file is truncated") from None


def _check_encoding_name(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportSourceError(f"unknown text encoding {encoding!r}") from None


@contextmanager
def _open_text(path: Path, encoding: str):
    try:
        handle = path.open("r", encoding=encoding, newline="")
    except OSError as exc:
        raise ImportSourceError(f"cannot read {path.name}: {exc.strerror or type(exc).__name__}") from None
    with handle:
        yield handle


def _csv_header(reader, *, path: Path) -> tuple[str, ...]:
    try:
        first = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ImportSourceError(f"{path.name}: the header line cannot be read ({exc})") from None
    if not first:
        raise ImportSourceError(f"{path.name} is empty: the first line must name the columns")
    return check_columns([cell.strip().lstrip("\ufeff") for cell in first], where=path.name)


def check_columns(names: list[str], *, where: str) -> tuple[str, ...]:
    while names and names[-1] == "":
        names.pop()  # trailing empty header cells (a trailing delimiter) name nothing
    if not names:
        raise ImportSourceError(f"{where}: the header row names no columns")
    if len(names) > MAX_COLUMNS:
        raise ImportSourceError(f"{where}: more than {MAX_COLUMNS} columns")
    for position, name in enumerate(names, start=1):
        if not name:
            raise ImportSourceError(f"{where}: column {position} of the header row has no name")
        if len(name) > MAX_COLUMN_NAME:
            raise ImportSourceError(f"{where}: column {position}'s name is longer than {MAX_COLUMN_NAME} characters")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ImportSourceError(f"{where}: column {name!r} appears twice in the header row")
        seen.add(name)
    return tuple(names)


def _csv_rows(reader, header: tuple[str, ...]) -> Iterator[SourceRow]:
    width = len(header)
    ordinal, row = 0, 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # SPEC: RFC 4180 §2 — a malformed quoted field; the reader cannot resynchronise.
            raise ImportSourceError(f"row {row + 1}: the CSV is malformed ({exc}); nothing after it can be read") from None
        row += 1
        if not cells or all(cell == "" for cell in cells):
            continue  # blank line
        ordinal += 1
        problem = None
        if len(cells) > width and any(cell.strip() for cell in cells[width:]):
            problem = f"the row has {len(cells)} cells but the header names {width} columns"
        values = dict(zip(header, cells[:width], strict=False))  # a short row: the rest filled below
        for name in header[len(cells):]:
            values[name] = ""
        yield SourceRow(ordinal=ordinal, row=row, values=values, problem=problem)


def _count_csv_rows(path: Path, encoding: str, delimiter: str) -> int | None:
    count = 0
    with _open_text(path, encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        try:
            next(reader, None)
            for cells in reader:
                if cells and any(cell != "" for cell in cells):
                    count += 1
        except csv.Error:
            return None  # the import itself reports where the file breaks
    return count


# -- XLSX --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """What an .xlsx (a ZIP archive) may expand to before anything in it is
    parsed. The sizes are those the archive declares; Python's zipfile never
    inflates a member past its declared size (it stops there and fails the
    CRC check), so a lying header cannot get round them.

    A ratio bound of 100:1 past a grace size is the usual defence of
    spreadsheet readers against zip bombs: real sheets compress far less.
    """

    max_total: int = 2 << 30  # all members together
    max_sheet: int = 1 << 30  # a worksheet: streamed, cell by cell
    max_part: int = 256 << 20  # any other part (shared strings, styles): parsed whole, in memory
    max_ratio: int = 100  # uncompressed / compressed, per member
    ratio_grace: int = 1 << 20  # smaller members may compress better than that: they are harmless
    max_members: int = 10_000


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()
_SHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$")
# What a damaged workbook raises while it is parsed: XML syntax (ElementTree's
# ParseError and lxml's errors are SyntaxErrors; defusedxml's are ValueErrors),
# a broken deflate stream or CRC, a part the package names but does not hold.
_BROKEN_WORKBOOK = (SyntaxError, ValueError, KeyError, IndexError, TypeError, zipfile.BadZipFile, zlib.error,
                    EOFError, OSError)


def xlsx_source(path: Path, *, sheet: str | None = None,
                limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> ImportSource:
    """The first (or the named) sheet of an .xlsx workbook, read in
    openpyxl's read-only (streaming) mode; the first row names the columns.
    The archive's declared sizes are checked against `limits` first."""
    path = Path(path)
    digest = _sha256(path)
    check_archive(path, limits=limits)
    with _workbook(path) as workbook:
        worksheet = _sheet(workbook, sheet, path=path)
        max_row = _parsing(path, lambda: worksheet.max_row)
    total = max_row - 1 if isinstance(max_row, int) and max_row > 1 else None

    @contextmanager
    def opener() -> Iterator[OpenedSource]:
        with _workbook(path) as book:
            rows = _sheet(book, sheet, path=path).iter_rows(values_only=True)
            first = _parsing(path, lambda: next(rows, None))
            if first is None:
                raise ImportSourceError(f"{path.name}: the sheet is empty; its first row must name the columns")
            names = ["" if cell is None else str(cell).strip() for cell in first]
            header = check_columns(names, where=f"{path.name} (sheet header)")
            yield OpenedSource(columns=header, rows=_xlsx_rows(rows, header, path=path))

    return ImportSource(kind="xlsx", name=path.name, fingerprint=digest, total=total, resumable=True, _opener=opener)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise ImportSourceError(f"cannot read {path.name}: {exc.strerror or type(exc).__name__}") from None
    return digest.hexdigest()


def check_archive(path: Path, *, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> None:
    """Refuse a workbook whose members would expand past `limits` (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ImportSourceError(f"{path.name} is not a readable .xlsx workbook ({type(exc).__name__})") from None
    if len(members) > limits.max_members:
        raise ImportSourceError(f"{path.name}: refused, the archive has {len(members):,} members "
                                f"(at most {limits.max_members:,})")
    total = 0
    for member in members:
        size, packed = member.file_size, member.compress_size
        bound = limits.max_sheet if _SHEET_PART.match(member.filename) else limits.max_part
        if size > bound:
            raise ImportSourceError(f"{path.name}: refused, its part {member.filename[:100]} would expand to "
                                    f"{_mib(size)} (at most {_mib(bound)})")
        if size > limits.ratio_grace and size > packed * limits.max_ratio:
            raise ImportSourceError(
                f"{path.name}: refused as a zip bomb, its part {member.filename[:100]} would expand "
                f"{size // max(packed, 1):,} times ({_mib(packed)} to {_mib(size)}; at most {limits.max_ratio} times)"
            )
        total += size
    if total > limits.max_total:
        raise ImportSourceError(f"{path.name}: refused, the workbook would expand to {_mib(total)} "
                                f"(at most {_mib(limits.max_total)})")


def _mib(size: int) -> str:
    return f"{size:,} bytes" if size < 1 << 20 else f"{size / (1 << 20):,.1f} MiB"


def _parsing(path: Path, step: Callable[[], Any]) -> Any:
    try:
        return step()
    except _BROKEN_WORKBOOK as exc:
        raise ImportSourceError(f"{path.name} is damaged: its sheet cannot be read ({type(exc).__name__})") from None


@contextmanager
def _workbook(path: Path):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # Workbooks from other tools often lack a default style; that is no reason to stop.
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, *_BROKEN_WORKBOOK) as exc:
        raise ImportSourceError(f"{path.name} is not a readable .xlsx workbook ({type(exc).__name__})") from None
    try:
        yield workbook
    finally:
        workbook.close()


def _sheet(workbook, name: str | None, *, path: Path):
    if not workbook.sheetnames:
        raise ImportSourceError(f"{path.name} has no sheets")
    if name is None:
        return workbook.worksheets[0]
    if name not in workbook.sheetnames:
        raise ImportSourceError(f"{path.name} has no sheet {name!r} (sheets: {', '.join(workbook.sheetnames)})")
    return workbook[name]


def _xlsx_rows(rows: Iterator[tuple], header: tuple[str, ...], *, path: Path) -> Iterator[SourceRow]:
    width = len(header)
    ordinal, row_number = 0, 1
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        while True:
            try:
                cells = next(rows)
            except StopIteration:
                return
            except _BROKEN_WORKBOOK as exc:
                raise ImportSourceError(f"{path.name} is damaged after row {row_number}: the rest of its sheet "
                                        f"cannot be read ({type(exc).__name__})") from None
            row_number += 1
            if all(cell is None or cell == "" for cell in cells):
                continue
            ordinal += 1
            problem = None
            if len(cells) > width and any(cell not in (None, "") for cell in cells[width:]):
                problem = f"the row has values beyond the {width} named columns"
            values = dict(zip(header, cells[:width], strict=False))  # a short row: the rest filled below
            for name in header[len(cells):]:
                values[name] = None
            yield SourceRow(ordinal=ordinal, row=row_number, values=values, problem=problem)


# -- SQL ---------------------------------------------------------------------------------------


def sql_source(
    url: str, *, query: str, params: Mapping[str, Any] | None = None, fetch_size: int = 1000,
    connect_timeout: int = 10,
) -> ImportSource:
    """One parametrized SELECT against any SQLAlchemy URL, read through a
    server-side cursor (`yield_per`), in a read-only transaction that is rolled back."""
    params = dict(params or {})
    check_query(query, params=params)
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise ImportSourceError("the source database URL is not a valid SQLAlchemy URL") from None
    canonical = json.dumps({"url": shown, "query": query, "params": params}, sort_keys=True, default=str)

    @contextmanager
    def opener() -> Iterator[OpenedSource]:
        engine = create_external_engine(url, connect_timeout=connect_timeout, where="import source")
        try:
            with engine.connect() as connection:
                try:
                    if connection.dialect.name == "postgresql":
                        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                    result = connection.execution_options(stream_results=True, yield_per=fetch_size).execute(
                        text(query), params
                    )
                    header = check_columns([str(k) for k in result.keys()], where="the query's result")
                except SQLAlchemyError as exc:
                    raise ImportSourceError(f"the source query failed ({_cause(exc)})") from None
                try:
                    yield OpenedSource(columns=header, rows=_sql_rows(result, header))
                finally:
                    result.close()
                    connection.rollback()
        finally:
            engine.dispose()

    return ImportSource(kind="sql", name=shown, fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
                        total=None, resumable=False, _opener=opener)


def check_query(query: str, *, params: Mapping[str, Any]) -> None:
    """A single read-only statement; values come only as bound parameters,
    each one given (never spliced into SQL text)."""
    if not isinstance(query, str) or not _SELECT_RE.match(query):
        raise ImportSourceError("the source query must be a SELECT (or WITH ... SELECT)")
    if ";" in query.strip().rstrip(";"):
        raise ImportSourceError("the source query must be a single statement")
    wanted = set(text(query).compile().params)
    if wanted != set(params):
        raise ImportSourceError(
            f"the source query's bound parameters {sorted(wanted)} must be exactly those given {sorted(params)}"
        )


def _sql_rows(result, header: tuple[str, ...]) -> Iterator[SourceRow]:
    try:
        for ordinal, record in enumerate(result, start=1):
            yield SourceRow(ordinal=ordinal, row=ordinal, values=dict(zip(header, record, strict=True)))
    except SQLAlchemyError as exc:
        raise ImportSourceError(f"reading the source query failed ({_cause(exc)})") from None


def _cause(exc: SQLAlchemyError) -> str:
    # The driver's exception class only: its message may quote the query's data.
    return type(getattr(exc, "orig", None) or exc).__name__
