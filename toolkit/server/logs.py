"""Log records as JSON lines (or plain text) on stderr, for `engram-compat serve`."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Literal

LogFormat = Literal["json", "text"]

_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra={...}` fields a record was logged with (e.g. `event`, `rpc`, `peer`)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: level, event, message, logger, time, and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "event": "log",
            "message": record.getMessage(),
        }
        document.update(record_fields(record))
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, sort_keys=True, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in sorted(record_fields(record).items()))
        return f"{record.levelname} {record.name}: {record.getMessage()} {fields}".rstrip()


class ClientCausedNoise(logging.Filter):
    """grpc logs a client's header that is not UTF-8 as an ERROR with a traceback (and
    passes the raw bytes on, which the resolver answers with INVALID_ARGUMENT). The client
    caused it: keep one WARNING line, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("grpc") and record.exc_info:
            error = record.exc_info[1]
            if isinstance(error, UnicodeDecodeError):
                record.exc_info = None
                record.exc_text = None
                record.levelno, record.levelname = logging.WARNING, "WARNING"
                record.event = "client_invalid_metadata"
        return True


def configure_logging(log_format: LogFormat, *, verbose: bool = False) -> None:
    """Send every record to stderr in `log_format`, replacing earlier handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ClientCausedNoise())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
