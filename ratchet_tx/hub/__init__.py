"""
Channels beyond one connection: subscribe connections to named channels,
publish to them, see who is in them, and resume from history.

    - L{LocalHub}: within one process (the default);
    - L{RedisHub}: across every process that shares a Redis.

Applications use the commands L{Subscribe}, L{Unsubscribe} and
L{Publish} (also exported by L{ratchet_tx}); they go to the process's hub
(L{useHub}, set by C{twistd ratchet --hub}) unless given one.
"""

from ratchet_tx.hub.commands import Publish, Subscribe, Unsubscribe
from ratchet_tx.hub.context import currentHub, useHub
from ratchet_tx.hub.interfaces import IHub
from ratchet_tx.hub.local import LocalHub
from ratchet_tx.hub.redis import RedisHub
from ratchet_tx.hub.values import Delivery, HistoryLost, HistoryPolicy, Member, Offset

__all__ = [
    "Delivery",
    "HistoryLost",
    "HistoryPolicy",
    "IHub",
    "LocalHub",
    "Member",
    "Offset",
    "Publish",
    "RedisHub",
    "Subscribe",
    "Unsubscribe",
    "currentHub",
    "useHub",
]
