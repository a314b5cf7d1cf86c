"""Runnable benchmarks: `python -m bench NAME` prints one JSON line."""
