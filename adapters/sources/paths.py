"""Where a field sits in a provider's JSON: a JSON pointer or a dotted path."""

from __future__ import annotations

from adapters.errors import AdapterConfigError

Path = tuple[str, ...]
MISSING = object()


def compile_path(expression: str) -> Path:
    """`/a/0/b` is a JSON pointer (RFC 6901); `a.0.b` a dotted path; `` the root."""
    if expression == "":
        return ()
    if expression.startswith("/"):
        # SPEC: RFC 6901 §4 — unescape ~1 before ~0, so "~01" becomes "~1".
        return tuple(t.replace("~1", "/").replace("~0", "~") for t in expression[1:].split("/"))
    tokens = tuple(expression.split("."))
    if any(t == "" for t in tokens):
        raise AdapterConfigError(f"dotted path {expression!r} has an empty segment")
    return tokens


def resolve(document: object, path: Path) -> object:
    """The value at path, or MISSING when any step does not exist."""
    current = document
    for token in path:
        if isinstance(current, dict):
            if token not in current:
                return MISSING
            current = current[token]
        elif isinstance(current, list):
            # SPEC: RFC 6901 §4 — array indices are decimal, without leading zeros.
            if not token.isdigit() or (len(token) > 1 and token[0] == "0") or int(token) >= len(current):
                return MISSING
            current = current[int(token)]
        else:
            return MISSING
    return current
