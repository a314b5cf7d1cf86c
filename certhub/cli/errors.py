"""The errors a user can act on, as one line and an exit status.

The CLI's root group (`certhub.cli`) runs every command through
`describe_error`: a configuration the command cannot use, signing keys the
configured secret does not open, a domain error or a database that cannot
be reached ends the command with one line saying what to set, not a
traceback. Anything else is a bug and keeps its traceback.

Exit status 2: the configuration cannot be used; 1: the command failed.
"""

from __future__ import annotations

import sys

EXIT_FAILED = 1
EXIT_CONFIGURATION = 2

_DOMAIN_PACKAGES = ("catalog", "registry", "signing", "adapters", "exchange", "certhub")


def describe_error(exc: BaseException) -> tuple[str, int] | None:
    """One line and an exit status for an error the user can fix, else None.

    Only classes whose modules the command already imported are tested, so
    describing an error imports nothing heavy."""
    from certhub.settings import SettingsError

    if isinstance(exc, SettingsError):
        return _one_line(str(exc)), EXIT_CONFIGURATION
    signing_errors = sys.modules.get("signing.errors")
    if signing_errors is not None and isinstance(exc, signing_errors.KeyDecryptionFailed):
        return ("the signing keys in this database do not open with the configured key-encryption secret: "
                "set CERTHUB_SECRET_KEY to the secret the database was created with (a database made by "
                "`certhub demo` keeps its own: run the command with that data directory, CERTHUB_DATA_DIR, "
                "and without CERTHUB_DATABASE_URL)"), EXIT_CONFIGURATION
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.OperationalError):
        return _one_line(f"the database cannot be used: {exc.orig}"), EXIT_FAILED
    code = getattr(exc, "code", None)
    if isinstance(code, str) and type(exc).__module__.split(".")[0] in _DOMAIN_PACKAGES:
        return _one_line(f"{exc} ({code})"), EXIT_FAILED
    return None


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())
