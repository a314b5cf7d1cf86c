"""Errors of licence aggregation (归集). Whole-import problems raise; a bad
row never does — it becomes a line of the error report instead."""

from __future__ import annotations

from adapters.errors import AdapterConfigError, AdapterError


class InvalidMapping(AdapterConfigError):
    """The mapping file is malformed or does not fit the licence type or the source's columns."""

    code = "invalid_import_mapping"


class ImportSourceError(AdapterError):
    """The source cannot be read as a whole (encoding, header, unreadable file, failing query)."""

    code = "import_source_error"
