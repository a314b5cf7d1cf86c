"""The transparency-log error family.

Every failure carries a machine-readable ``code`` so callers (the database
log, the HTTP layer, the audit CLI) can map it without parsing messages.
"""

from __future__ import annotations

from signing.errors import SigningError


class TransparencyLogError(SigningError):
    """Root of every error raised by ``signing.transparency``.

    Part of the ``SigningError`` family, so the one error table where the
    app is assembled maps these too.
    """

    code = "transparency_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class MalformedError(TransparencyLogError, ValueError):
    """Input bytes or text do not follow the format they claim to follow."""

    code = "malformed"


class TileNotFoundError(TransparencyLogError, LookupError):
    """A tile the computation needs is not available from the reader."""

    code = "missing_tile"

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class VerificationError(TransparencyLogError):
    """A cryptographic check failed: the input is well-formed but not authentic."""

    code = "verification_failed"


class ProofVerificationError(VerificationError):
    """An inclusion or consistency proof does not verify."""

    code = "proof_invalid"


class NoteVerificationError(VerificationError):
    """A signed note carries no valid signature from a trusted key."""

    code = "bad_signature"


class LogVerificationError(VerificationError):
    """An audited log failed verification.

    ``path`` names the first bad tile or entry bundle and ``index`` the first
    bad leaf, when the failure can be pinned to one.
    """

    code = "log_invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str,
        path: str | None = None,
        index: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.path = path
        self.index = index
