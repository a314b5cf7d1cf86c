"""The per-row error report: a CSV a clerk opens in a spreadsheet, one line
per problem, saying where the record is and what to fix.

Columns: row (the spreadsheet row, or the query's record number), source_key,
field (the licence field), column (the source column), code, message.
Holder codes and other personal data stay masked: the row number finds the
record; the report itself may be passed around.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from identity.masking import MaskRule, mask_value

if TYPE_CHECKING:
    from _csv import Writer

COLUMNS = ("row", "source_key", "field", "column", "code", "message")
_CITIZEN_ID = re.compile(r"[0-9]{17}[0-9Xx]")


def masked_key(key: str | None) -> str:
    """A source key that is itself a 身份证号 (or contains one) is masked."""
    if not key:
        return ""
    return _CITIZEN_ID.sub(lambda m: str(mask_value(m.group(0), MaskRule.id_number)), key)


class ErrorReport:
    """Written as problems come (nothing is kept in memory); `count` says how many."""

    def __init__(self, path: Path | None, *, echo: Callable[[str], None] | None = None, echo_limit: int = 20) -> None:
        """`echo` (e.g. the terminal) also gets the first `echo_limit` problems as lines."""
        self.path = Path(path) if path is not None else None
        self.count = 0
        self._echo = echo
        self._echo_limit = echo_limit
        self._handle: IO[str] | None = None
        self._writer: Writer | None = None

    def __enter__(self) -> ErrorReport:
        if self.path is not None:
            # utf-8-sig: spreadsheet programs on Chinese Windows read it as UTF-8 only with a BOM.
            self._handle = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(COLUMNS)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def add(self, *, row: int, source_key: str | None, field: str | None, column: str | None, code: str,
            message: str) -> None:
        self.count += 1
        if self._echo is not None and self.count <= self._echo_limit:
            where = f"row {row}" + (f" ({masked_key(source_key)})" if source_key else "")
            self._echo(f"{where}: {field or column or '-'}: {message}")
        if self._writer is not None:
            self._writer.writerow((row, masked_key(source_key), field or "", column or "", code, message))

    def flush(self) -> None:
        """After each committed batch: the report on disk matches the journal."""
        if self._handle is not None:
            self._handle.flush()
