# -*- test-case-name: tests.workers.test_logs -*-
"""
A worker's log, carried to its supervisor's.

The supervisor starts each worker's twistd with
C{--logger=ratchet_tx.workers.logs.workerObserver}: the worker writes every
log event as one JSON record on its stdout (Twisted's
L{twisted.logger.jsonFileLogObserver}), and the supervisor's L{LogRelay}
reads them back into events and publishes them in its own log, their
C{log_system} naming the worker.  So the supervisor's log (a file, syslog,
stdout) has every worker's events, structured, with its own format;
anything else a worker writes (a crash before its logging starts) is
relayed line by line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

from twisted.logger import (
    ILogObserver,
    LogLevel,
    eventFromJSON,
    globalLogPublisher,
    jsonFileLogObserver,
)

#: What separates the JSON records (Twisted's default, RFC 7464's).
RECORD_SEPARATOR = "\x1e"


def workerObserver(stream: IO[str] | None = None) -> ILogObserver:
    """
    The log observer of a worker (a twistd C{--logger} factory): every event
    as JSON, on the real stdout (twistd redirects C{sys.stdout} into the
    log once logging begins).
    """
    if stream is None:
        stream = sys.__stdout__
        assert stream is not None
    return jsonFileLogObserver(stream)


class LogRelay:
    """
    Turns what a worker writes into events of the supervisor's log.

    @ivar system: the C{log_system} of the relayed events (C{"worker 2, pid 1234"}).
    """

    def __init__(
        self, system: str, publish: Callable[[dict[str, Any]], None] = globalLogPublisher
    ) -> None:
        self.system = system
        self._publish = publish
        self._buffers = {"out": b"", "err": b""}

    def outReceived(self, data: bytes) -> None:
        """Bytes of the worker's stdout: JSON records."""
        self._received("out", data)

    def errReceived(self, data: bytes) -> None:
        """Bytes of the worker's stderr: lines of text."""
        self._received("err", data)

    def flush(self) -> None:
        """The worker is gone: relay what it wrote without a final newline."""
        for stream, rest in self._buffers.items():
            if rest.strip():
                self._relay(stream, rest)
        self._buffers = {"out": b"", "err": b""}

    def _received(self, stream: str, data: bytes) -> None:
        *lines, self._buffers[stream] = (self._buffers[stream] + data).split(b"\n")
        for line in lines:
            if line.strip():
                self._relay(stream, line)

    def _relay(self, stream: str, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        record = text.lstrip(RECORD_SEPARATOR)
        event: dict[str, Any] | None = None
        if stream == "out" and record.startswith("{"):
            try:
                event = eventFromJSON(record)
            except ValueError:
                event = None
        if event is None:
            level = LogLevel.error if stream == "err" else LogLevel.info
            event = _textEvent(text, level)
        event["log_system"] = self.system
        self._publish(event)


def _textEvent(text: str, level: LogLevel) -> dict[str, Any]:
    return {
        "log_format": "{line}",
        "line": text.rstrip("\r"),
        "log_level": level,
        "log_namespace": __name__,
        "log_time": time.time(),
    }
