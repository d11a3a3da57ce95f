"""Log lines as operators read them: one JSON object per line (or plain text at a terminal),
each carrying the CallSid and route of the request it was written during.

The request's context lives in a contextvar that the HTTP layer sets for each request. It
holds a mutable `RequestContext`, so a handler that learns the CallSid late (from the form
body) can add it, and lines written afterwards by outer layers carry it too.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("auto", "json", "text")
FIELDS = "fields"  # logging `extra={"fields": {...}}`: added to the JSON object as is
FLUSH_EVERY = 0.1  # seconds a line below warning may wait to be written with others
FLUSH_LINES = 500  # or until this many wait
# Made once: `json.dumps` with options builds a new encoder for every line.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


@dataclass
class RequestContext:
    route: str
    method: str = ""
    call_sid: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("ivr_request", default=None)


def begin_request(route: str, method: str = "") -> Token[RequestContext | None]:
    """Start a request's context; pass the token to `end_request` when it is answered."""
    return _current.set(RequestContext(route, method))


def end_request(token: Token[RequestContext | None]) -> None:
    _current.reset(token)


def bind_call(call_sid: str | None) -> None:
    """The request is about this call: every later line of it names the CallSid."""
    context = _current.get()
    if context is not None and call_sid:
        context.call_sid = call_sid[:64]


def current_request() -> RequestContext | None:
    return _current.get()


def _context_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    context = _current.get()
    if context is not None:
        if context.call_sid:
            fields["call_sid"] = context.call_sid
        fields["route"] = context.route
    extra = getattr(record, FIELDS, None)
    if isinstance(extra, Mapping):
        fields.update(extra)
    return fields


class JsonFormatter(logging.Formatter):
    """time (UTC, ms), level, logger, message, then call_sid and route when a request is
    being answered, then the line's own fields; `exception` holds a traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _context_fields(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(line)


class TextFormatter(logging.Formatter):
    """`2026-11-23 15:00:00,123 INFO ivr.webhooks [CA… /twilio/voice] message key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _context_fields(record)
        where = " ".join(str(fields.pop(k)) for k in ("call_sid", "route") if k in fields)
        text = f"{self.formatTime(record)} {record.levelname} {record.name}"
        if where:
            text += f" [{where}]"
        text += " " + record.getMessage()
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class BatchingStreamHandler(logging.StreamHandler[TextIO]):
    """Lines written to the stream together, at most `every` seconds after they were
    logged: a server logs a line for every request, and a write to the stream (a system
    call, the GIL let go) for each cost more than building the line. A warning or worse
    goes out at once, with every line before it; what is pending goes at exit too
    (`logging.shutdown` flushes handlers). A process killed outright loses at most the
    last `every` seconds of lines below warning."""

    def __init__(self, stream: TextIO, every: float = FLUSH_EVERY) -> None:
        super().__init__(stream)
        self.every = every
        self._lines: list[str] = []
        self._flusher: threading.Thread | None = None
        self._closed = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:  # called holding self.lock
        try:
            self._lines.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING or len(self._lines) >= FLUSH_LINES:
            self._write()
        elif self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_now_and_then, daemon=True)
            self._flusher.name = "ivr-log-flush"
            self._flusher.start()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def close(self) -> None:
        self._closed.set()
        self.flush()
        super().close()

    def _write(self) -> None:
        if not self._lines:
            return
        text = "".join(self._lines)
        self._lines.clear()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the reader went away, or the stream is closed
            pass

    def _flush_now_and_then(self) -> None:
        while not self._closed.wait(self.every):
            self.flush()


def resolve_format(name: str, stream: TextIO) -> str:
    """`auto` is text at a terminal, JSON anywhere else (systemd, containers, files)."""
    if name == "auto":
        return "text" if stream.isatty() else "json"
    return name


def configure(name: str = "auto", level: int = logging.INFO, stream: TextIO | None = None) -> str:
    """Send every logger (uvicorn's too) to one handler in the chosen format; returns the
    format in force."""
    target = stream if stream is not None else sys.stderr
    chosen = resolve_format(name, target)
    handler = BatchingStreamHandler(target)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Neither format shows the source line, thread or process, and a server writes a line
    # for every request: the logging HOWTO's "Optimization" switches, so that each record
    # skips looking them up.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root.setLevel(level)
    for noisy in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(noisy).handlers[:] = []
        logging.getLogger(noisy).propagate = True
    return chosen


def configure_once(name: str = "auto") -> None:
    """Configure logging unless something (an embedding program, a test) already has."""
    if not logging.getLogger().handlers:
        configure(name)
