"""
Chat: every message goes to every other connected client.

Runs unchanged over WebSocket and plain TCP::

    twistd -n ratchet --app ratchet_tx.examples.chat:Chat
    twistd -n ratchet --protocol raw --app ratchet_tx.examples.chat:Chat --listen tcp:9000
"""

from __future__ import annotations

from zope.interface import implementer

from ratchet_tx.commands import CloseConnection, Composite, SendMessage
from ratchet_tx.interfaces import IApplication, IConnection


@implementer(IApplication)
class Chat:
    """Send every incoming message to all other connected clients."""

    def __init__(self) -> None:
        self.clients: set[IConnection] = set()

    def onOpen(self, conn: IConnection) -> None:
        self.clients.add(conn)

    def onMessage(self, sender: IConnection, message: str | bytes) -> Composite:
        return Composite(SendMessage(c, message) for c in self.clients if c is not sender)

    def onClose(self, conn: IConnection) -> None:
        self.clients.discard(conn)

    def onError(self, conn: IConnection, failure: object) -> CloseConnection:
        return CloseConnection(conn)
