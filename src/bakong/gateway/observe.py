"""What the gateway tells its operators: structured JSON logs and Prometheus metrics.

Rules:
- A log line is one JSON object: time, level, logger, message, and the `extra` fields a caller
  passes (`log.info("payment submitted", extra={"submission": 12})`). Callers pass ids,
  states, codes and counts, never personal data (a phone, a name, a birth date, a PIN, a code,
  a token, a key): the formatter cannot tell them apart, so the rule is the callers'.
  Exceptions are logged by type and our own code and message (`RemoteError`s carry no
  personal data by their own rule), without a traceback's local values.
- Metric labels are bounded sets chosen by the code: a route's template (`/v1/parties/{id}`,
  never the path a client sent), a method, a status, a state. Never an account, a phone or a
  token.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable

import msgspec

from bakong import exposition
from bakong.exposition import Family

__all__ = ["Family", "JsonFormatter", "Metrics", "configure_logging", "prometheus_text"]

# The attributes every `LogRecord` has; anything else on a record came from `extra`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

# uvicorn's own extra: its message again, with terminal colours.
_DROPPED = frozenset({"color_message"})


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time_ms": int(record.created * 1000),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in _DROPPED and not name.startswith("_"):
                entry[name] = value if isinstance(value, int | float | str | bool) else str(value)
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = f"{type(error).__name__}: {error}"
        return msgspec.json.encode(entry).decode()


def configure_logging(level: int = logging.INFO) -> None:
    """Send every log record of the process to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request's URL at INFO, and a URL may name an account: warnings only.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def prometheus_text(families: Iterable[Family]) -> str:
    """The Prometheus text exposition (version 0.0.4) of `families`."""
    return exposition.render(families)


class Metrics:
    """The gateway's counters; thread-safe (handlers run in threads and on the event loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, str]] = Counter()
        self._events: Counter[str] = Counter()
        self.started_s = time.monotonic()

    def count_request(self, route: str, method: str, status: int) -> None:
        with self._lock:
            self._requests[(route, method, str(status))] += 1

    def count(self, event: str, amount: int = 1) -> None:
        """Count an event of the code's own naming (`payments_committed`, `webhooks_sent`)."""
        with self._lock:
            self._events[event] += amount

    def families(self) -> list[Family]:
        with self._lock:
            requests = [
                (exposition.labels(route=route, method=method, status=status), float(count))
                for (route, method, status), count in sorted(self._requests.items())
            ]
            events = [
                (exposition.labels(event=event), float(count))
                for event, count in sorted(self._events.items())
            ]
        uptime = [("", time.monotonic() - self.started_s)]
        return [
            ("bakong_gateway_requests_total", "counter", "HTTP requests answered", requests),
            ("bakong_gateway_events_total", "counter", "Events counted by the gateway", events),
            ("bakong_gateway_uptime_seconds", "gauge", "Seconds since the process started", uptime),
        ]
