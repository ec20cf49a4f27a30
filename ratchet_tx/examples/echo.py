"""
Echo: every message goes back to its sender, text as text, binary as binary::

    twistd -n ratchet --app ratchet_tx.examples.echo:Echo
"""

from __future__ import annotations

from zope.interface import implementer

from ratchet_tx.commands import CloseConnection, SendMessage
from ratchet_tx.interfaces import IApplication, IConnection


@implementer(IApplication)
class Echo:
    """Send every message back to the connection it came from."""

    def onOpen(self, conn: IConnection) -> None:
        pass

    def onMessage(self, conn: IConnection, message: str | bytes) -> SendMessage:
        return SendMessage(conn, message)

    def onClose(self, conn: IConnection) -> None:
        pass

    def onError(self, conn: IConnection, failure: object) -> CloseConnection:
        return CloseConnection(conn)
