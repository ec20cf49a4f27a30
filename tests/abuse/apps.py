"""
Applications for the abuse tests, importable by a C{twistd ratchet} process
(C{--app tests.abuse.apps:Probe}) as well as in process.

L{Probe} keeps the books an abuse test needs to check from outside the
process: how many connections were opened and closed, whether any was opened
or closed twice, the close codes they ended with, and how many messages the
slow-consumer policy dropped.  A client asks for them with the text message
C{"stats?"} and gets them back as JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from twisted.logger import Logger
from zope.interface import implementer

from ratchet_tx.commands import CloseConnection, Composite, SendMessage
from ratchet_tx.interfaces import IApplication, IConnection

log = Logger()

#: The text message that asks a L{Probe} for its books.
STATS = "stats?"
#: Text messages starting with this go to every open connection, the sender too.
BROADCAST_PREFIX = "B"


def droppedMessages(conn: IConnection) -> int:
    """The messages the slow-consumer policy dropped for C{conn}'s socket."""
    transport = getattr(conn, "transportConnection", conn)
    return getattr(transport, "droppedMessages", 0)


@implementer(IApplication)
class Probe:
    """
    Echo, broadcast and bookkeeping.

      - C{"stats?"}: answered with L{stats} as JSON;
      - text starting with C{"B"}: sent to every open connection;
      - anything else: sent back.

    A connection opened twice, or closed without being open (or twice), is
    logged at error level, which the tests look for in the log.
    """

    def __init__(self) -> None:
        self.open: set[IConnection] = set()
        self.opened = 0
        self.closed = 0
        self.anomalies = 0
        self.closeCodes: Counter[int] = Counter()
        self.droppedOfClosed = 0

    def onOpen(self, conn: IConnection) -> None:
        if conn in self.open:
            self.anomalies += 1
            log.error("onOpen twice for {conn!r}", conn=conn)
        self.open.add(conn)
        self.opened += 1

    def onMessage(self, conn: IConnection, message: str | bytes) -> Any:
        if message == STATS:
            return SendMessage(conn, json.dumps(self.stats()))
        if isinstance(message, str) and message.startswith(BROADCAST_PREFIX):
            return Composite(SendMessage(c, message) for c in self.open)
        return SendMessage(conn, message)

    def onClose(self, conn: IConnection) -> None:
        if conn not in self.open:
            self.anomalies += 1
            log.error("onClose without an open connection: {conn!r}", conn=conn)
        self.open.discard(conn)
        self.closed += 1
        self.closeCodes[getattr(conn, "closeCode", 0)] += 1
        self.droppedOfClosed += droppedMessages(conn)

    def onError(self, conn: IConnection, failure: object) -> CloseConnection:
        return CloseConnection(conn)

    def stats(self) -> dict[str, Any]:
        """
        The books: C{opened}, C{closed}, C{open} (now), C{anomalies},
        C{closeCodes} (close code as a string: count) and C{dropped} (messages
        dropped for every connection, open or gone).
        """
        return {
            "opened": self.opened,
            "closed": self.closed,
            "open": len(self.open),
            "anomalies": self.anomalies,
            "closeCodes": {str(code): n for code, n in self.closeCodes.items()},
            "dropped": self.droppedOfClosed + sum(droppedMessages(c) for c in self.open),
        }
