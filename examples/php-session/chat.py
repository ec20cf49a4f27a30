"""
The chat of the PHP session example: every message goes to everyone, signed
with the name the PHP site put in the session; sockets without a session
are refused by the session layer (C{--session-required})::

    twistd -n ratchet --app chat:NamedChat --listen tcp:8081 \\
        --session php+redis://127.0.0.1:6379/0 --session-required
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from ratchet_tx.commands import CloseConnection, Composite, SendMessage
from ratchet_tx.interfaces import IApplication


@implementer(IApplication)
class NamedChat:
    """Broadcast C{"NAME: message"}, NAME from C{conn.session["name"]}."""

    def __init__(self) -> None:
        self.clients: set[Any] = set()

    def onOpen(self, conn: Any) -> None:
        self.clients.add(conn)

    def onMessage(self, sender: Any, message: str | bytes) -> Composite:
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        line = f"{sender.session.get('name', '?')}: {message}"
        return Composite(SendMessage(conn, line) for conn in self.clients)

    def onClose(self, conn: Any) -> None:
        self.clients.discard(conn)

    def onError(self, conn: Any, failure: object) -> CloseConnection:
        return CloseConnection(conn)
