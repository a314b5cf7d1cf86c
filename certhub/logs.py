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
import json
import logging
import re
from datetime import UTC, datetime
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


# The fields of a request's access line (certhub.request_context), printed as JSON keys of their own.
_ACCESS_FIELDS = ("method", "route", "status", "duration_ms")
ACCESS_LOGGER = "certhub.access"
LOG_FORMATS = ("json", "text")


class JsonLines(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the
    request id of the request being served (certhub.request_context), and
    an access line's method, route template, status and duration.

    The message is formatted first and masked by the handler's filter
    before it gets here; json.dumps escapes line breaks, so no message can
    forge a line of its own."""

    def format(self, record: logging.LogRecord) -> str:
        # Imported here: certhub.request_context imports the metrics, which the
        # command line's other commands never load.
        from certhub.request_context import current_request_id

        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id is not None:
            line["request_id"] = request_id
        for field in _ACCESS_FIELDS:
            if field in record.__dict__:
                line[field] = record.__dict__[field]
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def log_config(*, level: str = "info", log_format: str = "text", access_log: bool = True) -> dict:
    """uvicorn's logging configuration with every handler masking identifiers,
    and a root handler so the app's own lines are masked too. The app's own
    lines are printed from warning up, and all of them at ``debug`` and ``trace``.

    ``json``: every line a JSON object (``JsonLines``), and the access line is
    the app's own (``certhub.access``: route template, status, duration,
    request id) in place of uvicorn's, which prints the path as sent.
    ``text``: uvicorn's lines as they were."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {FILTER_NAME: {"()": f"{__name__}.MaskIdentifiers"}}
    config["formatters"]["app"] = {**config["formatters"]["default"], "fmt": "%(levelprefix)s %(name)s: %(message)s"}
    config["handlers"]["app"] = {**config["handlers"]["default"], "formatter": "app"}
    if log_format == "json":
        config["formatters"] = {"json": {"()": f"{__name__}.JsonLines"}}
        for handler in config["handlers"].values():
            handler["formatter"] = "json"
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), FILTER_NAME]
    # Our packages' own lines; other libraries' stay at warning (SQLAlchemy's
    # engine would print every statement with its parameters at debug).
    ours = "DEBUG" if level.lower() in ("debug", "trace") else "WARNING"
    config["root"] = {"handlers": ["app"], "level": "WARNING"}
    for package in APP_PACKAGES:
        config["loggers"][package] = {"level": ours}
    if log_format == "json":
        # One access line per request, the app's; uvicorn's own is not printed.
        config["loggers"][_ACCESS_LOGGER] = {"handlers": [], "level": "WARNING", "propagate": False}
        if access_log:
            config["loggers"][ACCESS_LOGGER] = {"level": "INFO"}
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
