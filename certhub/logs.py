"""Logging for the served app: no log line carries a personal identifier.

Routes take holders' codes only in request bodies, but a client may still put
one in a URL (an old link, a mistyped path), and uvicorn's access log prints
every request line, as does any message that quotes a request or an error.
So every handler of the served process masks what is shaped like a citizen
ID number or a USCC before the line is written, whatever logger or level it
comes from, with the project's own mask rule (3501**********1234).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote

from uvicorn.config import LOGGING_CONFIG

from identity.masking import MaskRule, mask_value

# SPEC: GB 11643-1999 (公民身份号码): 17 digits and a check character, a digit or X.
_CITIZEN_ID = r"[0-9]{17}[0-9X]"
# SPEC: GB 32100-2015 (统一社会信用代码): 18 characters of 0-9 and A-Z without I, O, S, V, Z.
_USCC = r"[0-9A-HJ-NPQRTUWXY]{18}"
# A code alone, not 18 characters out of a longer code (a matter code starts with a USCC).
# Lower case too: a client may type the X of an ID number as x.
_IDENTIFIER = re.compile(rf"(?<![0-9A-Za-z])(?:{_CITIZEN_ID}|{_USCC})(?![0-9A-Za-z])", re.IGNORECASE)
# A request line is logged as sent: percent-encoded, possibly more than once.
_MAX_UNQUOTE = 3
# What a decoded request line may not print as such: a line break would forge a log line.
_UNSAFE_IN_A_LINE = re.compile(r'[\x00-\x1f\x7f"]')
_ACCESS_LOGGER = "uvicorn.access"
APP_PACKAGES = ("catalog", "signing", "registry", "adapters", "exchange", "certhub")
FILTER_NAME = "mask_identifiers"


def _mask_match(match: re.Match[str]) -> str:
    return str(mask_value(match.group(), MaskRule.id_number))


def _escape(match: re.Match[str]) -> str:
    return f"%{ord(match.group()):02X}"


def mask_identifiers(text: str) -> str:
    """``text`` with every citizen ID number and USCC masked, percent-encoded ones too."""
    masked = _IDENTIFIER.sub(_mask_match, text)
    decoded = masked
    for _ in range(_MAX_UNQUOTE):
        if "%" not in decoded:
            break
        decoded = unquote(decoded)
        if _IDENTIFIER.search(decoded):
            # Printed decoded, so that what was masked shows; control characters
            # and quotes are encoded again, so a request cannot forge a line.
            return _UNSAFE_IN_A_LINE.sub(_escape, _IDENTIFIER.sub(_mask_match, decoded))
    return masked


def _masked_arg(value: Any) -> Any:
    if isinstance(value, str):
        return mask_identifiers(value)
    if isinstance(value, (int, float)):  # an 18-digit number is masked as text
        text = str(value)
        masked = mask_identifiers(text)
        return value if masked == text else masked
    return value


class MaskIdentifiers(logging.Filter):
    """A handler filter that masks identifiers in the message, its
    arguments, the exception text and the stack; it never drops a line."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call; logging reports it itself
            return True
        masked = mask_identifiers(message)
        if masked != message:
            self._mask_message(record, masked)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_identifiers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_identifiers(record.stack_info)
        return True

    @staticmethod
    def _mask_message(record: logging.LogRecord, masked: str) -> None:
        if record.name == _ACCESS_LOGGER and isinstance(record.args, tuple):
            # uvicorn's AccessFormatter reads the request line from the arguments themselves.
            record.args = tuple(_masked_arg(arg) for arg in record.args)
            return
        record.msg, record.args = masked, ()
        if "color_message" in record.__dict__:  # uvicorn's coloured variant of the same text
            record.color_message = record.msg


def log_config(*, level: str = "info") -> dict:
    """uvicorn's logging configuration with every handler masking identifiers,
    and a root handler so the app's own lines are masked too. The app's own
    lines are printed from warning up, and all of them at ``debug`` and ``trace``."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {FILTER_NAME: {"()": f"{__name__}.MaskIdentifiers"}}
    config["formatters"]["app"] = {**config["formatters"]["default"], "fmt": "%(levelprefix)s %(name)s: %(message)s"}
    config["handlers"]["app"] = {**config["handlers"]["default"], "formatter": "app"}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), FILTER_NAME]
    # Our packages' own lines; other libraries' stay at warning (SQLAlchemy's
    # engine would print every statement with its parameters at debug).
    ours = "DEBUG" if level.lower() in ("debug", "trace") else "WARNING"
    config["root"] = {"handlers": ["app"], "level": "WARNING"}
    for package in APP_PACKAGES:
        config["loggers"][package] = {"level": ours}
    return config


def install() -> None:
    """Mask identifiers where logging was configured by someone else (a
    process manager running ``uvicorn --factory certhub.asgi:...`` with its
    own log config): on every handler of the root and uvicorn's loggers."""
    root = logging.getLogger()
    if not root.handlers:  # else warnings would reach logging's last resort, unmasked
        fallback = logging.StreamHandler()
        fallback.setLevel(logging.WARNING)
        root.addHandler(fallback)
    for logger in (root, *(logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", _ACCESS_LOGGER))):
        for handler in logger.handlers:
            if not any(isinstance(f, MaskIdentifiers) for f in handler.filters):
                handler.addFilter(MaskIdentifiers())
