"""Range partitions made ahead of the rows that will need them (PostgreSQL).

Migration 0027 range-partitions the use log by leaf index, with a DEFAULT
partition that takes pending rows and, as the safety net, any index past the
last range partition: an insert or a sequencing never fails for want of a
partition. This keeps the range partitions ahead of the data, so the DEFAULT
partition holds only what it is for: one partition of the same width at a
time, past the last, until ``ahead`` partitions lie beyond the key that must
fit. Rows already in the DEFAULT partition within a new partition's range
(the log outgrew its partitions while this did not run) are moved into it
before it is attached, since PostgreSQL refuses to attach a range the
DEFAULT partition holds rows of.

Certhub makes them itself rather than pg_partman: the extension needs a
superuser to install and keeps its configuration in a schema of its own per
database, while certhub's tables may live in any schema (each test run has
one) and its checkpointer, which already runs in every process, knows when
the log grows. The bounds are read from the catalog, so nothing here has to
agree with the migration on a width.

On SQLite, and on a table that is not range-partitioned, it does nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import sql as pg_sql
from sqlalchemy import Connection, text

# pg_get_expr(relpartbound) of a range partition on one integer column.
_RANGE_BOUND = re.compile(r"^FOR VALUES FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)$")
_RANGE_KEY = re.compile(r"^RANGE \((\w+)\)$")
# A partition created for one width past the last; never more at once than
# this, so a wrong `covering` cannot fill the catalog.
MAX_NEW_PARTITIONS = 16


@dataclass(frozen=True)
class _RangeLayout:
    key: str
    upper: int  # the last range partition's upper bound (exclusive)
    width: int
    default: str | None  # the DEFAULT partition's name


def extend_range_partitions(connection: Connection, *, table: str, covering: int, ahead: int) -> list[str]:
    """Create ``table``'s range partitions until ``ahead`` of them lie past the
    one that holds key ``covering``; the names created (none if already so).

    Run in the caller's transaction, which should carry a lock timeout: the
    attach briefly takes an exclusive lock on the DEFAULT partition. Callers
    in several processes are serialised by a lock on ``table`` and each
    re-reads the bounds under it."""
    if connection.dialect.name != "postgresql":
        return []
    layout = _range_layout(connection, table)
    if layout is None or _wanted_upper(layout, covering=covering, ahead=ahead) <= layout.upper:
        return []
    # Self-conflicting, and compatible with reads and writes of the rows.
    connection.execute(text(f"LOCK TABLE {_quoted(connection, table)} IN SHARE UPDATE EXCLUSIVE MODE"))
    layout = _range_layout(connection, table)
    assert layout is not None
    created: list[str] = []
    lower = layout.upper
    while lower < _wanted_upper(layout, covering=covering, ahead=ahead) and len(created) < MAX_NEW_PARTITIONS:
        created.append(_add_partition(connection, table=table, layout=layout, lower=lower))
        lower += layout.width
    return created


def _wanted_upper(layout: _RangeLayout, *, covering: int, ahead: int) -> int:
    """The upper bound of the partition ``ahead`` past the one holding ``covering``."""
    base = layout.upper - layout.width  # the last partition's lower bound: the partitions' grid
    holding = base + ((covering - base) // layout.width) * layout.width
    return holding + (ahead + 1) * layout.width


def _range_layout(connection: Connection, table: str) -> _RangeLayout | None:
    key_definition = connection.execute(
        text("SELECT pg_get_partkeydef(to_regclass(:table))"), {"table": table}).scalar()
    key = _RANGE_KEY.match(key_definition or "")
    if key is None:
        return None
    rows = connection.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:table)"), {"table": table}).all()
    default = next((name for name, bound in rows if bound == "DEFAULT"), None)
    ranges = [(int(match[1]), int(match[2])) for _, bound in rows if (match := _RANGE_BOUND.match(bound))]
    if not ranges:
        return None
    lower, upper = max(ranges, key=lambda bounds: bounds[1])
    return _RangeLayout(key=key[1], upper=upper, width=upper - lower, default=default)


def _add_partition(connection: Connection, *, table: str, layout: _RangeLayout, lower: int) -> str:
    """Create the partition [lower, lower + width), moving its rows out of the
    DEFAULT partition first, and attach it."""
    upper = lower + layout.width
    name = f"{table}_from_{lower}"
    parent, partition = _quoted(connection, table), _quoted(connection, name)
    key = _quoted(connection, layout.key)
    # Standalone first (LIKE copies columns, NOT NULLs and defaults, no identity),
    # so the rows can be moved in before the range is claimed.
    connection.execute(text(f"CREATE TABLE {partition} (LIKE {parent} INCLUDING DEFAULTS INCLUDING STORAGE)"))
    # Attaching scans the partition unless a constraint already proves the bounds.
    connection.execute(text(
        f"ALTER TABLE {partition} ADD CONSTRAINT {_quoted(connection, name + '_bounds')}"
        f" CHECK ({key} IS NOT NULL AND {key} >= {int(lower)} AND {key} < {int(upper)})"))
    if layout.default is not None:
        default = _quoted(connection, layout.default)
        # Taken now rather than by the attach, so no row can enter the range between the move and the attach.
        connection.execute(text(f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE"))
        connection.execute(text(
            f"WITH moved AS (DELETE FROM {default} WHERE {key} >= {int(lower)} AND {key} < {int(upper)}"
            f" RETURNING *) INSERT INTO {partition} SELECT * FROM moved"))
    connection.execute(text(
        f"ALTER TABLE {parent} ATTACH PARTITION {partition} FOR VALUES FROM ({int(lower)}) TO ({int(upper)})"))
    connection.execute(text(f"ALTER TABLE {partition} DROP CONSTRAINT {_quoted(connection, name + '_bounds')}"))
    return name


def _quoted(connection: Connection, identifier: str) -> str:
    """An identifier quoted by the driver (names here come from the catalog or our own code, never a request)."""
    driver = connection.connection.driver_connection
    return pg_sql.Identifier(identifier).as_string(driver)
