"""The rules of docs/architecture that a machine can check: the dependency
rules, as import-linter contracts in pyproject.toml (signing and catalog at
the bottom, exchange at the top), and the conventions of service signatures."""

import ast
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DOMAIN_PACKAGES = ("wiring", "storage", "identity", "catalog", "signing", "registry", "exchange", "adapters")

# The route modules are HTTP adapters, not services: FastAPI fills a handler's parameters by name
# from its signature (path, body, dependencies), so a `session` among them is a dependency's
# name, not a convention a caller follows; no code calls a route handler.
POSITIONAL_SESSION_ALLOWED = (
    "*/api.py",
    "*_api.py",
)


def test_import_contracts_hold():
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _takes_session_positionally(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    positional = [argument.arg for argument in function.args.posonlyargs + function.args.args]
    # SQLAlchemy calls its event listeners with positional arguments; they cannot choose.
    listener = any("listens_for" in ast.unparse(decorator) for decorator in function.decorator_list)
    return "session" in positional and not listener


def test_services_take_the_session_keyword_only():
    """Convention 1: `def f(*, session: Session, ...)`, so that every call names its session."""
    offenders = []
    for package in DOMAIN_PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            if any(fnmatch(relative, pattern) for pattern in POSITIONAL_SESSION_ALLOWED):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=relative)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _takes_session_positionally(node):
                    offenders.append(f"{relative}:{node.lineno} {node.name}")
    assert not offenders, "functions taking `session` positionally:\n" + "\n".join(offenders)
