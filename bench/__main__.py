"""Benchmark runner.

Each benchmark is a module `bench/<name>.py` with a `run(args: list[str]) ->
dict` function. The runner prints one JSON line: the benchmark's name, its
own figures and the reference figures it measured in the same run.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys

import bench


def _available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = _available()
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: python -m bench NAME [ARGS...]\navailable: " + ", ".join(names))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in names:
        print(f"unknown benchmark {name!r}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{name}")
    result = module.run(rest)
    print(json.dumps({"benchmark": name, **result}, ensure_ascii=False, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
