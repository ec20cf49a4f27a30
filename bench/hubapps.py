"""
The ratchet_tx application of the fanout scenario (bench/driver.py): the
broadcast rule of bench/apps.py, through the process's hub.

    twistd -n ratchet --app bench.hubapps:Fanout [--hub redis://127.0.0.1:PORT/0]

Without --hub, the local hub: every receiver in this process.  With --hub
redis://..., every process on that Redis forms one channel, and a message is
one publish, fanned out by each process to its own receivers.

(A module of its own, not part of apps.py: `bench/run --baseline REV` takes
each of these modules from the revision when it has it, else today's, so a
revision from before the hub still gets its own apps.py.)
"""

from __future__ import annotations

from zope.interface import implementer

from ratchet_tx import CloseConnection, IApplication, Publish, SendMessage, Subscribe

#: The one channel every client of Fanout is in.
CHANNEL = "fanout"


@implementer(IApplication)
class Fanout:
    """
    Echo, except text starting with "B": that is published on the hub's
    channel CHANNEL, which every client subscribes to when it opens, to all
    its subscribers but the sender.
    """

    def onOpen(self, conn):
        return Subscribe(conn, CHANNEL)

    def onMessage(self, sender, msg):
        if isinstance(msg, str) and msg.startswith("B"):
            return Publish(CHANNEL, msg, exclude=sender)
        return SendMessage(sender, msg)

    def onClose(self, conn):
        return None  # the hub takes a closed connection out of its channels

    def onError(self, conn, failure):
        return CloseConnection(conn)
