"""
The ratchet_tx applications of the broadcast and sessions scenarios
(bench/driver.py).

    twistd -n ratchet --app bench.apps:Broadcast     # PYTHONPATH=<repo root>
    twistd -n ratchet --app bench.apps:SessionEcho --session SPEC --session-required

Every peer server under bench/servers/ follows the same rule: a text message
starting with "B" goes to every other client, anything else goes back to its
sender.
"""

from __future__ import annotations

from zope.interface import implementer

from ratchet_tx import CloseConnection, IApplication, SendMessage, commands
from ratchet_tx.examples.echo import Echo


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


@implementer(IApplication)
class SessionEcho(Echo):
    """
    Echo for the sessions scenario, behind ``--session ... --session-required``:
    a connection whose session does not belong to its cookie's id (the driver
    seeds session ``n`` under an id ending in ``n``'s 8 digits, with
    ``name = "user-<8 digits>"``) is closed with 4401, which the generator
    counts as a refusal, not a handshake.
    """

    cookies = ("PHPSESSID", "sid")  # the stores' cookies in bench/driver.py

    def onOpen(self, conn):
        sid = next((conn.cookies[c] for c in self.cookies if c in conn.cookies), "")
        if not sid or conn.session.get("name") != f"user-{sid[-8:]}":
            return CloseConnection(conn, 4401, "not this cookie's session")
        return None
