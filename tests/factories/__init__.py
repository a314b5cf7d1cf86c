"""Test data builders: plain functions and constants that build the catalog
(departments, licence types, data items, matters), API clients and tokens,
licences, agreements, consents and mandates, and log entries.

Test modules and conftest.py files import from here; no test module imports
another. Fixtures built from these live in the conftest.py of the package
that uses them (tests/conftest.py when every package does).
"""
