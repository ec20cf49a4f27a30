"""
The ratchet_tx application of the broadcast scenario (bench/driver.py).

    twistd -n ratchet --app bench.apps:Broadcast     # PYTHONPATH=<repo root>

Every peer server under bench/servers/ follows the same rule: a text message
starting with "B" goes to every other client, anything else goes back to its
sender.
"""

from __future__ import annotations

from zope.interface import implementer

from ratchet_tx import CloseConnection, IApplication, SendMessage, commands


@implementer(IApplication)
class Broadcast:
    """Echo, except text starting with "B": that goes to all other clients."""

    def __init__(self):
        self.clients = set()

    def onOpen(self, conn):
        self.clients.add(conn)

    def onMessage(self, sender, msg):
        if isinstance(msg, str) and msg.startswith("B"):
            return commands.Broadcast((c for c in self.clients if c is not sender), msg)
        return SendMessage(sender, msg)

    def onClose(self, conn):
        self.clients.discard(conn)

    def onError(self, conn, failure):
        return CloseConnection(conn)
