"""Partitioned tables on PostgreSQL: licences and their versions and 亮证
presentations hash-partitioned, the authorized-use log range-partitioned by
leaf index. Existing rows are copied over; SQLite stays as it is.

- ``registry_licences``: HASH (holder_code), so a holder's wallet is one
  partition's index. A unique constraint on a partitioned table must include
  the partition key, so the global guarantees (one licence per base
  identifier, per type/issuer/serial, per status-list slot; one row per id)
  move to ``registry_licence_keys``, an unpartitioned table of those columns
  with the same constraint names, filled by a statement trigger in the same
  statement as the licence and tied to it by a foreign key on the licence's
  full key. Foreign keys that referenced ``registry_licences(id)`` reference
  ``registry_licence_keys(licence_id)``, with the same names and actions.
- ``registry_licence_versions``: HASH (licence_id): a licence's versions are
  one partition, and (licence_id, version) stays a constraint. The version
  identifier's global uniqueness moves to ``registry_licence_version_keys``
  the same way.
- ``registry_presentations``: HASH (id), the code's random cti: redemption
  looks a code up by id (one partition), the primary key stays (id) and the
  redemptions' foreign key and one-time unique constraint stay as they were.
- ``auditlog_entries``: RANGE (leaf_index). Pending rows (no index yet) and
  any index past the last range partition land in the DEFAULT partition; the
  integrator's UPDATE moves a row into its range partition (as costly as the
  non-HOT update it already was). (leaf_index) stays unique. The primary key
  on id cannot stay (it would have to include the nullable leaf index): the
  id becomes GENERATED ALWAYS AS IDENTITY, so only the sequence gives ids.
  Later partitions are created ahead by the checkpointer
  (``storage.partitions.extend_range_partitions``).

See docs/partitioning.md. The partition counts and width below are fixed
here (a migration never imports application code).

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

from typing import NamedTuple

from alembic import op
from sqlalchemy import text

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

HASH_PARTITIONS = 16
# Entries per log partition: a multiple of the 256-leaf tile width, so an
# entry bundle never spans two partitions; ~10 GB of rows per partition.
LOG_PARTITION_WIDTH = 1 << 24
LOG_PARTITIONS_AHEAD = 2


class _Layout(NamedTuple):
    """A table's constraints and indexes in one shape (plain or partitioned)."""

    constraints: list[str]  # "name DEFINITION" for ALTER TABLE ... ADD CONSTRAINT
    indexes: list[str] = []  # noqa: RUF012 - "name (columns)" for CREATE INDEX name ON table (columns)


_LICENCE_INDEXES = [
    "ix_registry_licences_holder_code (holder_code)",
    "ix_registry_licences_issuer_code (issuer_code)",
    "ix_registry_licences_status (status)",
    "ix_registry_licences_type_code (type_code)",
    "ix_registry_licences_valid_until (valid_until)",
]
_LICENCE_STATUS_LIST_FK = ("fk_registry_licences_status_list_id_registry_status_lists"
                           " FOREIGN KEY (status_list_id) REFERENCES registry_status_lists (id)")
_LICENCE_UNIQUES = [
    "uq_registry_licences_base_identifier UNIQUE (base_identifier)",
    "uq_registry_licences_status_list_id_status_index UNIQUE (status_list_id, status_index)",
    "uq_registry_licences_type_code_issuer_code_serial UNIQUE (type_code, issuer_code, serial)",
]
_PLAIN_LICENCES = _Layout(["pk_registry_licences PRIMARY KEY (id)", *_LICENCE_UNIQUES, _LICENCE_STATUS_LIST_FK],
                          _LICENCE_INDEXES)
_PARTITIONED_LICENCES = _Layout(
    ["pk_registry_licences PRIMARY KEY (id, holder_code)", _LICENCE_STATUS_LIST_FK],
    # Lookups by identifier probe each partition's index; uniqueness is the keys table's.
    [*_LICENCE_INDEXES, "ix_registry_licences_base_identifier (base_identifier)"],
)

_VERSION_FK_PLAIN = ("fk_registry_licence_versions_licence_id_registry_licences FOREIGN KEY (licence_id)"
                     " REFERENCES registry_licences (id) ON DELETE CASCADE")
_PLAIN_VERSIONS = _Layout([
    "pk_registry_licence_versions PRIMARY KEY (id)",
    "uq_registry_licence_versions_identifier UNIQUE (identifier)",
    "uq_registry_licence_versions_licence_id_version UNIQUE (licence_id, version)",
])
_PARTITIONED_VERSIONS = _Layout([
    "pk_registry_licence_versions PRIMARY KEY (id, licence_id)",
    "uq_registry_licence_versions_licence_id_version UNIQUE (licence_id, version)",
], ["ix_registry_licence_versions_identifier (identifier)"])

_PRESENTATIONS = _Layout([
    "pk_registry_presentations PRIMARY KEY (id)",
    "fk_registry_presentations_delegation_id_registry_delegations FOREIGN KEY (delegation_id)"
    " REFERENCES registry_delegations (id)",
], ["ix_registry_presentations_holder_code (holder_code)", "ix_registry_presentations_short_code (short_code)"])

_LOG_INDEXES = [
    "ix_auditlog_entries_basis (basis)",
    "ix_auditlog_entries_dept_time (department_code, recorded_at)",
    "ix_auditlog_entries_matter_code (matter_code)",
    "ix_auditlog_entries_operator_id (operator_id)",
    "ix_auditlog_entries_pending (leaf_index, id)",
    "ix_auditlog_entries_recorded_at (recorded_at)",
    "ix_auditlog_entries_subject_code (subject_code)",
]
_PLAIN_LOG = _Layout(["pk_auditlog_entries PRIMARY KEY (id)",
                      "uq_auditlog_entries_leaf_index UNIQUE (leaf_index)"], _LOG_INDEXES)
# The auditor's search pages by id: each partition's id index feeds one merge.
_PARTITIONED_LOG = _Layout(["uq_auditlog_entries_leaf_index UNIQUE (leaf_index)"],
                           [*_LOG_INDEXES, "ix_auditlog_entries_id (id)"])

# Foreign keys to a licence's id, by referencing table: (name, ON DELETE action).
_LICENCE_REFERENCES = {
    "registry_idempotency_keys": ("fk_registry_idempotency_keys_licence_id_registry_licences", ""),
    "registry_licence_copies": ("fk_registry_licence_copies_licence_id_registry_licences", " ON DELETE CASCADE"),
    "registry_licence_events": ("fk_registry_licence_events_licence_id_registry_licences", " ON DELETE CASCADE"),
    "registry_imported_licences": ("fk_registry_imported_licences_licence_id_registry_licences",
                                   " ON DELETE CASCADE"),
    "registry_licence_disputes": ("fk_registry_licence_disputes_licence_id_registry_licences", " ON DELETE CASCADE"),
}
_REDEMPTION_FK = ("registry_redemptions", "fk_registry_redemptions_presentation_id_registry_presentations",
                  "FOREIGN KEY (presentation_id) REFERENCES registry_presentations (id)")

# The global keys tables and the triggers that fill them. Statement triggers
# with a transition table: one INSERT ... SELECT per statement, so a COPY of
# a batch (registry.service.bulk) costs one more statement, not one per row.
# SET search_path FROM CURRENT: the functions find their tables in the schema
# the migration ran in, whatever the inserting session's search_path.
_KEYS_TABLES = """
CREATE TABLE registry_licence_keys (
    licence_id integer NOT NULL,
    holder_code varchar(18) NOT NULL,
    base_identifier varchar(100) NOT NULL,
    type_code varchar(21) NOT NULL,
    issuer_code varchar(18) NOT NULL,
    serial varchar(30) NOT NULL,
    status_list_id integer NOT NULL,
    status_index integer NOT NULL
);
CREATE TABLE registry_licence_version_keys (
    version_id integer NOT NULL,
    licence_id integer NOT NULL,
    identifier varchar(110) NOT NULL
);
"""
# Added once the keys tables are filled: one index build each, not one insert per row.
_KEYS_CONSTRAINTS = [
    ("registry_licence_keys", "pk_registry_licence_keys PRIMARY KEY (licence_id)"),
    ("registry_licence_keys", "uq_registry_licences_base_identifier UNIQUE (base_identifier)"),
    ("registry_licence_keys",
     "uq_registry_licences_type_code_issuer_code_serial UNIQUE (type_code, issuer_code, serial)"),
    ("registry_licence_keys",
     "uq_registry_licences_status_list_id_status_index UNIQUE (status_list_id, status_index)"),
    ("registry_licence_keys", "fk_registry_licence_keys_licence FOREIGN KEY (licence_id, holder_code)"
     " REFERENCES registry_licences (id, holder_code) ON DELETE CASCADE ON UPDATE CASCADE"),
    ("registry_licence_version_keys", "pk_registry_licence_version_keys PRIMARY KEY (version_id)"),
    ("registry_licence_version_keys", "uq_registry_licence_versions_identifier UNIQUE (identifier)"),
    ("registry_licence_version_keys", "fk_registry_licence_version_keys_version FOREIGN KEY (version_id, licence_id)"
     " REFERENCES registry_licence_versions (id, licence_id) ON DELETE CASCADE ON UPDATE CASCADE"),
]
_KEYS_TRIGGERS = """
CREATE FUNCTION registry_licence_keys_add() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO registry_licence_keys (licence_id, holder_code, base_identifier, type_code, issuer_code, serial,
                                       status_list_id, status_index)
    SELECT id, holder_code, base_identifier, type_code, issuer_code, serial, status_list_id, status_index
    FROM inserted;
    RETURN NULL;
END $$;
CREATE TRIGGER registry_licence_keys_add AFTER INSERT ON registry_licences
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION registry_licence_keys_add();
CREATE FUNCTION registry_licence_keys_change() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE registry_licence_keys
    SET base_identifier = NEW.base_identifier, type_code = NEW.type_code, issuer_code = NEW.issuer_code,
        serial = NEW.serial, status_list_id = NEW.status_list_id, status_index = NEW.status_index
    WHERE licence_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER registry_licence_keys_change AFTER UPDATE ON registry_licences FOR EACH ROW
    WHEN ((OLD.base_identifier, OLD.type_code, OLD.issuer_code, OLD.serial, OLD.status_list_id, OLD.status_index)
          IS DISTINCT FROM
          (NEW.base_identifier, NEW.type_code, NEW.issuer_code, NEW.serial, NEW.status_list_id, NEW.status_index))
    EXECUTE FUNCTION registry_licence_keys_change();

CREATE FUNCTION registry_licence_version_keys_add() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT
AS $$
BEGIN
    INSERT INTO registry_licence_version_keys (version_id, licence_id, identifier)
    SELECT id, licence_id, identifier FROM inserted;
    RETURN NULL;
END $$;
CREATE TRIGGER registry_licence_version_keys_add AFTER INSERT ON registry_licence_versions
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION registry_licence_version_keys_add();
CREATE FUNCTION registry_licence_version_keys_change() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE registry_licence_version_keys SET identifier = NEW.identifier WHERE version_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER registry_licence_version_keys_change AFTER UPDATE ON registry_licence_versions FOR EACH ROW
    WHEN (OLD.identifier IS DISTINCT FROM NEW.identifier) EXECUTE FUNCTION registry_licence_version_keys_change();
"""

_DROP_KEYS_DDL = """
DROP TABLE registry_licence_version_keys;
DROP FUNCTION registry_licence_version_keys_add() CASCADE;
DROP FUNCTION registry_licence_version_keys_change() CASCADE;
DROP TABLE registry_licence_keys;
DROP FUNCTION registry_licence_keys_add() CASCADE;
DROP FUNCTION registry_licence_keys_change() CASCADE;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite stays unpartitioned
    _drop_licence_references()
    _drop("registry_licence_versions", "fk_registry_licence_versions_licence_id_registry_licences")
    _drop(*_REDEMPTION_FK[:2])
    _rebuild("registry_licences", "HASH (holder_code)", _hash_partitions("registry_licences"), _PARTITIONED_LICENCES)
    _rebuild("registry_licence_versions", "HASH (licence_id)", _hash_partitions("registry_licence_versions"),
             _PARTITIONED_VERSIONS)
    _rebuild("registry_presentations", "HASH (id)", _hash_partitions("registry_presentations"), _PRESENTATIONS)
    _rebuild("auditlog_entries", "RANGE (leaf_index)", _log_partitions(), _PARTITIONED_LOG)
    _log_ids_from_identity()
    op.execute(_KEYS_TABLES)
    op.execute("""
        INSERT INTO registry_licence_keys SELECT id, holder_code, base_identifier, type_code, issuer_code, serial,
            status_list_id, status_index FROM registry_licences;
        INSERT INTO registry_licence_version_keys SELECT id, licence_id, identifier FROM registry_licence_versions;
    """)
    for table, constraint in _KEYS_CONSTRAINTS:
        _add(table, constraint)
    op.execute(_KEYS_TRIGGERS)
    _add_licence_references(target="registry_licence_keys (licence_id)")
    _add("registry_licence_versions", "fk_registry_licence_versions_licence_id_registry_licences"
         " FOREIGN KEY (licence_id) REFERENCES registry_licence_keys (licence_id) ON DELETE CASCADE")
    _add(_REDEMPTION_FK[0], f"{_REDEMPTION_FK[1]} {_REDEMPTION_FK[2]}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _drop_licence_references()
    _drop("registry_licence_versions", "fk_registry_licence_versions_licence_id_registry_licences")
    _drop(*_REDEMPTION_FK[:2])
    op.execute(_DROP_KEYS_DDL)
    _log_ids_from_serial()
    _rebuild("auditlog_entries", None, [], _PLAIN_LOG)
    _rebuild("registry_presentations", None, [], _PRESENTATIONS)
    _rebuild("registry_licence_versions", None, [], _PLAIN_VERSIONS)
    _rebuild("registry_licences", None, [], _PLAIN_LICENCES)
    _add("registry_licence_versions", _VERSION_FK_PLAIN)
    _add_licence_references(target="registry_licences (id)")
    _add(_REDEMPTION_FK[0], f"{_REDEMPTION_FK[1]} {_REDEMPTION_FK[2]}")


def _rebuild(table: str, partition_by: str | None, partitions: list[str], layout: _Layout) -> None:
    """Copy ``table`` into a new table of the same columns and defaults,
    partitioned by ``partition_by`` (``partitions``: each one's bound) or
    plain, and let it take the old one's name, sequence and ``layout``."""
    sequence = op.get_bind().execute(text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}).scalar()
    if sequence is not None:  # kept: the new table's id default draws from it
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    staged = f"{table}_staged"
    suffix = f" PARTITION BY {partition_by}" if partition_by else ""
    op.execute(f"CREATE TABLE {staged} (LIKE {table} INCLUDING DEFAULTS INCLUDING STORAGE){suffix}")
    for bound in partitions:
        name, _, clause = bound.partition(" ")
        op.execute(f"CREATE TABLE {name} PARTITION OF {staged} {clause}")
    op.execute(f"INSERT INTO {staged} SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {staged} RENAME TO {table}")
    if sequence is not None:
        op.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
    for constraint in layout.constraints:
        _add(table, constraint)
    for index in layout.indexes:
        name, _, columns = index.partition(" ")
        op.execute(f"CREATE INDEX {name} ON {table} {columns}")


def _hash_partitions(table: str) -> list[str]:
    return [f"{table}_p{remainder:02d} FOR VALUES WITH (MODULUS {HASH_PARTITIONS}, REMAINDER {remainder})"
            for remainder in range(HASH_PARTITIONS)]


def _log_partitions() -> list[str]:
    """Range partitions from 0 past the highest index sequenced so far, plus
    the DEFAULT one (pending rows, and the safety net past the last range)."""
    size = op.get_bind().execute(text(
        "SELECT greatest((SELECT coalesce(max(size), 0) FROM auditlog_state),"
        " (SELECT coalesce(max(leaf_index) + 1, 0) FROM auditlog_entries))")).scalar() or 0
    count = size // LOG_PARTITION_WIDTH + 1 + LOG_PARTITIONS_AHEAD
    bounds = [f"auditlog_entries_from_{n * LOG_PARTITION_WIDTH} FOR VALUES FROM ({n * LOG_PARTITION_WIDTH})"
              f" TO ({(n + 1) * LOG_PARTITION_WIDTH})" for n in range(count)]
    return [*bounds, "auditlog_entries_pending DEFAULT"]


def _log_ids_from_identity() -> None:
    """The id from an identity column no INSERT may override, continuing the serial's sequence."""
    next_id = op.get_bind().execute(text(
        "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM auditlog_entries_id_seq")).scalar()
    op.execute("ALTER TABLE auditlog_entries ALTER COLUMN id DROP DEFAULT")
    op.execute("DROP SEQUENCE auditlog_entries_id_seq")
    op.execute(f"ALTER TABLE auditlog_entries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY"
               f" (SEQUENCE NAME auditlog_entries_id_seq START WITH {int(next_id)})")


def _log_ids_from_serial() -> None:
    next_id = op.get_bind().execute(text(
        "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM auditlog_entries_id_seq")).scalar()
    op.execute("ALTER TABLE auditlog_entries ALTER COLUMN id DROP IDENTITY")
    op.execute(f"CREATE SEQUENCE auditlog_entries_id_seq START WITH {int(next_id)}")
    op.execute("ALTER TABLE auditlog_entries ALTER COLUMN id SET DEFAULT nextval('auditlog_entries_id_seq')")
    op.execute("ALTER SEQUENCE auditlog_entries_id_seq OWNED BY auditlog_entries.id")


def _drop_licence_references() -> None:
    for table, (name, _action) in _LICENCE_REFERENCES.items():
        _drop(table, name)


def _add_licence_references(*, target: str) -> None:
    for table, (name, action) in _LICENCE_REFERENCES.items():
        _add(table, f"{name} FOREIGN KEY (licence_id) REFERENCES {target}{action}")


def _add(table: str, constraint: str) -> None:
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {constraint}")


def _drop(table: str, name: str) -> None:
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
