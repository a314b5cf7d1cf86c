"""Every third-party module the project imports comes from a distribution
pyproject.toml declares: the application's packages from `dependencies`,
the tests and benchmarks from those and the `test` extra.

An import that only works because some other package pulled its
distribution in (fontTools, starlette, anyio) breaks on the day that
package stops depending on it. Imports inside functions count too.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APPLICATION = ("wiring", "storage", "identity", "catalog", "signing", "registry", "exchange", "adapters", "certhub")
TOOLING = ("tests", "bench")
OWN = set(APPLICATION) | set(TOOLING)


def _normalised(name: str) -> str:
    # SPEC: PEP 503 name normalisation
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(requirements: list[str]) -> set[str]:
    return {_normalised(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line).group(0)) for line in requirements}


def _imported(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Top-level module -> the files importing it, for every absolute import of a third-party module."""
    found: dict[str, set[str]] = {}
    for package in packages:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OWN:
                        found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def _undeclared(packages: tuple[str, ...], declared: set[str]) -> list[str]:
    distributions = packages_distributions()
    problems = []
    for module, files in sorted(_imported(packages).items()):
        providers = {_normalised(name) for name in distributions.get(module, [])}
        if not providers & declared:
            problems.append(f"{module} (installed from {sorted(providers) or 'nothing'}), imported by "
                            f"{', '.join(sorted(files)[:3])}")
    return problems


def test_every_import_is_a_declared_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _declared(project["dependencies"])
    test_extra = _declared(project["optional-dependencies"]["test"])
    assert _undeclared(APPLICATION, runtime) == []
    assert _undeclared(TOOLING, runtime | test_extra) == []
