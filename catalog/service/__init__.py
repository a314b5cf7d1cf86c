"""Catalog domain logic. Functions take keyword-only arguments and an explicit
session; the caller commits at the end of its unit of work."""
