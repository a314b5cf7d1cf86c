"""The catalog's exception family. Domain errors carry no HTTP status; the
app maps them in one table."""

from __future__ import annotations

# Identifiers and callers are identity's (identity.errors); the catalog's codes raise its InvalidCode.


class CatalogError(Exception):
    code = "catalog_error"


class InvalidCatalog(CatalogError):
    """A catalog document or entry breaks a rule; the message names where."""

    code = "invalid_catalog"


class UnknownReference(InvalidCatalog):
    code = "unknown_reference"


class DuplicateEntry(InvalidCatalog):
    code = "duplicate"


class NotFound(CatalogError):
    code = "not_found"


class UnknownMatter(NotFound):
    """A code that names no matter of the catalog (`matters.require_existing`)."""

    def __init__(self, matter_code: object) -> None:
        super().__init__(f"{matter_code!r} is not a matter in the catalog")
        self.matter_code = matter_code
