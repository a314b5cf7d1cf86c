"""Source adapters: fetch a catalog data item's records for one subject
from the provider department's own system (HTTP/JSON or SQL)."""

from adapters.sources.registry import BindingRegistry, Source, fetch_records

__all__ = ["BindingRegistry", "Source", "fetch_records"]
