"""The catalog: departments and their API clients, licence types, data items
and matters — the book of what exists and what may be shared."""
