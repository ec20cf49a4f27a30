# -*- test-case-name: tests.test_accesslog -*-
"""
The access log: one line per connection when it ends, the line an operator
greps first::

    2026-12-02T05:40:01.123Z 127.0.0.1:54321 rfc6455 /chat sub=chat.v1 \
        duration=12.345 in=10 out=12 close=1000 reason="bye"

(one line; shown here in two).

Fields, in order: when the connection ended (UTC), the peer's address, the
protocol (a WebSocket version, or C{tcp} for a plain-TCP connection), the
path of the request (without its query string, which may carry tokens), the
sub-protocol agreed (C{sub=-} for none), how long the connection lasted in
seconds, the messages received and sent (C{onMessage} calls and messages
sent; over plain TCP a message is a read), the close code (C{close=-} for
plain TCP) and the close reason as a JSON string.  Anything a peer chose
(path, sub-protocol, reason) is escaped, so a line is always one line::

    server = Server(WebSocket(Chat()), accessLog=AccessLog(open("access.log", "a")))
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, TextIO

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress

from ratchet_tx.interfaces import IConnection


class AccessLog:
    """
    Writes a line for each finished connection to a text stream.

    @ivar out: the stream written to (flushed after every line).
    """

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.time) -> None:
        """
        @param out: where the lines go: a file opened for appending, or
            C{sys.stdout}.
        @param clock: the wall clock that stamps each line.
        """
        self.out = out
        self._clock = clock

    def connectionEnded(self, conn: IConnection, duration: float) -> None:
        """Write the line of C{conn} (the application's view of it), which lasted C{duration} s."""
        self.out.write(self.line(conn, duration) + "\n")
        self.out.flush()

    def line(self, conn: IConnection, duration: float) -> str:
        """The line for C{conn}, without its end of line."""
        when = datetime.fromtimestamp(self._clock(), timezone.utc)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        version = getattr(conn, "version", None)
        if version is None and hasattr(conn, "closeCode"):
            protocol = "-"  # a WebSocket connection that never opened
        else:
            protocol = "tcp" if version is None else str(version.value)
        path = getattr(conn, "path", None)
        subprotocol = getattr(conn, "subprotocol", None)
        closeCode = getattr(conn, "closeCode", None)
        reason = getattr(conn, "closeReason", "")
        fields = [
            stamp,
            formatAddress(conn.remoteAddress),
            protocol,
            _escaped(path) if path else "-",
            f"sub={_escaped(subprotocol) if subprotocol else '-'}",
            f"duration={duration:.3f}",
            f"in={_count(conn, 'messagesIn')}",
            f"out={_count(conn, 'messagesOut')}",
            f"close={'-' if closeCode is None else int(closeCode)}",
            f"reason={json.dumps(reason or '')}",
        ]
        return " ".join(fields)


def formatAddress(address: Any) -> str:
    """C{host:port} (C{[host]:port} for IPv6), a UNIX socket's path, or C{-}."""
    if isinstance(address, IPv6Address):
        return f"[{address.host}]:{address.port}"
    if isinstance(address, IPv4Address):
        return f"{address.host}:{address.port}"
    if isinstance(address, UNIXAddress):
        return _escaped(address.name.decode("utf-8", "replace") if address.name else "unix")
    return "-"


def _count(conn: IConnection, name: str) -> str:
    value = getattr(conn, name, None)
    return "-" if value is None else str(value)


def _escaped(text: str) -> str:
    """C{text} with spaces, quotes, controls and non-ASCII escaped: one token."""
    escaped = json.dumps(text)[1:-1]
    return escaped.replace(" ", "\\u0020")
