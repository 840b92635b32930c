"""Logging setup with secret redaction: no token reaches a log line at any level."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

# Telegram tokens look like 123456789:AA...; Discord tokens are three dot-separated base64 parts.
# Each pattern may only start where a run of its characters starts (the lookbehind): unanchored,
# the engine retried from every letter of a long run and scanned to its end each time, so 100 KB
# of "x" took 15 s and 100 KB of digits 57 s. Anchored, each run is scanned once: linear.
_TOKEN_PATTERNS = (
    re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}"),
    # Discord interaction tokens (valid 15 minutes, enough to answer as the bot in that chat):
    # in webhook URLs discord.py logs, and in gateway payloads at DEBUG.
    re.compile(r"(?<=/interactions/)\d+/[A-Za-z0-9_.-]{20,}"),
    re.compile(r"(?<=/webhooks/)\d+/[A-Za-z0-9_.-]{20,}"),
    re.compile(r"(?<=['\"]token['\"]: ['\"])[A-Za-z0-9_.-]{20,}"),
)
REDACTED = "[REDACTED]"


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message (and traceback) with secrets removed.

    It sits on handlers, not loggers: a logger's filter never sees records that propagate up
    from child loggers such as `httpx` or `telegram.ext.ExtBot`.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = {s for s in secrets if s}

    def add_secret(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """`text` with each registered secret and token-shaped run replaced, in linear time."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            # Format the traceback now, redacted, so the formatter uses this text instead.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_filter = RedactingFilter()
_factory_installed = False


def redaction_filter() -> RedactingFilter:
    """The process-wide filter; adapters register their tokens with `register_secret`."""
    return _filter


def register_secret(secret: str) -> None:
    """Keep `secret` out of every log line and traceback from now on.

    Two layers: the filter on handlers (see `protect`), and a LogRecord factory that redacts
    where records are made, so handlers added later or attached below the root (pytest's caplog,
    a library's own) never see the secret either.
    """
    global _factory_installed
    _filter.add_secret(secret)
    for handler in logging.getLogger().handlers:
        protect(handler)
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(make_record)
    _factory_installed = True


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it itself when emitting
        return
    clean = _filter.redact(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None:
        trace = logging.Formatter().formatException(record.exc_info)
        clean_trace = _filter.redact(trace)
        if clean_trace != trace:
            # The exception itself (InvalidToken quotes the token) must not be formatted again.
            record.exc_text, record.exc_info = clean_trace, None
    if record.stack_info:
        record.stack_info = _filter.redact(record.stack_info)


def protect(handler: logging.Handler) -> logging.Handler:
    """Attach the redacting filter to a handler (idempotent)."""
    if _filter not in handler.filters:
        handler.addFilter(_filter)
    return handler


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO-8601), level, logger, message, and the traceback
    as `exception` when there is one. It formats what the redacting filter left, so it holds
    no token either."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = _filter.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = _filter.redact(record.stack_info)
        entry["message"] = _filter.redact(str(entry["message"]))
        return json.dumps(entry, ensure_ascii=False)


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")


def setup_logging(level: str = "info", secrets: Iterable[str] = (), fmt: str = "text") -> None:
    """Log to stderr at `level` as `fmt` ("text", readable, or "json", one object a line), every
    handler redacting; quiet the chatty HTTP libraries."""
    for secret in secrets:
        register_secret(secret)
    root = logging.getLogger()
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    ours: list[logging.Handler] = [h for h in root.handlers if getattr(h, "_briefbot", False)]
    if not ours:
        stream = logging.StreamHandler(sys.stderr)
        stream._briefbot = True  # type: ignore[attr-defined]
        root.addHandler(stream)
        ours = [stream]
    for handler in ours:
        handler.setFormatter(_formatter(fmt))
    for existing in root.handlers:
        protect(existing)
    # httpx logs every request URL at INFO, and Telegram's URL holds the token. The filter would
    # redact it anyway; this keeps the log readable.
    if root.level > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)


def shown_url(url: str) -> str:
    """`url` for a log line or an error message: a password and the query (where feed and API
    keys often ride, "?token=…") replaced by "…". Operators still see which server it was."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:…@" if parts.password else ""
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{user}{host}{parts.path}{query}" if parts.scheme else url
