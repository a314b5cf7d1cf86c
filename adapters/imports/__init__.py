"""Licence aggregation (归集): read a department's legacy records (CSV, XLSX
or an SQL query), map them onto a licence type with a mapping file, and
stream them in batches into a sink — the registry's licence importer, wired
in by the composition layer. Runs are journalled, so a killed run resumes.
"""

from adapters.imports.errors import ImportSourceError, InvalidMapping
from adapters.imports.mapping import ImportMapping, MappedRow, RowMapper, RowProblem, default_mapping, load_mapping
from adapters.imports.readers import ImportSource, SourceRow, csv_source, sql_source, xlsx_source
from adapters.imports.report import ErrorReport
from adapters.imports.runner import ImportSummary, Sink, SinkOutcome, run_import

__all__ = [
    "ErrorReport",
    "ImportMapping",
    "ImportSource",
    "ImportSourceError",
    "ImportSummary",
    "InvalidMapping",
    "MappedRow",
    "RowMapper",
    "RowProblem",
    "Sink",
    "SinkOutcome",
    "SourceRow",
    "csv_source",
    "default_mapping",
    "load_mapping",
    "run_import",
    "sql_source",
    "xlsx_source",
]
