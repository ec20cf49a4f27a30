"""
Small helpers of the session tests: a fake clock at the real time, the
result of a store's fired Deferred, every one-character tampering of a
cookie, and an application greeting the session's user on a real socket.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from ratchet_tx.commands import SendMessage
from ratchet_tx.interfaces import IApplication
from ratchet_tx.server import Server
from ratchet_tx.websocket import WebSocket


class _RealTimeClock(Clock):
    """A L{Clock} that follows the real time, plus an offset and what it was advanced."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        self._offset = offset

    def seconds(self) -> float:
        return time.time() + self._offset + self.rightNow


def nowClock(offset: float = 0.0) -> Clock:
    """
    A fake clock showing the real time, plus C{offset} seconds (and what it
    is advanced by).  It follows the real time rather than taking it once,
    so that a cookie signed after the clock was made is never "from the
    future" when a second boundary falls in between.
    """
    return _RealTimeClock(offset)


def read(store: Any, cookie: str) -> Any:
    """What the store's (fired) Deferred holds: the data, or the failure."""
    results: list[Any] = []
    store.load(cookie).addBoth(results.append)
    [result] = results
    return result


def tamperings(cookie: str, replacements: Iterable[str]) -> Iterator[str]:
    """C{cookie} with each of its characters replaced by each replacement."""
    for index, original in enumerate(cookie):
        for replacement in replacements:
            if replacement != original:
                yield cookie[:index] + replacement + cookie[index + 1 :]


@implementer(IApplication)
class Greeter:
    """Greets the session's user on open; echoes with the name after."""

    def onOpen(self, conn: Any) -> Any:
        return SendMessage(conn, f"hello {conn.session.get('name', 'nobody')}")

    def onMessage(self, conn: Any, message: Any) -> Any:
        return SendMessage(conn, f"{conn.session.get('name', 'nobody')}: {message}")

    def onClose(self, conn: Any) -> None:
        pass

    def onError(self, conn: Any, failure: Any) -> None:
        pass


def listenWebSocket(testCase: SynchronousTestCase, app: Any) -> Deferred[int]:
    """
    Serve C{Server(WebSocket(app))} on a free loopback port until the test
    ends.

    @return: a Deferred of the port's number.
    """
    listening = serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
        Server(WebSocket(app))
    )

    def listened(port: Any) -> int:
        testCase.addCleanup(port.stopListening)
        return int(port.getHost().port)

    return listening.addCallback(listened)
