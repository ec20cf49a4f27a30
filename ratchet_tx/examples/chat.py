"""
Chat: every message goes to every other client in the room, in every
process of the hub.

Runs unchanged over WebSocket and plain TCP, in one process or several::

    twistd -n ratchet --app ratchet_tx.examples.chat:Chat
    twistd -n ratchet --protocol raw --app ratchet_tx.examples.chat:Chat --listen tcp:9000
    twistd -n ratchet --app ratchet_tx.examples.chat:Chat --hub redis://127.0.0.1:6379/0
"""

from __future__ import annotations

from zope.interface import implementer

from ratchet_tx.commands import CloseConnection
from ratchet_tx.hub import Publish, Subscribe
from ratchet_tx.interfaces import IApplication, IConnection

#: The channel every client of the example joins.
ROOM = "chat"


@implementer(IApplication)
class Chat:
    """Send every incoming message to all other clients of the room."""

    def onOpen(self, conn: IConnection) -> Subscribe:
        return Subscribe(conn, ROOM)

    def onMessage(self, sender: IConnection, message: str | bytes) -> Publish:
        return Publish(ROOM, message, exclude=sender)

    def onClose(self, conn: IConnection) -> None:
        return None  # the hub takes it out of the room

    def onError(self, conn: IConnection, failure: object) -> CloseConnection:
        return CloseConnection(conn)
