"""Path and query parameter types every package's router shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# SQL BIGINT, the widest integer either database stores: every row id and
# log index fits. A larger number names nothing, and the drivers cannot even
# bind it (SQLite raises OverflowError), so it is refused at the boundary
# with a 422 rather than reaching them as a 500.
MAX_SQL_INTEGER = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_SQL_INTEGER, description="A row id (1 to 2^63-1).")]
